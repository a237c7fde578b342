"""Exceptions the Django side maps to answers: ingestion errors → 400, model load errors → "retrain"."""


class MLError(Exception):
    """Base of every error this package raises on purpose."""


class TrainingDataError(MLError, ValueError):
    """The frame cannot train the requested model (missing target, too few rows, one class only)."""


class PredictionInputError(MLError, ValueError):
    """Readings handed to predict are unusable (empty window, missing sensor column)."""


class ModelNotFittedError(MLError):
    """predict/evaluate/save called on a model that was never fitted."""


class ModelLoadError(MLError):
    """A saved model cannot be used any more: the caller should offer to retrain it."""

    def __init__(self, path, reason: str, metadata: dict | None = None):
        self.path = str(path)
        self.reason = reason
        self.metadata = metadata or {}
        super().__init__(f"{self.path}: {reason} — retrain the model")


class IncompatibleModelError(ModelLoadError):
    """The model file was written with other library versions (or another file format)."""


class IngestionError(MLError, ValueError):
    """An uploaded table cannot be used; `code` is stable for APIs, `column` names the culprit if any."""

    code = "ingestion_error"

    def __init__(self, message: str, *, column: str | None = None):
        self.column = column
        super().__init__(message)

    def to_dict(self) -> dict:
        return {"code": self.code, "message": str(self), "column": self.column}


class UploadTooLargeError(IngestionError):
    code = "too_large"


class UnreadableFileError(IngestionError):
    code = "unreadable"


class NoUsableColumnError(IngestionError):
    code = "no_usable_column"
