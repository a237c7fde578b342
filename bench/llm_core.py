"""Assistant core benchmark: bare llama-cpp-python vs our backend, and explanation seconds, in-process.

Both engines load the same GGUF (the packaged SmolLM2-135M Q4_1 unless --model), with the same context,
threads, sampling and prompts, and stream with create_chat_completion. Each repetition sends both the same
explanation prompt, built from a different machine's draft, so both reuse llama.cpp's cached system
prefix the same way. EOS is banned so that every run generates exactly --max-tokens tokens.

Time to first token includes prompt processing; tokens/s is the decode rate after the first token.
The last line of stdout is one JSON object.

    .venv/bin/python bench/llm_core.py [--threads 1] [--reps 4] [--max-tokens 48]
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import print_result

from assistant.llm import (
    LlamaBackend,
    LlamaConfig,
    ManualIndex,
    build_draft,
    default_model_path,
    explain,
    load_shipped_manuals,
    sensor_evidence,
)
from assistant.llm.prompts import explanation_messages

CATEGORIES = Path(__file__).resolve().parents[1] / "gan" / "synth" / "categories.json"
BENCH_CATEGORIES = ("motor", "pump", "compressor", "cnc", "hydraulic")


def bench_case(n: int) -> tuple[dict, list]:
    """A Warning-state prediction and its evidence: every sensor 70 % of the way to its failure level."""
    category = BENCH_CATEGORIES[n % len(BENCH_CATEGORIES)]
    sensors = json.loads(CATEGORIES.read_text(encoding="utf-8"))[category]["sensors"]
    readings = {sensor["name"]: sensor["base"] + 0.7 * sensor["range"] for sensor in sensors}
    facts = {
        "machine_id": f"{category}_bench_{n:03d}",
        "category": category,
        "state": 2,
        "confidence": 0.84,
        "rul_hours": 90.0,
        "rul_low_hours": 60.0,
        "rul_high_hours": 120.0,
    }
    return facts, sensor_evidence(readings, sensors)


def drafts(index: ManualIndex, count: int) -> list:
    return [build_draft(*bench_case(n), index=index) for n in range(count)]


def timed_stream(pieces) -> dict:
    started = time.perf_counter()
    first, count = None, 0
    for _ in pieces:
        count += 1
        if first is None:
            first = time.perf_counter() - started
    total = time.perf_counter() - started
    decode = (count - 1) / (total - first) if count > 1 and total > first else None
    return {"ttft_s": first, "tokens": count, "total_s": total, "tokens_per_s": decode}


def bare_pieces(llama, messages, settings: dict):
    for chunk in llama.create_chat_completion(messages=messages, stream=True, **settings):
        if chunk["choices"][0]["delta"].get("content"):
            yield chunk


def summary(runs: list[dict]) -> dict:
    def median(key: str) -> float:
        return round(statistics.median(run[key] for run in runs if run[key] is not None), 4)

    return {
        "ttft_s_median": median("ttft_s"),
        "tokens_per_s_median": median("tokens_per_s"),
        "total_s_median": median("total_s"),
        "tokens": [run["tokens"] for run in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="GGUF path (default: the packaged SmolLM2)")
    # One thread by default: on a shared 2-core machine a second thread mostly waits for a busy core.
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--ctx", type=int, default=2048)
    args = parser.parse_args()

    from llama_cpp import Llama

    model_path = Path(args.model) if args.model else default_model_path()
    started = time.perf_counter()
    manuals = load_shipped_manuals()
    index = ManualIndex.build(manuals)
    index_s = time.perf_counter() - started

    load_started = time.perf_counter()
    bare = Llama(
        model_path=str(model_path),
        n_ctx=args.ctx,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        seed=0,
        verbose=False,
    )
    bare_load_s = time.perf_counter() - load_started
    banned_eos = {bare.token_eos(): -1000.0}
    config = LlamaConfig(
        model_path=str(model_path),
        n_ctx=args.ctx,
        n_threads=args.threads,
        max_tokens=args.max_tokens,
        temperature=0.0,
        repeat_penalty=1.1,
        seed=0,
        logit_bias=tuple(banned_eos.items()),
    )
    ours = LlamaBackend(config)
    load_started = time.perf_counter()
    ours.load()
    ours_load_s = time.perf_counter() - load_started
    settings = {
        "max_tokens": config.max_tokens,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "repeat_penalty": config.repeat_penalty,
        "seed": config.seed,
        "logit_bias": banned_eos,
    }

    bare_runs, our_runs = [], []
    for rep, draft in enumerate(drafts(index, args.reps)):
        messages = explanation_messages(draft)
        engines = [
            ("bare", bare_runs, bare_pieces(bare, messages, settings)),
            ("ours", our_runs, ours.stream(messages)),
        ]
        # Alternate which engine goes first, so that neither always meets a warmer or busier machine.
        for name, runs, pieces in engines[:: 1 if rep % 2 == 0 else -1]:
            runs.append(timed_stream(pieces))
            print(f"rep {rep} {name}: {runs[-1]}", flush=True)
    bare.close()
    ours.close()

    explain_backend = LlamaBackend(
        LlamaConfig(model_path=str(model_path), n_ctx=args.ctx, n_threads=args.threads)
    )
    explain_backend.load()
    facts, evidence = bench_case(0)
    draft_started = time.perf_counter()
    build_draft(facts, evidence, index=index)
    draft_s = time.perf_counter() - draft_started
    result = explain(facts, evidence, index=index, backend=explain_backend)
    explain_backend.close()
    print(f"explanation ({result.source}, {result.seconds:.1f} s):\n{result.text}", flush=True)

    bare_summary, our_summary = summary(bare_runs), summary(our_runs)
    figures = {
        "model": model_path.name,
        "threads": args.threads,
        "reps": args.reps,
        "max_tokens": args.max_tokens,
        "prompt_chars_median": statistics.median(
            sum(len(m["content"]) for m in explanation_messages(d)) for d in drafts(index, args.reps)
        ),
        "load_s": {"bare": round(bare_load_s, 3), "ours": round(ours_load_s, 3)},
        "bare": bare_summary,
        "ours": our_summary,
        "tokens_per_s_ratio": round(
            our_summary["tokens_per_s_median"] / bare_summary["tokens_per_s_median"], 3
        ),
        "ttft_overhead_s": round(our_summary["ttft_s_median"] - bare_summary["ttft_s_median"], 4),
        "index_build_s": round(index_s, 4),
        "index_chunks": len(index),
        "draft_s": round(draft_s, 4),
        "explanation": {
            "seconds": round(result.seconds, 3),
            "source": result.source,
            "error": result.error,
            "first_token_s": round(result.stats.first_token_s, 3) if result.stats.first_token_s else None,
            "tokens": result.stats.tokens,
            "finish_reason": result.finish_reason,
        },
    }
    print_result(figures)


if __name__ == "__main__":
    main()
