"""In-process serving speed of the prediction core: one prediction, and a fleet refresh.

    .venv/bin/python bench/predict_core.py [--rows 2000] [--repeats 200]

Seed-like degradation data is generated here with numpy for the 11 categories of the demo fleet
(32 machines, SPEC §1 counts), and the four time-series kinds are trained per category with their
default settings, then saved and loaded back through the model cache as the Django side does.
- single: predict() on one machine's recent readings, per kind (goal: median < 10 ms).
- fleet: 32 machines x 4 kinds (goal < 100 ms), two ways. Per-category models: one predict_many call
  for the 128 requests (machines of a category batched, features shared by models with the same
  feature signature). Per-machine models: nothing can be shared across machines, so each machine is
  its own predict_many call (its 4 models); the 32 calls are timed together.
- load: a model file loaded cold (joblib) and from the LRU cache.
The last line of stdout is one JSON object.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import print_result
from _ml import timed

from predictions.ml.cache import ModelCache
from predictions.ml.features import DataLayout
from predictions.ml.persistence import load_model
from predictions.ml.registry import create_predictor
from predictions.ml.serving import predict_many

KINDS = ("classification", "rul", "anomaly", "forecast")
# category: (machines in the demo fleet, sensors, max RUL in hours) — SPEC §1.
FLEET = {
    "motor": (7, 4, 1000),
    "pump": (3, 5, 800),
    "compressor": (3, 5, 600),
    "cnc": (8, 9, 500),
    "fan": (2, 4, 1200),
    "conveyor": (2, 5, 900),
    "robot": (2, 5, 1100),
    "hydraulic": (2, 5, 850),
    "transformer": (1, 5, 1500),
    "cooling_tower": (1, 5, 1100),
    "turbofan": (1, 8, 700),
}
RUNS = 4
WINDOW_ROWS = 30
GOALS = {"single_median_ms": 10.0, "fleet_ms": 100.0}


def seed_data(sensors: int, max_rul: float, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """Run-to-failure cycles: sensor = base + range * wear + noise, wear = 1 - rul / max_rul."""
    lengths = max_rul * rng.uniform(0.7, 1.0, RUNS)
    step = lengths.sum() / rows
    bases, ranges = rng.uniform(5, 100, sensors), rng.uniform(-0.5, 1.0, sensors) * 50
    noises = np.abs(ranges) * rng.uniform(0.01, 0.05, sensors) + 0.01
    parts = []
    for run, length in enumerate(lengths):
        rul = np.arange(length, 0, -step)
        wear = 1 - rul / max_rul
        values = bases + ranges * wear[:, None] + rng.normal(0, 1, (len(rul), sensors)) * noises
        part = pd.DataFrame(values, columns=[f"sensor_{i}" for i in range(sensors)])
        part.insert(0, "rul", rul)
        part.insert(0, "cycle", run)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(
        0, "timestamp", pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(len(frame)) * step, "h")
    )
    return frame


def train_fleet(rows: int, folder: Path) -> tuple[dict, dict, float]:
    """Per category: its seed data and the four model files; returns (paths, windows, seconds)."""
    rng = np.random.default_rng(0)
    paths, windows, started = {}, {}, time.perf_counter()
    for category, (machines, sensors, max_rul) in FLEET.items():
        data = seed_data(sensors, max_rul, rows, rng)
        layout = DataLayout(
            sensors=[c for c in data.columns if c.startswith("sensor_")],
            run_column="cycle",
            time_column="timestamp",
            rul_column="rul",
        )
        for kind in KINDS:
            model = create_predictor(kind, layout, max_rul=float(max_rul))
            model.fit(data)
            paths[(category, kind)] = folder / f"{category}_{kind}.joblib"
            model.save(paths[(category, kind)])
        last_run = data[data["cycle"] == RUNS - 1].drop(columns=["cycle", "rul"])
        for machine in range(machines):
            # Each machine shows a different moment of the held-out run.
            end = int(len(last_run) * (machine + 1) / (machines + 1)) + WINDOW_ROWS
            windows[f"{category}_{machine:03d}"] = (category, last_run.iloc[end - WINDOW_ROWS : end])
        print(f"trained {category} ({sensors} sensors)", flush=True)
    return paths, windows, time.perf_counter() - started


def milliseconds(function, repeats: int) -> dict:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(times), 3),
        "p95_ms": round(float(np.percentile(times, 95)), 3),
        "repeats": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="seed rows per category")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        paths, windows, train_seconds = train_fleet(args.rows, folder)
        cache = ModelCache(max_models=256)
        machine, (category, window) = next(iter(windows.items()))
        single = {
            kind: milliseconds(
                lambda kind=kind: cache.get(paths[(category, kind)]).predict(window), args.repeats
            )
            for kind in KINDS
        }
        category_requests = [(paths[(cat, kind)], win) for cat, win in windows.values() for kind in KINDS]
        machine_requests = [[(paths[(cat, kind)], win) for kind in KINDS] for cat, win in windows.values()]
        fleet_repeats = max(10, args.repeats // 4)
        fleet_category = milliseconds(lambda: predict_many(category_requests, cache=cache), fleet_repeats)
        fleet_machine = milliseconds(
            lambda: [predict_many(requests, cache=cache) for requests in machine_requests], fleet_repeats
        )
        answers = predict_many(category_requests, cache=cache)
        errors = [a for a in answers if "error" in a]
        cold = [timed(load_model, path)[1] * 1000 for path in list(paths.values())[:8]]
        cached = milliseconds(lambda: cache.get(paths[(category, "rul")]), args.repeats)
        sizes = {kind: paths[(category, kind)].stat().st_size for kind in KINDS}
    worst_single = max(s["median_ms"] for s in single.values())
    print_result(
        {
            "bench": "predict_core",
            "machines": len(windows),
            "kinds": list(KINDS),
            "window_rows": WINDOW_ROWS,
            "single": single,
            "single_median_ms_worst_kind": worst_single,
            "fleet_per_machine_models": fleet_machine,
            "fleet_per_category_models": fleet_category,
            "fleet_predictions": len(category_requests),
            "fleet_errors": len(errors),
            "load_cold_ms_median": round(statistics.median(cold), 2),
            "load_cached": cached,
            "model_bytes": sizes,
            "train_seconds_all_categories": round(train_seconds, 1),
            "goals": GOALS,
            "meets": {
                "single": worst_single < GOALS["single_median_ms"],
                "fleet": fleet_machine["median_ms"] < GOALS["fleet_ms"],
            },
            "example_machine": machine,
        }
    )


if __name__ == "__main__":
    main()
