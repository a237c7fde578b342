"""A tiny llama-architecture GGUF with random weights, written by the project itself.

Tests and benchmarks use it to exercise loading, streaming, stopping and error paths in milliseconds
without shipping or downloading weights. Its output is gibberish; it says nothing about answer quality
and, being float32, nothing about quantized kernels (test one real quantized model for that).
"""

from pathlib import Path

import gguf
import numpy as np

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

HIDDEN = 64
LAYERS = 2
HEADS = 4
FEED_FORWARD = 128
CONTEXT = 2048

# SentencePiece conventions: "▁" marks a word start; ids 0-2 are unk/bos/eos.
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
EOS_ID = SPECIAL_TOKENS.index("<|im_end|>")
BYTE_TOKENS = [f"<0x{value:02X}>" for value in range(256)]
_WORD_TEXT = (
    "the and pump motor bearing temperature vibration check inspect replace oil seal filter belt fan "
    "valve pressure flow current speed wear noise heat load shaft alignment lubricate clean tighten "
    "measure report sensor rising high low normal risk failure hours maintenance schedule manual "
    "cooling hydraulic robot conveyor compressor transformer turbine spindle winding safety"
)
WORDS = _WORD_TEXT.split()
LETTERS = list("abcdefghijklmnopqrstuvwxyz0123456789.,:;-()%[]")
PIECES = ["▁" + word for word in WORDS] + LETTERS + ["▁"]


def tiny_vocabulary() -> tuple[list[str], list[float], list[int]]:
    """Tokens, SentencePiece scores and token types (about 350 entries, byte fallback included)."""
    tokens = SPECIAL_TOKENS + BYTE_TOKENS + PIECES
    scores = [0.0] * (len(SPECIAL_TOKENS) + len(BYTE_TOKENS))
    # Longer pieces score higher, so the SentencePiece merge prefers whole words.
    scores += [float(len(piece)) for piece in PIECES]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * len(BYTE_TOKENS)
    types += [gguf.TokenType.NORMAL] * len(PIECES)
    return tokens, scores, [int(kind) for kind in types]


def tiny_model_logit_bias() -> dict[int, float]:
    """Bans the tokens that make a random model's stream stall or end early.

    A random byte token rarely forms valid UTF-8, and llama-cpp-python holds incomplete UTF-8 back,
    so a stream of them yields nothing; EOS and the other control tokens would end the answer at random.
    """
    banned = range(len(SPECIAL_TOKENS) + len(BYTE_TOKENS))
    return dict.fromkeys(banned, -1000.0)


def write_tiny_model(path: str | Path, *, seed: int = 0, chat_template: bool = True) -> Path:
    """Writes the tiny GGUF (≈ 0.5 MB, float32 random weights) to `path` and returns the path.

    Without `chat_template` the file has none, as many older GGUFs; the backend then falls back to ChatML.
    """
    path = Path(path)
    tokens, scores, types = tiny_vocabulary()
    rng = np.random.default_rng(seed)

    def weights(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("pdm-tiny-random")
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FEED_FORWARD)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(HIDDEN // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(EOS_ID)
    writer.add_add_bos_token(False)
    if chat_template:
        writer.add_chat_template(CHATML_TEMPLATE)

    # numpy shapes are GGUF's dimensions reversed: (rows = outputs, columns = inputs).
    vocab = len(tokens)
    writer.add_tensor("token_embd.weight", weights(vocab, HIDDEN))
    for layer in range(LAYERS):
        prefix = f"blk.{layer}"
        writer.add_tensor(f"{prefix}.attn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"{prefix}.{name}.weight", weights(HIDDEN, HIDDEN))
        writer.add_tensor(f"{prefix}.ffn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
        writer.add_tensor(f"{prefix}.ffn_gate.weight", weights(FEED_FORWARD, HIDDEN))
        writer.add_tensor(f"{prefix}.ffn_up.weight", weights(FEED_FORWARD, HIDDEN))
        writer.add_tensor(f"{prefix}.ffn_down.weight", weights(HIDDEN, FEED_FORWARD))
    writer.add_tensor("output_norm.weight", np.ones(HIDDEN, dtype=np.float32))
    writer.add_tensor("output.weight", weights(vocab, HIDDEN))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
