"""Synthetic train/val/test splits as parquet files (SPEC §3.3)."""

import os
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gan.synth._atomic import atomic_path

TRAIN_ROWS_RANGE = (1_000, 100_000)
EVAL_ROWS_RANGE = (100, 20_000)
DEFAULT_ROWS = {"train": 35_000, "val": 7_500, "test": 7_500}


class RowSampler(Protocol):
    def sample(self, rows: int) -> pd.DataFrame:
        """rows synthetic rows with a 'rul' column (hours) and one column per sensor."""
        ...


@dataclass(frozen=True)
class SplitFile:
    split: str
    path: str
    rows: int
    bytes: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_split_rows(train_rows: int, val_rows: int, test_rows: int) -> None:
    """Raise ValueError naming the parameter when a count is outside SPEC §3.3 bounds."""
    low, high = TRAIN_ROWS_RANGE
    if not low <= train_rows <= high:
        raise ValueError(f"train_rows: must be between {low} and {high}, got {train_rows}")
    low, high = EVAL_ROWS_RANGE
    for name, rows in (("val_rows", val_rows), ("test_rows", test_rows)):
        if not low <= rows <= high:
            raise ValueError(f"{name}: must be between {low} and {high}, got {rows}")
        if rows > train_rows / 2:
            raise ValueError(f"{name}: must be at most half of train_rows ({train_rows // 2}), got {rows}")


def run_to_failure(rows: pd.DataFrame, *, machine_id: str, start: datetime) -> pd.DataFrame:
    """Order rows as one chronological run: RUL descending, timestamp = start + (first RUL − rul) h."""
    ordered = rows.sort_values("rul", ascending=False, kind="stable").reset_index(drop=True)
    rul = ordered["rul"].to_numpy()
    hours_elapsed = rul[0] - rul if len(rul) else rul
    ordered.insert(0, "machine_id", machine_id)
    ordered.insert(0, "timestamp", pd.Timestamp(start) + pd.to_timedelta(hours_elapsed, unit="h"))
    return ordered


def write_parquet_atomic(frame: pd.DataFrame, path: str | os.PathLike) -> int:
    """Write frame to path so that readers see the old file or the whole new one; returns bytes."""
    with atomic_path(path) as temporary:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), temporary)
    return Path(path).stat().st_size


def generate_splits(
    synthesizer: RowSampler,
    out_dir: str | os.PathLike,
    *,
    machine_id: str,
    train_rows: int = DEFAULT_ROWS["train"],
    val_rows: int = DEFAULT_ROWS["val"],
    test_rows: int = DEFAULT_ROWS["test"],
    start: datetime | None = None,
) -> dict[str, SplitFile]:
    """Sample each split as its own run to failure and write out_dir/{train,val,test}.parquet.

    start: the first row's timestamp in every split (default: now, UTC, to the second).
    """
    validate_split_rows(train_rows, val_rows, test_rows)
    start = start or datetime.now(UTC).replace(microsecond=0)
    files = {}
    for split, rows in (("train", train_rows), ("val", val_rows), ("test", test_rows)):
        started = time.perf_counter()
        frame = run_to_failure(synthesizer.sample(rows), machine_id=machine_id, start=start)
        path = Path(out_dir) / f"{split}.parquet"
        size = write_parquet_atomic(frame, path)
        files[split] = SplitFile(split, str(path), rows, size, time.perf_counter() - started)
    return files
