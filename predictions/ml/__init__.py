"""The prediction core: plain Python (no Django), arrays and frames in, JSON-able results out.

Training (a Celery task):
    model = create_predictor("rul", layout, features, max_rul=..., rul_cap=None)
    report = model.fit(frame, progress=lambda stage, current, total: ...)   # metrics, importance
    metadata = model.save(path)                                              # path + .json beside it
Serving (a web process):
    result = load_cached(path).predict(readings)          # ModelLoadError → offer to retrain
    results = predict_many([(path, readings), ...])       # a fleet refresh, batched per model
Real data:
    table = read_table(upload, filename=name, max_bytes=...)
    proposal = propose_plan(table.frame, sensors=machine_sensors)      # or preset=get_preset(...)
    prepared = prepare_dataset(table.frame, confirmed_plan)            # .frame, .layout, .derived
"""

from .base import Predictor
from .cache import ModelCache, default_cache, load_cached
from .cleaning import cleaning_report
from .errors import (
    IncompatibleModelError,
    IngestionError,
    MLError,
    ModelLoadError,
    ModelNotFittedError,
    NoUsableColumnError,
    PredictionInputError,
    TrainingDataError,
    UnreadableFileError,
    UploadTooLargeError,
)
from .features import DataLayout, DerivedFeature, FeatureSpec
from .health import DEFAULT_THRESHOLDS, HEALTH_STATES, health_state
from .ingest import IngestionPlan, PreparedData, detect_roles, prepare_dataset, propose_plan
from .mapping import propose_mapping
from .persistence import load_model, read_metadata
from .presets import PRESETS, get_preset
from .reading import DEFAULT_MAX_BYTES, Table, read_table
from .registry import KINDS, create_predictor
from .serving import predict_many

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_THRESHOLDS",
    "HEALTH_STATES",
    "KINDS",
    "PRESETS",
    "DataLayout",
    "DerivedFeature",
    "FeatureSpec",
    "IncompatibleModelError",
    "IngestionError",
    "IngestionPlan",
    "MLError",
    "ModelCache",
    "ModelLoadError",
    "ModelNotFittedError",
    "NoUsableColumnError",
    "PredictionInputError",
    "Predictor",
    "PreparedData",
    "Table",
    "TrainingDataError",
    "UnreadableFileError",
    "UploadTooLargeError",
    "cleaning_report",
    "create_predictor",
    "default_cache",
    "detect_roles",
    "get_preset",
    "health_state",
    "load_cached",
    "load_model",
    "predict_many",
    "prepare_dataset",
    "propose_mapping",
    "propose_plan",
    "read_metadata",
    "read_table",
]
