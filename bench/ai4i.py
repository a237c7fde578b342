"""AI4I 2020 failure classifier through the product's own ingestion and training code.

    .venv/bin/python bench/ai4i.py [--repeats 3] [--folds 5]

The file is read with read_table and the shipped AI4I preset: inputs are Type and the five process
columns (UDI, Product ID and the failure-mode columns TWF..RNF are left out — the latter copy the label).
FailureClassifier is scored by stratified 5-fold cross-validation repeated 3 times, twice: on the raw
columns, and with the preset's physics features (temperature difference, power = torque x speed,
strain = torque x tool wear). Both balance the classes and tune the decision threshold on folds inside
each training split. The last line of stdout is one JSON object.
"""

import argparse
import time

import numpy as np
from _common import print_result
from _ml import dataset
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score
from sklearn.model_selection import RepeatedStratifiedKFold

from predictions.ml.failure import FailureClassifier
from predictions.ml.features import FeatureSpec
from predictions.ml.ingest import prepare_dataset
from predictions.ml.presets import get_preset
from predictions.ml.reading import read_table

GOAL_F1 = 0.89


def cross_validate(prepared, spec: FeatureSpec, repeats: int, folds: int) -> dict:
    frame, label = prepared.frame, prepared.frame[prepared.layout.label_column].to_numpy().astype(int)
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=0)
    scores = {"f1": [], "precision": [], "recall": [], "pr_auc": [], "threshold": []}
    started = time.perf_counter()
    for number, (fit_rows, test_rows) in enumerate(splitter.split(frame, label)):
        model = FailureClassifier(
            prepared.layout, spec, validation_fraction=0, importance_repeats=0, random_state=number
        )
        model.fit(frame.iloc[fit_rows])
        result = model.predict_frame(frame.iloc[test_rows]).reindex(frame.index[test_rows])
        truth, predicted = label[test_rows], result["failure"].to_numpy().astype(int)
        scores["f1"].append(f1_score(truth, predicted))
        scores["precision"].append(precision_score(truth, predicted, zero_division=0))
        scores["recall"].append(recall_score(truth, predicted))
        scores["pr_auc"].append(average_precision_score(truth, result["probability"].to_numpy()))
        scores["threshold"].append(model.threshold)
    summary = {key: round(float(np.mean(values)), 4) for key, values in scores.items()}
    summary["f1_std"] = round(float(np.std(scores["f1"])), 4)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    prepared = prepare_dataset(read_table(dataset("ai4i2020/ai4i2020.csv")).frame, get_preset("ai4i_2020"))
    print(
        f"inputs: {list(prepared.layout.sensors)} + {list(prepared.layout.categorical)}; "
        f"{int(prepared.frame[prepared.layout.label_column].sum())} failures in {len(prepared.frame)} rows"
    )
    raw = cross_validate(prepared, FeatureSpec(windows=()), args.repeats, args.folds)
    print(f"raw columns: {raw}", flush=True)
    physics = cross_validate(
        prepared, FeatureSpec(windows=(), derived=prepared.derived), args.repeats, args.folds
    )
    print(f"with physics features: {physics}", flush=True)
    print_result(
        {
            "bench": "ai4i2020",
            "protocol": f"stratified {args.folds}-fold CV x {args.repeats}, threshold tuned in training",
            "f1": physics["f1"],
            "precision": physics["precision"],
            "recall": physics["recall"],
            "pr_auc": physics["pr_auc"],
            "f1_std": physics["f1_std"],
            "raw_columns": raw,
            "physics_features": physics,
            "goal_f1": GOAL_F1,
            "meets": {"f1": physics["f1"] >= GOAL_F1},
        }
    )


if __name__ == "__main__":
    main()
