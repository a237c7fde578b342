"""IMS bearing test 2 through the product's own ingestion and anomaly-detector code.

    .venv/bin/python bench/ims.py [--sustain 6]

The averaged file (4 bearings, one row per 10-minute snapshot, ending in bearing 1's outer-race failure)
is read with read_table and the proposed plan; as a run to failure, its RUL is derived from the
timestamps. AnomalyDetector learns from the healthy early life (RUL above half the run) and scores every
snapshot. The alarm is the first point where the score stays above the detector's threshold for
`sustain` consecutive snapshots, counted once the features have their full window (the first
`history_rows` snapshots of a run only have truncated windows, and this test also starts with a
run-in transient); the lead time runs from the alarm to the last snapshot (the failure).
The last line of stdout is one JSON object.
"""

import argparse

import numpy as np
from _common import print_result
from _ml import dataset

from predictions.ml.anomaly import AnomalyDetector
from predictions.ml.ingest import prepare_dataset, propose_plan
from predictions.ml.reading import read_table

HEALTHY_ABOVE = 0.5


def first_sustained(flags: np.ndarray, sustain: int) -> int | None:
    """Index where `sustain` consecutive True values begin, or None."""
    run = 0
    for index, flag in enumerate(flags):
        run = run + 1 if flag else 0
        if run == sustain:
            return index - sustain + 1
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sustain", type=int, default=6, help="consecutive snapshots above the threshold")
    args = parser.parse_args()
    frame = read_table(dataset("ims_bearing/Averaged_BearingTest_Dataset.csv")).frame
    plan = propose_plan(frame)["plan"]
    plan.update(target_kind="derived_rul", target_column="rul")
    prepared = prepare_dataset(frame, plan)
    data, layout = prepared.frame, prepared.layout
    print(
        f"ingested {len(data)} snapshots, sensors {list(layout.sensors)}, time column {layout.time_column!r}"
    )
    detector = AnomalyDetector(layout, healthy_above=HEALTHY_ABOVE)
    report = detector.fit(data)
    scores = detector.predict_frame(data).reindex(data.index)
    times = data[layout.time_column]
    end = times.iloc[-1]
    flags = scores["is_anomaly"].to_numpy()
    warm_up = detector.history_rows
    alarm = first_sustained(flags[warm_up:], args.sustain)
    alarm = None if alarm is None else alarm + warm_up
    healthy = data[layout.rul_column].to_numpy() > HEALTHY_ABOVE * data[layout.rul_column].max()
    normalized = scores["score"].to_numpy() / detector.threshold
    late = data[layout.rul_column].to_numpy() <= 0.1 * data[layout.rul_column].max()
    lead_hours = (end - times.iloc[alarm]).total_seconds() / 3600 if alarm is not None else 0.0
    print_result(
        {
            "bench": "ims_bearing_test2",
            "threshold": round(detector.threshold, 4),
            "threshold_rule": f"{detector.threshold_quantile:.0%} quantile of unseen healthy scores",
            "sustain_snapshots": args.sustain,
            "warm_up_snapshots": warm_up,
            "alarm_at": str(times.iloc[alarm]) if alarm is not None else None,
            "failure_at": str(end),
            "lead_time_hours": round(lead_hours, 1),
            "healthy_training_until": str(times[healthy].iloc[-1]),
            "false_alarm_rate_healthy_after_warm_up": round(
                float(flags[warm_up:][healthy[warm_up:]].mean()), 4
            ),
            "median_normalized_score": {
                "healthy_half": round(float(np.median(normalized[healthy])), 3),
                "last_10_percent": round(float(np.median(normalized[late])), 3),
            },
            "holdout_metrics": report["metrics"],
            "top_sensors": [item["feature"] for item in report["feature_importance"][:3]],
        }
    )


if __name__ == "__main__":
    main()
