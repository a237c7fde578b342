"""SDV's TVAESynthesizer with a per-epoch hook: progress callback, cancel check, early stopping.

SDV 2.0 has no epoch callback (SDV issue #2402). ctgan's TVAE.fit assigns ``self.loss_values`` once at
the end of every epoch, so a property setter on a TVAE subclass sees each epoch end without copying the
training loop; the SDV synthesizer subclass only swaps that model in where SDV builds it.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from ctgan import TVAE
from joblib import parallel_config
from sdv.single_table import TVAESynthesizer
from sdv.single_table.ctgan import _validate_no_category_dtype, detect_discrete_columns


@dataclass(frozen=True)
class EpochReport:
    """What the caller hears after every epoch: 1-based epoch, total, mean batch loss, epoch seconds."""

    epoch: int
    epochs: int
    loss: float
    seconds: float


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when the mean epoch loss has not improved on its best by min_delta for patience epochs."""

    patience: int = 20
    min_delta: float = 0.01

    def __post_init__(self):
        if self.patience < 1:
            raise ValueError(f"early_stopping.patience: must be >= 1, got {self.patience}")
        if self.min_delta < 0:
            raise ValueError(f"early_stopping.min_delta: must be >= 0, got {self.min_delta}")


class TrainingCancelled(Exception):
    """The cancel check answered True; raised at the end of the epoch that saw it."""

    def __init__(self, epoch: int):
        super().__init__(f"training cancelled after epoch {epoch}")
        self.epoch = epoch


class _StopEarly(Exception):
    pass


class EpochMonitor:
    """Turns ctgan's growing per-batch loss table into per-epoch reports and stop decisions."""

    def __init__(
        self,
        epochs: int,
        on_epoch: Callable[[EpochReport], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        early_stopping: EarlyStopping | None = None,
        on_training_start: Callable[[], None] | None = None,
    ):
        self.epochs = epochs
        self.on_epoch = on_epoch
        self.on_training_start = on_training_start
        self.should_cancel = should_cancel
        self.early_stopping = early_stopping
        self.losses: list[float] = []
        self.stopped_early = False
        self._batches_seen = 0
        self._best_loss = float("inf")
        self._epochs_since_best = 0
        self._epoch_started = time.perf_counter()

    def training_started(self) -> None:
        """The data is encoded and the first epoch begins (encoding can take longer than many epochs)."""
        if self.on_training_start is not None:
            self.on_training_start()
        if self.should_cancel is not None and self.should_cancel():
            raise TrainingCancelled(0)
        self._epoch_started = time.perf_counter()

    def epoch_ended(self, loss_table: pd.DataFrame) -> None:
        now = time.perf_counter()
        loss = float(loss_table["Loss"].iloc[self._batches_seen :].mean())
        self._batches_seen = len(loss_table)
        self.losses.append(loss)
        report = EpochReport(len(self.losses), self.epochs, loss, now - self._epoch_started)
        if self.on_epoch is not None:
            self.on_epoch(report)
        if self.should_cancel is not None and self.should_cancel():
            raise TrainingCancelled(report.epoch)
        if self._plateaued(loss):
            self.stopped_early = True
            raise _StopEarly
        self._epoch_started = time.perf_counter()

    def _plateaued(self, loss: float) -> bool:
        if self.early_stopping is None:
            return False
        if loss < self._best_loss - self.early_stopping.min_delta:
            self._best_loss = loss
            self._epochs_since_best = 0
            return False
        self._epochs_since_best += 1
        return self._epochs_since_best >= self.early_stopping.patience


class MonitoredTVAE(TVAE):
    """ctgan's TVAE whose end-of-epoch loss assignment calls the attached monitor."""

    _monitor: EpochMonitor | None = None

    @property
    def loss_values(self) -> pd.DataFrame:
        return self._loss_values

    @loss_values.setter
    def loss_values(self, table: pd.DataFrame) -> None:
        self._loss_values = table
        if self._monitor is None:
            return
        # fit() assigns an empty table once its data is encoded, right before the epoch loop.
        if table.empty:
            self._monitor.training_started()
        else:
            self._monitor.epoch_ended(table)


class MonitoredTVAESynthesizer(TVAESynthesizer):
    """TVAESynthesizer that trains a MonitoredTVAE; attach a monitor before fit, it is dropped after."""

    monitor: EpochMonitor | None = None

    def _fit(self, processed_data):
        # Mirrors TVAESynthesizer._fit, with our model class in place of ctgan's TVAE.
        _validate_no_category_dtype(processed_data)
        transformers = self._data_processor._hyper_transformer.field_transformers
        discrete_columns = detect_discrete_columns(self.metadata, processed_data, transformers)
        self._model = MonitoredTVAE(**self._model_kwargs)
        self._model._monitor = self.monitor
        try:
            # ctgan encodes columns with joblib Parallel(n_jobs=-1), which spawns a process pool (tens
            # of seconds on a busy host, and unwelcome inside worker processes); encoding is cheap.
            with parallel_config(backend="sequential"):
                self._model.fit(processed_data, discrete_columns=discrete_columns)
        except _StopEarly:
            pass  # the decoder and transformer are complete after any finished epoch
        finally:
            # Callbacks may close over Django objects; they must not be pickled with the model.
            del self._model._monitor
            self.monitor = None

    @property
    def device(self) -> str:
        """The torch device the model trained on: 'cuda', 'cpu' or 'mps'."""
        return self._model._device.type
