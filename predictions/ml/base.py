"""What every model kind shares: the fit flow, hold-out split, importance, serving and saving."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from threadpoolctl import ThreadpoolController

from .errors import ModelNotFittedError, PredictionInputError, TrainingDataError
from .features import DataLayout, FeatureBuilder, FeatureSpec
from .trees import SMALL_BATCH_ROWS

ProgressCallback = Callable[[str, int, int], None]
Window = pd.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]

# Hold-out blocks for a single time-ordered run: several blocks spread over the life, not only its end.
HOLDOUT_BLOCKS = 10
MIN_TRAINING_ROWS = 20

_controller: ThreadpoolController | None = None


@contextmanager
def limited_threads(threads: int) -> Iterator[None]:
    """Cap BLAS and OpenMP threads (scikit-learn's gradient boosting uses every core by default)."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    with _controller.limit(limits=threads):
        yield


def _silent(stage: str, current: int, total: int) -> None:
    """The progress callback used when the caller passes none."""


def as_frame(window: Window) -> pd.DataFrame:
    """Readings as a frame: a DataFrame, a list of reading dicts, or a dict of columns."""
    if isinstance(window, pd.DataFrame):
        return window
    try:
        return pd.DataFrame(window)
    except (TypeError, ValueError) as error:
        raise PredictionInputError(f"readings: cannot read them as a table ({error})") from error


def holdout_mask(
    ordered: pd.DataFrame,
    layout: DataLayout,
    fraction: float,
    random_state: int,
    *,
    time_ordered: bool,
    stratify: np.ndarray | None = None,
) -> np.ndarray:
    """True for hold-out rows: whole runs when there are 3 or more, else spread blocks, else random rows."""
    n = len(ordered)
    if fraction <= 0 or n < 2:
        return np.zeros(n, dtype=bool)
    rng = np.random.default_rng(random_state)
    run = layout.run_column
    if run and run in ordered.columns and ordered[run].nunique() >= 3:
        runs = ordered[run].unique()
        count = min(max(1, round(fraction * len(runs))), len(runs) - 1)
        return ordered[run].isin(rng.choice(runs, size=count, replace=False)).to_numpy()
    if time_ordered:
        block = np.minimum(np.arange(n) * HOLDOUT_BLOCKS // n, HOLDOUT_BLOCKS - 1)
        count = min(max(1, round(fraction * HOLDOUT_BLOCKS)), HOLDOUT_BLOCKS - 1)
        # Evenly spaced blocks with a random offset, so the hold-out spans early and late life.
        chosen = (rng.integers(HOLDOUT_BLOCKS) + np.arange(count) * HOLDOUT_BLOCKS // count) % HOLDOUT_BLOCKS
        return np.isin(block, chosen)
    usable_strata = stratify is not None and np.unique(stratify, return_counts=True)[1].min() >= 2
    _, held = train_test_split(
        np.arange(n),
        test_size=fraction,
        random_state=random_state,
        stratify=stratify if usable_strata else None,
    )
    mask = np.zeros(n, dtype=bool)
    mask[held] = True
    return mask


def grouped_permutation_importance(
    score: Callable[[np.ndarray, np.ndarray], float | None],
    X: np.ndarray,
    y: np.ndarray,
    groups: Mapping[str, list[int]],
    *,
    repeats: int,
    random_state: int,
    progress: ProgressCallback,
) -> list[dict[str, Any]]:
    """Score drop when all features of one source column are shuffled together (per sensor, not per column).

    Shuffling a sensor's current value, rolling statistics and lags jointly answers "how much does the
    model rely on this sensor", which is what a user can act on.
    """
    rng = np.random.default_rng(random_state)
    baseline = score(X, y)
    if baseline is None:
        return []
    results = []
    for done, (name, columns) in enumerate(groups.items(), start=1):
        drops = []
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[:, columns] = X[rng.permutation(len(X))][:, columns]
            drops.append(baseline - score(shuffled, y))
        results.append({"feature": name, "importance": float(np.mean(drops)), "std": float(np.std(drops))})
        progress("importance", done, len(groups))
    return sorted(results, key=lambda item: item["importance"], reverse=True)


class Predictor:
    """One model kind. Subclasses define the target, the estimator and the result of one prediction.

    fit(frame, progress=) → report dict; predict(window) → result dict; predict_batch(windows) → list;
    predict_frame(frame) → one result row per reading; evaluate(frame) → metrics dict; save(path).
    """

    kind: ClassVar[str]
    default_features: ClassVar[FeatureSpec] = FeatureSpec()
    # Whether hold-out splits must respect time order (rolling features make neighbours near-copies).
    time_ordered: ClassVar[bool] = True

    def __init__(
        self,
        layout: DataLayout,
        features: FeatureSpec | None = None,
        *,
        validation_fraction: float = 0.2,
        refit: bool = True,
        random_state: int = 0,
        threads: int = 1,
        importance_repeats: int = 3,
        importance_rows: int = 2000,
    ):
        if not 0 <= validation_fraction < 1:
            raise ValueError("validation_fraction must be in [0, 1)")
        self.layout = layout
        self.features = features or self.default_features
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.random_state = random_state
        self.threads = threads
        self.importance_repeats = importance_repeats
        self.importance_rows = importance_rows
        self.builder: FeatureBuilder | None = None
        self.report: dict[str, Any] | None = None

    # -- public API ---------------------------------------------------------------------------------

    @property
    def params(self) -> dict[str, Any]:
        """The kind-specific settings (saved in the metadata, shown on the models page)."""
        return {}

    @property
    def sensors(self) -> list[str]:
        return list(self.layout.sensors)

    @property
    def history_rows(self) -> int | None:
        """Readings a serving window needs (None: the whole current run, from its first reading)."""
        return self.features.history_rows()

    @property
    def feature_names(self) -> list[str]:
        return self._fitted_builder().feature_names

    def fit(self, frame: pd.DataFrame, *, progress: ProgressCallback | None = None) -> dict[str, Any]:
        """Train on a frame laid out as `self.layout`; returns (and keeps as .report) the training report.

        The progress callback gets (stage, current, total); an exception raised inside it (a cancel)
        stops training and propagates. Rows are split into training and hold-out (whole runs where
        possible); metrics and permutation importance come from the hold-out, then the model is refit on
        every row when `refit` is set.
        """
        progress = progress or _silent
        started = time.perf_counter()
        self.report = None
        with limited_threads(self.threads):
            progress("features", 0, 1)
            self._check_training_frame(frame)
            self.builder = FeatureBuilder(self.layout, self.features).fit(frame)
            ordered = self.builder.order(frame)
            X = self.builder.matrix(ordered)
            y = self._targets(ordered)
            usable = self._usable(y)
            if usable.sum() < MIN_TRAINING_ROWS:
                raise TrainingDataError(
                    f"{self.kind}: only {int(usable.sum())} usable rows; at least {MIN_TRAINING_ROWS} needed"
                )
            progress("features", 1, 1)
            held = usable & self._holdout(ordered, y)
            train = usable & ~held
            self._train(X[train], y[train], ordered[train], progress)
            metrics, importance = {}, []
            if held.any():
                self._after_training(X[held], y[held], ordered[held], progress)
                progress("evaluate", 0, 1)
                metrics = self._holdout_metrics(X[held], y[held], ordered[held])
                progress("evaluate", 1, 1)
                importance = self._importance(X[held], y[held], progress)
                if self.refit:
                    self._train(X[usable], y[usable], ordered[usable], _refit_progress(progress))
            self.report = {
                "kind": self.kind,
                "metrics": metrics,
                "feature_importance": importance,
                "rows": {
                    "total": len(frame),
                    "used": int(usable.sum()),
                    "training": int(train.sum()),
                    "holdout": int(held.sum()),
                },
                "runs": self._run_count(ordered),
                "refit_on_all_rows": bool(self.refit and held.any()),
                "n_features": X.shape[1],
                "fit_seconds": round(time.perf_counter() - started, 3),
            }
        progress("done", 1, 1)
        return self.report

    def predict(self, window: Window) -> dict[str, Any]:
        """One prediction from a machine's recent readings (oldest first or with a time column)."""
        return self.predict_batch([window])[0]

    def predict_batch(self, windows: Sequence[Window]) -> list[dict[str, Any]]:
        """One prediction per window (e.g. one window per machine of a category), vectorised."""
        return self.results_from_features(self.feature_rows(windows)) if windows else []

    @property
    def feature_signature(self) -> str:
        """Equal for models whose features are computed identically (they can share feature rows)."""
        return self._fitted_builder().signature

    def feature_rows(self, windows: Sequence[Window]) -> np.ndarray:
        """The serving feature row of each window (validated readings, newest reading last)."""
        builder = self._fitted_builder()
        frames = [self._checked_window(w) for w in windows]
        with _serving_threads(self.threads, len(frames)):
            return builder.last_rows(frames)

    def results_from_features(self, X: np.ndarray) -> list[dict[str, Any]]:
        """Results for feature rows made by feature_rows (of this model or one with the same signature)."""
        self._fitted_builder()
        with _serving_threads(self.threads, len(X)):
            outputs = self._outputs(X)
        return [self._result(outputs, i) for i in range(len(X))]

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A prediction for every reading (each from the readings before it), in run/time order."""
        builder = self._fitted_builder()
        ordered = builder.order(self._checked_window(frame))
        with limited_threads(self.threads):
            outputs = self._outputs(builder.matrix(ordered))
        return pd.DataFrame(self._columns(outputs), index=ordered.index)

    def evaluate(self, frame: pd.DataFrame) -> dict[str, Any]:
        """The kind's metrics on labelled data laid out like the training frame."""
        builder = self._fitted_builder()
        self._check_training_frame(frame)
        ordered = builder.order(frame)
        with limited_threads(self.threads):
            y = self._targets(ordered)
            usable = self._usable(y)
            if not usable.any():
                raise TrainingDataError(f"{self.kind}: no labelled rows to evaluate")
            return self._metrics(builder.matrix(ordered)[usable], y[usable], ordered[usable])

    def save(self, path) -> dict[str, Any]:
        """Write the model (joblib) and its metadata (JSON beside it); returns the metadata."""
        from .persistence import save_model

        return save_model(self, path)

    def describe(self) -> dict[str, Any]:
        """JSON-able description: kind, layout, features, params, history needed, training report."""
        return {
            "kind": self.kind,
            "layout": self.layout.to_dict(),
            "features": self.features.to_dict(),
            "feature_names": self.feature_names if self.report is not None else [],
            "params": self.params,
            "history_rows": self.history_rows,
            "report": self.report,
        }

    # -- hooks for the kinds ------------------------------------------------------------------------

    def _check_training_frame(self, frame: pd.DataFrame) -> None:
        """Raise TrainingDataError when the frame lacks what this kind needs."""

    def _targets(self, ordered: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def _usable(self, y: np.ndarray) -> np.ndarray:
        """Rows with a target (NaN marks rows that cannot be used, e.g. no full forecast horizon)."""
        values = np.asarray(y, dtype=float)
        finite = np.isfinite(values)
        return finite if values.ndim == 1 else finite.all(axis=1)

    def _stratify(self, y: np.ndarray) -> np.ndarray | None:
        return None

    def _train(self, X: np.ndarray, y: np.ndarray, ordered: pd.DataFrame, progress: ProgressCallback) -> None:
        raise NotImplementedError

    def _after_training(self, X, y, ordered, progress: ProgressCallback) -> None:
        """Runs once on the hold-out after the first fit (the RUL interval calibrates here)."""

    def _metrics(self, X: np.ndarray, y: np.ndarray, ordered: pd.DataFrame) -> dict[str, Any]:
        raise NotImplementedError

    def _holdout_metrics(self, X: np.ndarray, y: np.ndarray, ordered: pd.DataFrame) -> dict[str, Any]:
        """Metrics reported at training time; a kind that calibrates on the hold-out adjusts them."""
        return self._metrics(X, y, ordered)

    def _score(self, X: np.ndarray, y: np.ndarray) -> float | None:
        """Higher is better; None when the hold-out cannot score (no permutation importance then)."""
        raise NotImplementedError

    def _outputs(self, X: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _result(self, outputs: dict[str, np.ndarray], i: int) -> dict[str, Any]:
        raise NotImplementedError

    def _columns(self, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return outputs

    # -- internals ----------------------------------------------------------------------------------

    def _fitted_builder(self) -> FeatureBuilder:
        # A fit that failed or was cancelled half-way leaves no report: the model is not usable.
        if self.builder is None or self.report is None:
            raise ModelNotFittedError(f"{self.kind}: fit the model first")
        return self.builder

    def _checked_window(self, window: Window) -> pd.DataFrame:
        frame = as_frame(window)
        needed = [*self.layout.sensors, *self.layout.categorical]
        if missing := [c for c in needed if c not in frame.columns]:
            raise PredictionInputError(f"readings: missing sensor column(s) {missing}")
        if len(frame) == 0:
            raise PredictionInputError("readings: the window is empty")
        if bad := [c for c in self.layout.sensors if not pd.api.types.is_numeric_dtype(frame[c].dtype)]:
            raise PredictionInputError(f"readings: sensor column(s) {bad} hold non-numeric values")
        return frame

    def _holdout(self, ordered: pd.DataFrame, y: np.ndarray) -> np.ndarray:
        return holdout_mask(
            ordered,
            self.layout,
            self.validation_fraction,
            self.random_state,
            time_ordered=self.time_ordered and self._is_time_series(),
            stratify=self._stratify(y),
        )

    def _is_time_series(self) -> bool:
        spec = self.features
        has_history = bool(spec.windows or spec.ewm_spans or spec.lags or spec.needs_whole_run)
        return bool(self.layout.run_column or self.layout.time_column or has_history)

    def _importance(self, X: np.ndarray, y: np.ndarray, progress: ProgressCallback) -> list[dict[str, Any]]:
        if self.importance_repeats < 1:
            return []
        if len(X) > self.importance_rows:
            keep = np.random.default_rng(self.random_state).choice(
                len(X), self.importance_rows, replace=False
            )
            X, y = X[keep], y[keep]
        return grouped_permutation_importance(
            self._score,
            X,
            y,
            self.builder.feature_groups,
            repeats=self.importance_repeats,
            random_state=self.random_state,
            progress=progress,
        )

    def _run_count(self, ordered: pd.DataFrame) -> int:
        run = self.layout.run_column
        return int(ordered[run].nunique()) if run and run in ordered.columns else 1


def _serving_threads(threads: int, rows: int):
    """Small batches run on numpy alone (flat trees, small products): there is no thread pool to limit,
    and setting the limit would cost more than the prediction."""
    return limited_threads(threads) if rows > SMALL_BATCH_ROWS else nullcontext()


def _refit_progress(progress: ProgressCallback) -> ProgressCallback:
    """Report the final fit on every row as its own stage."""
    return lambda stage, current, total: progress("refit" if stage == "fit" else stage, current, total)
