"""Real-data ingestion: detect column roles, propose a plan the user confirms, prepare a training frame.

    table = read_table(upload_bytes, filename="data.csv")            # reading.py
    proposal = propose_plan(table.frame, sensors=machine_sensors)     # JSON for the mapping page
    plan = proposal["plan"]  (edited by the user, or a preset)        # plain data, storable as a preset
    prepared = prepare_dataset(table.frame, plan)                     # frame + DataLayout for training

Roles: a time column (timestamp or cycle number), a run column (many run-to-failure units in one
file), the target (an RUL column; RUL derived per run for run-to-failure data; or a binary failure
label), categorical inputs, and numeric sensors. Everything returned is JSON-able.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .cleaning import cleaning_report
from .errors import IngestionError, NoUsableColumnError
from .features import DataLayout, DerivedFeature
from .mapping import normalise, propose_mapping

TARGET_KINDS = ("rul", "derived_rul", "label")
TIME_WORDS = {
    "time",
    "timestamp",
    "date",
    "datetime",
    "cycle",
    "cycles",
    "step",
    "ts",
    "hour",
    "hours",
    "epoch",
}
RUN_WORDS = {
    "unit",
    "run",
    "engine",
    "machine",
    "asset",
    "trajectory",
    "episode",
    "experiment",
    "id",
    "number",
}
ID_WORDS = {"id", "udi", "uid", "uuid", "index", "idx", "serial", "product", "row", "record"}
RUL_PHRASES = ("rul", "remaining useful life", "remaining life", "ttf", "time to failure")
LABEL_WORDS = {
    "failure",
    "fail",
    "failed",
    "fault",
    "faulty",
    "broken",
    "breakdown",
    "label",
    "target",
    "defect",
}
TRUE_WORDS, FALSE_WORDS = {"1", "true", "yes", "y", "t"}, {"0", "false", "no", "n", "f"}
MAX_CATEGORY_LEVELS = 50
DATETIME_SAMPLE = 200
DEFAULT_RUL_COLUMN = "rul"


@dataclass
class IngestionPlan:
    """How to turn an uploaded table into training data (what the user confirms; a preset stores one).

    columns: names for a headerless table's columns, in order. sensors: source column → sensor name.
    target_kind: "rul" (target_column holds RUL), "derived_rul" (RUL = time left in each run, written to
    target_column), "label" (target_column holds a 0/1 failure label) or None. derived: extra channels
    such as {"name": "power", "op": "mul", "left": "torque", "right": "speed"} on sensor names.
    """

    sensors: dict[str, str]
    columns: list[str] | None = None
    time_column: str | None = None
    time_kind: str | None = None
    run_column: str | None = None
    target_kind: str | None = None
    target_column: str | None = None
    rul_unit: str | None = None
    categorical: list[str] = field(default_factory=list)
    derived: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self):
        if self.target_kind not in (None, *TARGET_KINDS):
            raise IngestionError(f"target_kind: must be one of {list(TARGET_KINDS)} or null")
        if self.target_kind and not self.target_column:
            raise IngestionError("target_column: needed with a target_kind", column="target_column")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IngestionPlan:
        """From a plan or a preset dict (a preset's name and description are ignored)."""
        known = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass
class PreparedData:
    """A clean training frame, the layout a predictor needs, derived channels and what was changed."""

    frame: pd.DataFrame
    layout: DataLayout
    derived: tuple[DerivedFeature, ...]
    summary: dict[str, Any]


# -- detection --------------------------------------------------------------------------------------


def _words(name: str) -> set[str]:
    return set(normalise(name).split())


def _truth(value) -> float | None:
    """1.0 / 0.0 for the spellings of true / false (1, "yes", True, 1.0 …), else None."""
    text = str(value).strip().lower().removesuffix(".0")
    return 1.0 if text in TRUE_WORDS else 0.0 if text in FALSE_WORDS else None


def _is_binary(column: pd.Series) -> bool:
    values = column.dropna().unique()[:3]
    return len(values) == 2 and {_truth(v) for v in values} == {0.0, 1.0}


def _looks_datetime(column: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(column):
        return True
    if column.dtype != object:
        return False
    sample = column.dropna().astype(str).head(DATETIME_SAMPLE)
    if sample.empty or sample.str.fullmatch(r"[-+]?\d+(\.\d+)?").all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.9)


def _column_kind(column: pd.Series) -> str:
    if column.dropna().empty:
        return "empty"
    if _looks_datetime(column):
        return "datetime"
    if _is_binary(column):
        return "binary"
    if pd.api.types.is_numeric_dtype(column):
        return "numeric"
    return "text"


def _is_integer_like(column: pd.Series) -> bool:
    values = column.dropna()
    return pd.api.types.is_numeric_dtype(values) and bool(
        np.all(np.mod(values.to_numpy(dtype=float), 1) == 0)
    )


def _contiguous_blocks(column: pd.Series) -> bool:
    """Each value appears in one unbroken stretch of rows (the rows of one run)."""
    values = column.to_numpy()
    changes = int(np.sum(values[1:] != values[:-1]))
    return changes == column.nunique() - 1


def _steps(column: pd.Series, groups: pd.Series | None) -> pd.Series:
    numbers = (
        pd.to_numeric(column, errors="coerce") if not pd.api.types.is_datetime64_any_dtype(column) else column
    )
    steps = numbers.groupby(groups.to_numpy()).diff() if groups is not None else numbers.diff()
    steps = steps.dropna()
    return steps.dt.total_seconds() if pd.api.types.is_timedelta64_dtype(steps) else steps


def _increasing_within(column: pd.Series, groups: pd.Series | None) -> bool:
    steps = _steps(column, groups)
    return bool(len(steps)) and bool((steps > 0).all())


def _restarts_with(column: pd.Series, groups: pd.Series) -> bool:
    """Monotonic inside every group but not across them: a cycle count or an RUL that restarts per run."""
    within, overall = _steps(column, groups), _steps(column, None)
    if not len(within):
        return False
    return any((sign * within > 0).all() and not (sign * overall > 0).all() for sign in (1, -1))


def _find_run_column(frame: pd.DataFrame, kinds: dict[str, str]) -> str | None:
    n = len(frame)
    candidates = []
    for position, name in enumerate(frame.columns):
        column = frame[name]
        usable_kind = kinds[name] == "text" or (
            kinds[name] in ("numeric", "binary") and _is_integer_like(column)
        )
        unique = column.nunique()
        if usable_kind and 2 <= unique <= max(2, n // 5) and _contiguous_blocks(column):
            others = [c for c in frame.columns if c != name and kinds[c] == "numeric"]
            restarts = any(_restarts_with(frame[c], column) for c in others)
            named = bool(_words(name) & RUN_WORDS)
            if named or restarts:
                candidates.append((not named, not restarts, position, name))
    return min(candidates)[3] if candidates else None


def _find_time_column(
    frame: pd.DataFrame, kinds: dict[str, str], run: str | None
) -> tuple[str | None, str | None]:
    groups = frame[run] if run else None
    datetimes = [c for c in frame.columns if kinds[c] == "datetime"]
    if datetimes:
        named = [c for c in datetimes if _words(c) & TIME_WORDS]
        return (named or datetimes)[0], "timestamp"
    for name in frame.columns:
        if name == run or kinds[name] != "numeric" or not _is_integer_like(frame[name]):
            continue
        words = _words(name)
        if words & ID_WORDS and not words & TIME_WORDS:
            continue
        unnamed = re.fullmatch(r"col_\d+", name) is not None
        if (words & TIME_WORDS or unnamed or run) and _increasing_within(frame[name], groups):
            return name, "cycle"
    return None, None


def _find_target(
    frame: pd.DataFrame, kinds: dict[str, str], taken: set[str], run: str | None
) -> tuple[str | None, str | None]:
    for name in frame.columns:
        text = normalise(name)
        if (
            name not in taken
            and kinds[name] == "numeric"
            and any(re.search(rf"\b{phrase}\b", text) for phrase in RUL_PHRASES)
        ):
            return "rul", name
    labels = [c for c in frame.columns if c not in taken and kinds[c] == "binary" and _words(c) & LABEL_WORDS]
    if labels:
        return "label", max(labels, key=lambda c: frame[c].map(_truth).sum())
    if run:
        return "derived_rul", DEFAULT_RUL_COLUMN
    return None, None


def _is_identifier(name: str, column: pd.Series, kind: str) -> bool:
    unique = column.nunique()
    if kind == "text":
        return unique > max(MAX_CATEGORY_LEVELS, len(column) // 2)
    return bool(_words(name) & ID_WORDS) and unique == column.notna().sum()


def detect_roles(frame: pd.DataFrame) -> dict[str, Any]:
    """Guess each column's role; JSON-able. Raises NoUsableColumnError when no column can be an input."""
    kinds = {name: _column_kind(frame[name]) for name in frame.columns}
    run = _find_run_column(frame, kinds)
    time_column, time_kind = _find_time_column(frame, kinds, run)
    taken = {c for c in (run, time_column) if c}
    target_kind, target_column = _find_target(frame, kinds, taken, run)
    if target_column in frame.columns:
        taken.add(target_column)
    sensors, categorical, ignored = [], [], []
    for name in frame.columns:
        if name in taken:
            continue
        column, kind = frame[name], kinds[name]
        if kind == "empty":
            ignored.append({"column": name, "reason": "empty: no values"})
        elif _is_identifier(name, column, kind):
            ignored.append({"column": name, "reason": "identifier: a different value on (almost) every row"})
        elif column.nunique() <= 1:
            ignored.append({"column": name, "reason": "constant: the same value on every row"})
        elif kind == "binary" and target_kind == "label":
            ignored.append(
                {
                    "column": name,
                    "reason": "binary flag beside the failure label (a failure mode?) would leak it; "
                    "add it back if it is a real input",
                }
            )
        elif kind in ("numeric", "binary"):
            sensors.append(name)
        elif kind == "text" and column.nunique() <= MAX_CATEGORY_LEVELS:
            categorical.append(name)
        else:
            ignored.append({"column": name, "reason": f"{kind}: not usable as a model input"})
    result = {
        "time_column": time_column,
        "time_kind": time_kind,
        "run_column": run,
        "runs": int(frame[run].nunique()) if run else (1 if time_column else None),
        "target_kind": target_kind,
        "target_column": target_column,
        "sensor_columns": sensors,
        "categorical_columns": categorical,
        "ignored_columns": ignored,
        "columns": [
            {
                "name": name,
                "kind": kinds[name],
                "missing": int(frame[name].isna().sum()),
                "unique": int(frame[name].nunique()),
            }
            for name in frame.columns
        ],
    }
    if not sensors and not categorical:
        reasons = "; ".join(f"{i['column']}: {i['reason']}" for i in ignored) or "no input columns"
        raise NoUsableColumnError(f"no column can be a model input ({reasons})")
    return result


# -- plans ------------------------------------------------------------------------------------------


def apply_column_names(frame: pd.DataFrame, columns: Sequence[str] | None) -> pd.DataFrame:
    """Name a headerless table's columns (a preset's `columns`); the counts must match."""
    if not columns:
        return frame
    if len(columns) != frame.shape[1]:
        raise IngestionError(f"the layout names {len(columns)} columns but the file has {frame.shape[1]}")
    named = frame.copy()
    named.columns = list(columns)
    return named


def _identifier(name: str) -> str:
    """A sensor name from a column name: lowercase letters, digits and underscores."""
    cleaned = re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_").lower()
    return cleaned if cleaned and not cleaned[0].isdigit() else f"c_{cleaned}"


def propose_plan(
    frame: pd.DataFrame,
    *,
    sensors: Sequence[str | Mapping[str, Any]] | None = None,
    preset: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A plan for the user to confirm, with what was detected and a cleaning report (all JSON-able).

    With a preset, the plan is the preset's. Otherwise roles are detected; with the machine's sensors
    (names or {"name", "description"} dicts) sensor columns are fuzzily mapped to them and columns
    left unmatched are listed, not used (the machine's readings will not have them); without, every
    sensor column keeps (an identifier form of) its own name.
    Returns {"plan", "detected", "mapping", "unmapped_columns", "cleaning"}.
    """
    if preset is not None:
        plan = IngestionPlan.from_dict(preset)
        named = apply_column_names(frame, plan.columns)
        detected = detect_roles(named)
        mapping = None
        unmapped = [c for c in detected["sensor_columns"] if c not in plan.sensors]
    else:
        named = frame
        detected = detect_roles(frame)
        inputs = detected["sensor_columns"]
        if sensors:
            mapping = propose_mapping(inputs, sensors)
            chosen = {column: sensor for column, sensor in mapping["mapping"].items() if sensor}
            unmapped = [c for c in inputs if c not in chosen]
        else:
            mapping = None
            chosen = {column: _identifier(column) for column in inputs}
            unmapped = []
        plan = IngestionPlan(
            sensors=chosen,
            time_column=detected["time_column"],
            time_kind=detected["time_kind"],
            run_column=detected["run_column"],
            target_kind=detected["target_kind"],
            target_column=detected["target_column"],
            rul_unit=_rul_unit(detected["time_kind"]),
            categorical=detected["categorical_columns"],
        )
    keys = [c for c in (plan.run_column, plan.time_column) if c]
    return {
        "plan": plan.to_dict(),
        "detected": detected,
        "mapping": mapping,
        "unmapped_columns": unmapped,
        "cleaning": cleaning_report(named, key_columns=keys),
    }


def _rul_unit(time_kind: str | None) -> str | None:
    if time_kind == "timestamp":
        return "hours"
    return "cycles" if time_kind == "cycle" else None


# -- preparing training data -------------------------------------------------------------------------


def prepare_dataset(
    frame: pd.DataFrame, plan: IngestionPlan | Mapping[str, Any], *, drop_constant: bool = True
) -> PreparedData:
    """Apply a confirmed plan: rename, type, sort, de-duplicate, derive RUL, drop unusable rows/columns.

    drop_constant removes sensors with a single value (nothing to learn from); turn it off to prepare
    data for a model trained earlier, which expects its sensors whatever their values.
    """
    plan = plan if isinstance(plan, IngestionPlan) else IngestionPlan.from_dict(plan)
    source = apply_column_names(frame, plan.columns)
    _check_plan_columns(source, plan)
    out = pd.DataFrame(index=source.index)
    summary: dict[str, Any] = {"rows_in": len(source), "non_numeric_values": {}}
    if plan.run_column:
        out[plan.run_column] = source[plan.run_column]
    if plan.time_column:
        out[plan.time_column] = _time_values(source[plan.time_column], plan.time_kind, plan.time_column)
    for column, sensor in plan.sensors.items():
        values = pd.to_numeric(source[column], errors="coerce")
        if bad := int(values.isna().sum() - source[column].isna().sum()):
            summary["non_numeric_values"][sensor] = bad
        out[sensor] = values.astype(float)
    for column in plan.categorical:
        out[column] = source[column].astype("string")
    if plan.target_kind == "rul":
        out[plan.target_column] = pd.to_numeric(source[plan.target_column], errors="coerce")
    elif plan.target_kind == "label":
        out[plan.target_column] = _labels(source[plan.target_column], plan.target_column)
    keys = [c for c in (plan.run_column, plan.time_column) if c]
    summary["missing_run_or_time_dropped"] = int(out[keys].isna().any(axis=1).sum()) if keys else 0
    out = out.dropna(subset=keys) if keys else out
    out, summary["duplicates_dropped"] = _ordered_unique(out, plan)
    if plan.target_kind == "derived_rul":
        out[plan.target_column] = _derived_rul(out, plan)
    if plan.target_kind:
        before = len(out)
        out = out[out[plan.target_column].notna()]
        summary["missing_target_dropped"] = before - len(out)
    constant = [s for s in plan.sensors.values() if drop_constant and out[s].nunique() <= 1]
    sensors = [s for s in plan.sensors.values() if s not in constant]
    derived = tuple(DerivedFeature(**d) for d in plan.derived)
    _check_derived(derived, sensors)
    if not sensors and not plan.categorical:
        raise NoUsableColumnError("no usable input column: every mapped sensor is constant or missing")
    summary.update(
        rows_out=len(out),
        runs=int(out[plan.run_column].nunique()) if plan.run_column else 1,
        dropped_constant=constant,
    )
    layout = DataLayout(
        sensors=sensors,
        categorical=plan.categorical,
        run_column=plan.run_column,
        time_column=plan.time_column,
        rul_column=plan.target_column if plan.target_kind in ("rul", "derived_rul") else None,
        label_column=plan.target_column if plan.target_kind == "label" else None,
    )
    return PreparedData(out.drop(columns=constant).reset_index(drop=True), layout, derived, summary)


def _check_plan_columns(frame: pd.DataFrame, plan: IngestionPlan) -> None:
    needed = [plan.run_column, plan.time_column, *plan.sensors, *plan.categorical]
    if plan.target_kind in ("rul", "label"):
        needed.append(plan.target_column)
    for column in needed:
        if column and column not in frame.columns:
            raise IngestionError(f"column {column!r} is not in the file", column=column)
    names = [*plan.sensors.values(), *plan.categorical, plan.run_column, plan.time_column, plan.target_column]
    names = [n for n in names if n]
    if len(names) != len(set(names)):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        raise IngestionError(f"names used twice in the plan: {duplicates}", column=duplicates[0])
    if not plan.sensors and not plan.categorical:
        raise NoUsableColumnError("the plan maps no column to a sensor")


def _time_values(column: pd.Series, kind: str | None, name: str) -> pd.Series:
    if kind == "timestamp":
        parsed = pd.to_datetime(column, errors="coerce", format="mixed")
    else:
        parsed = pd.to_numeric(column, errors="coerce")
    if parsed.isna().mean() > 0.5:
        raise IngestionError(
            f"time column {name!r}: most values are not {kind or 'time'} values", column=name
        )
    return parsed


def _labels(column: pd.Series, name: str) -> pd.Series:
    labels = column.map(lambda value: _truth(value) if pd.notna(value) else None).astype(float)
    unknown = column.notna() & labels.isna()
    if unknown.any():
        example = column[unknown].iloc[0]
        raise IngestionError(f"label column {name!r}: {example!r} is not a 0/1 (yes/no) value", column=name)
    return labels


def _ordered_unique(out: pd.DataFrame, plan: IngestionPlan) -> tuple[pd.DataFrame, int]:
    """Sorted by run then time; a reading recorded twice (same run and time) is kept once."""
    keys = [c for c in (plan.run_column, plan.time_column) if c]
    if keys:
        out = out.sort_values(keys, kind="stable")
    duplicated = out.duplicated(subset=keys) if plan.time_column else out.duplicated()
    return out[~duplicated], int(duplicated.sum())


def _derived_rul(out: pd.DataFrame, plan: IngestionPlan) -> pd.Series:
    """Time left until the last reading of each run (hours for timestamps, else the time column's unit)."""
    if not plan.time_column:
        raise IngestionError(
            "derived RUL needs a time column (timestamp or cycle number)", column="time_column"
        )
    groups = out[plan.run_column].to_numpy() if plan.run_column else np.zeros(len(out))
    times = out[plan.time_column]
    remaining = times.groupby(groups).transform("max") - times
    if pd.api.types.is_timedelta64_dtype(remaining):
        return remaining.dt.total_seconds() / 3600.0
    return remaining.astype(float)


def _check_derived(derived: Sequence[DerivedFeature], sensors: Sequence[str]) -> None:
    available = set(sensors)
    for feature in derived:
        for operand in (feature.left, feature.right):
            if operand not in available:
                raise IngestionError(
                    f"derived feature {feature.name!r}: unknown sensor {operand!r}", column=operand
                )
        available.add(feature.name)
