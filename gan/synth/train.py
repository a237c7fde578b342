"""Train a TVAE synthesizer on seed (or uploaded) rows; sample, save and load it."""

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import torch
from sdv.metadata import Metadata

from gan.synth._atomic import atomic_path
from gan.synth.bounds import (
    BATCH_SIZE_RANGE,
    DEFAULT_BATCH_SIZE,
    DEFAULT_EPOCHS,
    DEFAULT_VARIANT,
    EPOCHS_RANGE,
    VARIANTS,
)
from gan.synth.quality import sensor_columns
from gan.synth.residual import ResidualDecomposition
from gan.synth.tvae import (
    EarlyStopping,
    EpochMonitor,
    EpochReport,
    MonitoredTVAESynthesizer,
    TrainingCancelled,
)

TVAE_DEFAULTS = {
    "epochs": DEFAULT_EPOCHS,
    "batch_size": DEFAULT_BATCH_SIZE,
    "embedding_dim": 128,
    "compress_dims": (128, 128),
    "decompress_dims": (128, 128),
    "l2scale": 1e-5,
    "loss_factor": 2,
}
# Rows drawn once after training to learn the synthetic side of the residual calibration.
CALIBRATION_ROWS = 50_000
_TABLE = "machine"

__all__ = [
    "BATCH_SIZE_RANGE",
    "EPOCHS_RANGE",
    "VARIANTS",
    "EarlyStopping",
    "EpochReport",
    "Synthesizer",
    "TrainingCancelled",
    "TrainingSummary",
    "load_synthesizer",
    "train",
    "validate_training_params",
]


@dataclass(frozen=True)
class TrainingSummary:
    variant: str
    device: str
    epochs: int
    epochs_run: int
    stopped_early: bool
    batch_size: int
    losses: tuple[float, ...]
    seconds: float
    rows: int
    sensors: tuple[str, ...]

    @property
    def final_loss(self) -> float | None:
        return self.losses[-1] if self.losses else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "losses": list(self.losses), "sensors": list(self.sensors),
                "final_loss": self.final_loss}  # fmt: skip


class Synthesizer:
    """A trained synthesizer: sample() gives rows of [rul, sensors] like the frame it learned from."""

    def __init__(
        self,
        tvae: MonitoredTVAESynthesizer,
        summary: TrainingSummary,
        decomposition: ResidualDecomposition | None,
    ):
        self.tvae = tvae
        self.summary = summary
        self.decomposition = decomposition

    @property
    def variant(self) -> str:
        return self.summary.variant

    @property
    def sensors(self) -> list[str]:
        return list(self.summary.sensors)

    def sample(self, rows: int) -> pd.DataFrame:
        """rows synthetic rows: 'rul' (hours) then one column per sensor, in training order."""
        if rows < 1:
            raise ValueError(f"rows: must be >= 1, got {rows}")
        return self._restore(self.tvae.sample(rows)[_TABLE])

    def save(self, path: str | os.PathLike) -> int:
        """Pickle (cloudpickle, as SDV's own save) atomically to path; returns the file size in bytes."""
        with atomic_path(path) as temporary, open(temporary, "wb") as handle:
            cloudpickle.dump(self, handle)
        return Path(path).stat().st_size

    def _restore(self, raw: pd.DataFrame) -> pd.DataFrame:
        if self.decomposition is None:
            return raw[["rul", *self.sensors]].reset_index(drop=True)
        return self.decomposition.restore(raw)


def load_synthesizer(path: str | os.PathLike) -> Synthesizer:
    """Load what Synthesizer.save wrote (a GPU-trained model loads on CPU too: SDV pickles it on CPU)."""
    with open(path, "rb") as handle:
        synthesizer = cloudpickle.load(handle)
    if not isinstance(synthesizer, Synthesizer):
        raise TypeError(f"{path}: holds a {type(synthesizer).__name__}, not a Synthesizer")
    return synthesizer


def validate_training_params(epochs: int, batch_size: int) -> None:
    """Raise ValueError naming the parameter when it is outside SPEC §3.2 bounds."""
    for name, value, (low, high) in (
        ("epochs", epochs, EPOCHS_RANGE),
        ("batch_size", batch_size, BATCH_SIZE_RANGE),
    ):
        if not low <= value <= high:
            raise ValueError(f"{name}: must be between {low} and {high}, got {value}")


