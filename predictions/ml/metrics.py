"""Metric dictionaries (plain floats and lists, ready for JSON) for every model kind."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


def _float(value) -> float | None:
    value = float(value)
    return None if not np.isfinite(value) else round(value, 6)


def classification_metrics(y_true, y_pred, labels) -> dict:
    """Accuracy, macro-F1, recall per class and the confusion matrix (rows: truth, columns: predicted)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = list(labels)
    recall = skm.recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    present = [label for label in labels if (y_true == label).any()]
    return {
        "n": len(y_true),
        "accuracy": _float(skm.accuracy_score(y_true, y_pred)),
        "macro_f1": _float(skm.f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "recall_per_class": {str(label): _float(r) for label, r in zip(labels, recall, strict=True)},
        "support_per_class": {str(label): int((y_true == label).sum()) for label in labels},
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def regression_metrics(y_true, y_pred) -> dict:
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    error = y_pred - y_true
    return {
        "n": len(y_true),
        "mae": _float(np.mean(np.abs(error))),
        "rmse": _float(np.sqrt(np.mean(error**2))),
        "r2": _float(skm.r2_score(y_true, y_pred)) if len(y_true) > 1 else None,
        "bias": _float(np.mean(error)),
    }


def interval_metrics(y_true, lower, upper) -> dict:
    y_true = np.asarray(y_true, dtype=float)
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    return {
        "coverage": _float(np.mean((y_true >= lower) & (y_true <= upper))),
        "mean_width": _float(np.mean(upper - lower)),
    }


def phm08_score(y_true, y_pred) -> float:
    """PHM08 challenge score: late predictions (d > 0) cost more than early ones."""
    d = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)))


def binary_metrics(y_true, probability, threshold: float) -> dict:
    """F1, precision, recall at the threshold; PR-AUC (average precision) and ROC-AUC from probabilities."""
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, dtype=float)
    y_pred = (probability >= threshold).astype(int)
    both = len(np.unique(y_true)) == 2
    return {
        "n": len(y_true),
        "positives": int(y_true.sum()),
        "threshold": _float(threshold),
        "f1": _float(skm.f1_score(y_true, y_pred, zero_division=0)),
        "precision": _float(skm.precision_score(y_true, y_pred, zero_division=0)),
        "recall": _float(skm.recall_score(y_true, y_pred, zero_division=0)),
        "pr_auc": _float(skm.average_precision_score(y_true, probability)) if both else None,
        "roc_auc": _float(skm.roc_auc_score(y_true, probability)) if both else None,
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist(),
    }


def best_f1_threshold(y_true, probability) -> float:
    """The probability threshold with the highest F1 (midpoint between neighbouring scores)."""
    precision, recall, thresholds = skm.precision_recall_curve(np.asarray(y_true).astype(int), probability)
    if len(thresholds) == 0:
        return 0.5
    f1 = 2 * precision[:-1] * recall[:-1] / np.clip(precision[:-1] + recall[:-1], 1e-12, None)
    return float(thresholds[int(np.argmax(f1))])
