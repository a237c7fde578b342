import numpy as np
import pytest

from gan.synth.profile import category_profile
from gan.synth.quality import evaluate_quality, verdict
from gan.synth.seed import generate_seed, split_holdout


@pytest.fixture(scope="module")
def pump():
    profile = category_profile("pump")
    fit, holdout = split_holdout(generate_seed(profile, 3_000, random_seed=1))
    return profile, fit, holdout


@pytest.mark.parametrize(
    ("score", "expected"),
    [(0.0, "fail"), (0.7499, "fail"), (0.75, "acceptable"), (0.8499, "acceptable"), (0.85, "good"),
     (0.8999, "good"), (0.90, "excellent"), (1.0, "excellent")],
)  # fmt: skip
def test_verdict_thresholds(score, expected):
    assert verdict(score) == expected


def test_a_second_seed_draw_scores_excellent(pump):
    profile, fit, holdout = pump
    other_fit, _ = split_holdout(generate_seed(profile, 3_000, random_seed=2))
    result = evaluate_quality(fit, other_fit, holdout=holdout, threads=1)
    assert result["quality"]["overall"] >= 0.9
    assert result["verdict"] == "excellent"
    assert result["max_corr_gap"] < 0.02
    assert result["tstr"]["ratio"] < 1.3
    assert [row["name"] for row in result["sensors"]] == profile.sensor_names
    for row in result["sensors"]:
        assert row["ks"] < 0.1
        assert row["wasserstein_std"] < 0.1


def test_noise_columns_fail(pump):
    profile, fit, holdout = pump
    rng = np.random.default_rng(0)
    noise = fit.copy()
    for column in ["rul", *profile.sensor_names]:
        noise[column] = rng.standard_normal(len(fit))
    result = evaluate_quality(fit, noise, holdout=holdout, threads=1)
    assert result["quality"]["overall"] < 0.75
    assert result["verdict"] == "fail"
    assert result["tstr"]["ratio"] > 1.5


def test_shuffled_columns_keep_shapes_but_lose_the_rul_link(pump):
    profile, fit, holdout = pump
    rng = np.random.default_rng(0)
    shuffled = fit.copy()
    for column in profile.sensor_names:
        shuffled[column] = rng.permutation(fit[column].to_numpy())
    result = evaluate_quality(fit, shuffled, holdout=holdout, threads=1)
    assert result["quality"]["column_shapes"] > 0.99
    assert result["quality"]["column_pair_trends"] < 0.8
    assert result["max_corr_gap"] > 0.9
    assert result["tstr"]["ratio"] > 2


def test_result_is_json_serialisable_and_tstr_is_optional(pump):
    import json

    _, fit, _ = pump
    result = evaluate_quality(fit, fit.sample(frac=1.0, random_state=0))
    assert result["tstr"] is None
    assert json.loads(json.dumps(result))["rows"] == {"seed": len(fit), "synthetic": len(fit)}


def test_missing_synthetic_columns_are_named(pump):
    _, fit, _ = pump
    with pytest.raises(ValueError, match="flow_rate_m3_h"):
        evaluate_quality(fit, fit.drop(columns=["flow_rate_m3_h"]))
