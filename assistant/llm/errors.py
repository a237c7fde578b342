"""Errors the assistant core raises; each carries a stable `code` the API layer can map to a response."""


class AssistantError(Exception):
    code = "assistant_error"


class InputError(AssistantError, ValueError):
    """A question, prediction or sensor reading the core cannot use (empty, too long, out of range)."""

    code = "invalid_input"


class ManualError(AssistantError, ValueError):
    """A manual that is not txt, md or pdf, too big, unreadable or empty."""

    code = "invalid_manual"


class LLMError(AssistantError):
    """The language model could not produce an answer; callers fall back to the draft."""

    code = "llm_error"


class ModelNotFoundError(LLMError):
    code = "model_not_found"


class InvalidModelError(LLMError):
    code = "invalid_model"


class ContextOverflowError(LLMError):
    code = "context_overflow"


class QueueFullError(LLMError):
    code = "queue_full"


class GenerationError(LLMError):
    code = "generation_failed"