def train(
    frame: pd.DataFrame,
    *,
    sensors: list[str] | None = None,
    variant: str = DEFAULT_VARIANT,
    epochs: int = TVAE_DEFAULTS["epochs"],
    batch_size: int = TVAE_DEFAULTS["batch_size"],
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    on_stage: Callable[[str], None] | None = None,
    early_stopping: EarlyStopping | None = None,
    enable_gpu: bool = True,
    random_seed: int | None = None,
    torch_threads: int | None = None,
) -> Synthesizer:
    """Fit a TVAE synthesizer on frame's 'rul' and sensor columns.

    sensors: columns to learn besides 'rul' (default: all but timestamp, cycle, machine_id, rul).
    variant: 'residual' (default; TVAE learns residuals around each sensor's RUL trend) or 'plain'.
    on_epoch: called after every epoch with an EpochReport (1-based epoch, total, mean loss, seconds).
    should_cancel: asked before encoding, before the first epoch and after every epoch; True raises
        TrainingCancelled.
    on_stage: called with "preparing" (residual fit, SDV and TVAE encoding: seconds to minutes before
        the first epoch), "training" (the epoch loop starts) and, for the residual variant,
        "calibrating" (the reference sample after the last epoch).
    early_stopping: stop on a loss plateau (off when None).
    enable_gpu: use CUDA when present; the device used is in summary.device.
    random_seed: seeds torch's and NumPy's global generators for a repeatable fit.
    torch_threads: torch intra-op threads during the fit (restored afterwards); None leaves them.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant: must be one of {VARIANTS}, got {variant!r}")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size: must be >= 1, got {epochs} and {batch_size}")
    sensors = sensor_columns(frame) if sensors is None else list(sensors)
    _check_columns(frame, sensors)
    if should_cancel is not None and should_cancel():
        raise TrainingCancelled(0)

    started = time.perf_counter()
    report_stage = on_stage or (lambda stage: None)
    report_stage("preparing")
    previous_threads = torch.get_num_threads()
    if torch_threads:
        torch.set_num_threads(torch_threads)
    if random_seed is not None:
        torch.manual_seed(random_seed)
        np.random.seed(random_seed)  # SDV and RDT draw from the global generator
    try:
        rows = frame[["rul", *sensors]].astype(float).reset_index(drop=True)
        decomposition = ResidualDecomposition(rows, sensors) if variant == "residual" else None
        training_rows = rows if decomposition is None else decomposition.residuals(rows)
        tvae = MonitoredTVAESynthesizer(
            _metadata(training_rows.columns),
            **{**TVAE_DEFAULTS, "epochs": epochs, "batch_size": batch_size},
            enable_gpu=enable_gpu,
        )
        monitor = EpochMonitor(
            epochs,
            on_epoch,
            should_cancel,
            early_stopping,
            on_training_start=lambda: report_stage("training"),
        )
        tvae.monitor = monitor
        tvae.fit({_TABLE: training_rows})
        if decomposition is not None:
            report_stage("calibrating")
            decomposition.calibrate(tvae.sample(CALIBRATION_ROWS)[_TABLE])
    finally:
        torch.set_num_threads(previous_threads)

    summary = TrainingSummary(
        variant=variant,
        device=tvae.device,
        epochs=epochs,
        epochs_run=len(monitor.losses),
        stopped_early=monitor.stopped_early,
        batch_size=batch_size,
        losses=tuple(monitor.losses),
        seconds=time.perf_counter() - started,
        rows=len(rows),
        sensors=tuple(sensors),
    )
    return Synthesizer(tvae, summary, decomposition)


def _check_columns(frame: pd.DataFrame, sensors: list[str]) -> None:
    missing = [column for column in ["rul", *sensors] if column not in frame.columns]
    if missing:
        raise ValueError(f"frame: missing columns {missing}")
    if not sensors:
        raise ValueError("sensors: at least one sensor column is needed")
    not_numeric = [column for column in ["rul", *sensors] if not pd.api.types.is_numeric_dtype(frame[column])]
    if not_numeric:
        raise ValueError(f"frame: columns {not_numeric} are not numeric")


def _metadata(columns: pd.Index) -> Metadata:
    # Declared, not detected: detection could call a few-valued column categorical or an id.
    table = {"columns": {column: {"sdtype": "numerical"} for column in columns}}
    return Metadata.load_from_dict({"tables": {_TABLE: table}})
