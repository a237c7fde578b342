"""The language model of this process: one backend per configuration (the core's get_backend), from settings.

LLM_ENABLED=False gives no backend: explanations are then the grounded drafts and chat answers list the
manual passages. The model file is loaded by the first request, not at start-up.
"""

from django.conf import settings

from assistant.llm import LlamaBackend, LlamaConfig, get_backend


def llm_config() -> LlamaConfig | None:
    if not settings.LLM_ENABLED:
        return None
    return LlamaConfig(
        model_path=settings.LLM_MODEL_PATH or None,
        n_ctx=settings.LLM_CONTEXT,
        n_threads=settings.LLM_THREADS or None,
        n_gpu_layers=settings.LLM_GPU_LAYERS,
        max_tokens=settings.LLM_MAX_TOKENS,
        temperature=settings.LLM_TEMPERATURE,
        max_queue=settings.LLM_MAX_QUEUE,
        logit_bias=tuple(
            sorted((int(token), float(bias)) for token, bias in settings.LLM_LOGIT_BIAS.items())
        ),
    )


def llm_backend() -> LlamaBackend | None:
    """The process-wide backend for the current settings, or None when the model is switched off."""
    config = llm_config()
    return get_backend(config) if config is not None else None


def llm_status() -> dict:
    """What the pages say about the model: enabled, its name once loaded, requests in line."""
    backend = llm_backend()
    if backend is None:
        return {"enabled": False, "model": None, "queue": 0}
    return {"enabled": True, "model": backend.model_name, "queue": backend.queue_length}
