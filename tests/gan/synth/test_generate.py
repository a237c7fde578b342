from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from gan.synth import generate as generate_module
from gan.synth.generate import generate_splits, run_to_failure, validate_split_rows, write_parquet_atomic

START = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)


class ShuffledSampler:
    """Rows in random RUL order, as a synthesizer returns them."""

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def sample(self, rows):
        rul = self.rng.uniform(0, 800, rows)
        return pd.DataFrame({"rul": rul, "temp_C": 40 + 0.02 * (800 - rul)})


@pytest.mark.parametrize(
    ("rows", "parameter"),
    [
        ((999, 100, 100), "train_rows"),
        ((100_001, 100, 100), "train_rows"),
        ((1_000, 99, 100), "val_rows"),
        ((1_000, 100, 20_001), "test_rows"),
        ((1_000, 501, 100), "val_rows"),  # more than half of train
        ((10_000, 100, 5_001), "test_rows"),
    ],
)
def test_split_bounds_name_the_parameter(rows, parameter):
    with pytest.raises(ValueError, match=parameter):
        validate_split_rows(*rows)


def test_split_bounds_are_inclusive():
    validate_split_rows(1_000, 500, 100)
    validate_split_rows(100_000, 20_000, 20_000)


def test_run_to_failure_orders_by_rul_and_derives_time_from_it():
    frame = run_to_failure(ShuffledSampler().sample(500), machine_id="pump_ksb_etanorm_001", start=START)
    assert list(frame.columns) == ["timestamp", "machine_id", "rul", "temp_C"]
    assert (frame["machine_id"] == "pump_ksb_etanorm_001").all()
    assert frame["rul"].is_monotonic_decreasing
    assert frame["timestamp"].iloc[0] == pd.Timestamp(START)
    hours = (frame["timestamp"] - frame["timestamp"].iloc[0]).dt.total_seconds() / 3600
    assert np.allclose(hours, frame["rul"].iloc[0] - frame["rul"], atol=1e-6)


def test_generate_writes_three_parquet_splits(tmp_path):
    files = generate_splits(
        ShuffledSampler(), tmp_path, machine_id="pump_ksb_etanorm_001",
        train_rows=2_000, val_rows=300, test_rows=200, start=START,
    )  # fmt: skip
    assert list(files) == ["train", "val", "test"]
    for split, rows in (("train", 2_000), ("val", 300), ("test", 200)):
        written = files[split]
        frame = pd.read_parquet(written.path)
        assert (written.rows, len(frame)) == (rows, rows)
        assert written.bytes == (tmp_path / f"{split}.parquet").stat().st_size
        assert written.seconds > 0
        assert frame["rul"].is_monotonic_decreasing
        assert str(frame["timestamp"].dtype).startswith("datetime64")
        assert frame["timestamp"].iloc[0] == pd.Timestamp(START)
        assert written.to_dict()["path"] == str(tmp_path / f"{split}.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.parquet", "train.parquet", "val.parquet"]


@pytest.mark.slow  # a real TVAE fit
def test_generate_from_a_trained_synthesizer(trained, tmp_path):
    synthesizer, _, _ = trained
    files = generate_splits(
        synthesizer, tmp_path, machine_id="motor_abb_m3bp_002", train_rows=1_000, val_rows=100, test_rows=100
    )
    train = pd.read_parquet(files["train"].path)
    assert list(train.columns) == ["timestamp", "machine_id", "rul", *synthesizer.sensors]
    assert train["rul"].is_monotonic_decreasing


def test_invalid_counts_write_nothing(tmp_path):
    with pytest.raises(ValueError, match="val_rows"):
        generate_splits(ShuffledSampler(), tmp_path, machine_id="m_001", train_rows=1_000, val_rows=600)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "train.parquet"
    old = pd.DataFrame({"rul": [3.0, 2.0]})
    write_parquet_atomic(old, target)

    def write_half_then_fail(table, where, **kwargs):
        with open(where, "wb") as handle:
            handle.write(b"PAR1 partial")
        raise OSError("disk full")

    monkeypatch.setattr(generate_module.pq, "write_table", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_parquet_atomic(pd.DataFrame({"rul": [1.0]}), target)
    assert [p.name for p in tmp_path.iterdir()] == ["train.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(target), old)

    with pytest.raises(OSError, match="disk full"):
        write_parquet_atomic(pd.DataFrame({"rul": [1.0]}), tmp_path / "new.parquet")
    assert not (tmp_path / "new.parquet").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["train.parquet"]
