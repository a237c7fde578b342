"""NASA C-MAPSS FD001 through the product's own ingestion and RUL training code.

    .venv/bin/python bench/cmapss.py [--folds 5] [--splits 5]

1. train_FD001 and test_FD001 are read with read_table and the shipped C-MAPSS preset (RUL derived per
   unit, capped at 125 cycles for training — the usual piece-wise linear target).
2. Feature sets are compared by cross-validation grouped on TRAINING units; the test units play no
   part in the choice. The score is the RMSE on the held-out units' rows whose true RUL is below the
   cap (the degradation phase): rows on the capped plateau are predicted almost exactly by every
   candidate and only dilute the comparison. The RMSE on all rows is printed too.
3. The chosen set trains RulRegressor once per random calibration split: 20 % of the training units
   calibrate the split-conformal 90 % interval, then the model is refit on all 100 units (the product's
   default). Each scores the last cycle of every test unit against RUL_FD001 (capped at 125, and
   uncapped): RMSE, PHM08 score, interval coverage and width, averaged over the splits.
The last line of stdout is one JSON object.
"""

import argparse
import time

import numpy as np
from _common import print_result
from _ml import dataset, timed
from sklearn.model_selection import GroupKFold

from predictions.ml.features import FeatureSpec
from predictions.ml.ingest import prepare_dataset
from predictions.ml.metrics import phm08_score
from predictions.ml.presets import get_preset
from predictions.ml.reading import read_table
from predictions.ml.rul import RulRegressor

RUL_CAP = 125
INTERVAL = 0.9
GOALS = {"rmse_max": 11.0, "phm08_max": 200.0, "stretch_rmse_max": 10.0, "coverage_range": [0.87, 0.93]}
CANDIDATES = {
    "rolling": FeatureSpec(windows=(5, 10, 20, 30)),
    "rolling+ewm": FeatureSpec(windows=(5, 10, 20, 30), ewm_spans=(5, 10, 20)),
    "ewm+baseline+age": FeatureSpec(
        windows=(), include_current=False, ewm_spans=(10, 20, 40), baseline_rows=20, include_age=True
    ),
    "rolling+ewm+baseline+age": FeatureSpec(
        windows=(10, 30), ewm_spans=(10, 20, 40), baseline_rows=30, include_age=True
    ),
}


def load():
    preset = get_preset("cmapss_fd001")
    train = prepare_dataset(read_table(dataset("cmapss/train_FD001.txt")).frame, preset)
    # Test units stop before failure: no derived RUL there, and keep every sensor the model was trained on.
    test_plan = {**preset, "target_kind": None, "target_column": None}
    test = prepare_dataset(read_table(dataset("cmapss/test_FD001.txt")).frame, test_plan, drop_constant=False)
    truth = np.loadtxt(dataset("cmapss/RUL_FD001.txt"))
    return train, test.frame, truth


def make_model(train, spec, seed, **options):
    return RulRegressor(
        train.layout, spec, rul_cap=RUL_CAP, interval=INTERVAL, unit="cycles", random_state=seed, **options
    )


def cross_validate(train, folds: int) -> dict:
    """Grouped CV on training units; each fold model trains on 80 % of the fold (the rest calibrates)."""
    frame, units = train.frame, train.frame[train.layout.run_column].to_numpy()
    scores = {}
    for name, spec in CANDIDATES.items():
        below_cap, every_row, started = [], [], time.perf_counter()
        for fold, (fit_rows, held_rows) in enumerate(GroupKFold(folds).split(frame, groups=units)):
            model = make_model(train, spec, fold, refit=False, importance_repeats=0)
            model.fit(frame.iloc[fit_rows])
            held = frame.iloc[held_rows]
            error = model.predict_frame(held)["rul"].reindex(held.index) - np.minimum(held["rul"], RUL_CAP)
            below_cap.append(np.sqrt(np.mean(error[held["rul"] < RUL_CAP] ** 2)))
            every_row.append(np.sqrt(np.mean(error**2)))
        scores[name] = {
            "rmse_below_cap": round(float(np.mean(below_cap)), 3),
            "rmse_all_rows": round(float(np.mean(every_row)), 3),
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(f"cv {name}: {scores[name]}", flush=True)
    return scores


def last_cycles(model, test_frame):
    predictions = model.predict_frame(test_frame)
    ordered = test_frame.loc[predictions.index]
    last = ordered.groupby("unit", sort=False).tail(1).index
    return predictions.loc[last].set_index(ordered.loc[last, "unit"]).sort_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--splits", type=int, default=5)
    args = parser.parse_args()
    (train, test_frame, truth), load_seconds = timed(load)
    print(
        f"ingested {len(train.frame)} training rows, {train.summary['runs']} units; "
        f"dropped constant: {train.summary['dropped_constant']}",
        flush=True,
    )
    cv = cross_validate(train, args.folds)
    chosen = min(cv, key=lambda name: cv[name]["rmse_below_cap"])
    print(f"cv choice: {chosen}", flush=True)
    capped_truth = np.minimum(truth, RUL_CAP)
    splits = []
    for seed in range(args.splits):
        model = make_model(train, CANDIDATES[chosen], seed, importance_repeats=1 if seed == 0 else 0)
        _, fit_seconds = timed(model.fit, train.frame)
        result = last_cycles(model, test_frame)
        predicted = result["rul"].to_numpy()
        covered = (capped_truth >= result["lower"].to_numpy()) & (capped_truth <= result["upper"].to_numpy())
        splits.append(
            {
                "seed": seed,
                "rmse": float(np.sqrt(np.mean((predicted - capped_truth) ** 2))),
                "rmse_uncapped": float(np.sqrt(np.mean((predicted - truth) ** 2))),
                "phm08": phm08_score(capped_truth, predicted),
                "phm08_uncapped": phm08_score(truth, predicted),
                "coverage": float(covered.mean()),
                "mean_width": float((result["upper"] - result["lower"]).mean()),
                "fit_seconds": round(fit_seconds, 1),
            }
        )
        if seed == 0:
            importance = model.report["feature_importance"][:5]
        print(
            f"split {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in splits[-1].items() if k != "seed"),
            flush=True,
        )
    mean = {key: round(float(np.mean([s[key] for s in splits])), 3) for key in splits[0] if key != "seed"}
    print_result(
        {
            "bench": "cmapss_fd001",
            "cv": cv,
            "cv_choice": chosen,
            "features": CANDIDATES[chosen].to_dict(),
            "rmse": mean["rmse"],
            "phm08": mean["phm08"],
            "rmse_uncapped": mean["rmse_uncapped"],
            "phm08_uncapped": mean["phm08_uncapped"],
            "interval": {
                "level": INTERVAL,
                "coverage": mean["coverage"],
                "mean_width": mean["mean_width"],
                "per_split": [round(s["coverage"], 3) for s in splits],
            },
            "rmse_per_split": [round(s["rmse"], 3) for s in splits],
            "top_sensors": [item["feature"] for item in importance],
            "goals": GOALS,
            "meets": {
                "rmse": mean["rmse"] <= GOALS["rmse_max"],
                "phm08": mean["phm08"] <= GOALS["phm08_max"],
                "stretch_rmse": mean["rmse"] <= GOALS["stretch_rmse_max"],
                "coverage": GOALS["coverage_range"][0] <= mean["coverage"] <= GOALS["coverage_range"][1],
            },
            "seconds": {"ingest": round(load_seconds, 2), "fit_mean": mean["fit_seconds"]},
        }
    )


if __name__ == "__main__":
    main()
