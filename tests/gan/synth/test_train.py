import threading

import numpy as np
import pytest

from gan.synth.train import (
    EarlyStopping,
    Synthesizer,
    TrainingCancelled,
    load_synthesizer,
    train,
    validate_training_params,
)

EPOCHS = 6  # the conftest fit


@pytest.mark.slow  # a real TVAE fit
def test_every_epoch_is_reported_with_loss_and_seconds(trained):
    synthesizer, reports, stages = trained
    assert [report.epoch for report in reports] == list(range(1, EPOCHS + 1))
    assert all(report.epochs == EPOCHS for report in reports)
    assert all(np.isfinite(report.loss) for report in reports)
    assert all(0 < report.seconds < 60 for report in reports)
    assert reports[-1].loss < reports[0].loss  # it learns
    assert stages == ["preparing", "training", "calibrating"]
    summary = synthesizer.summary
    assert summary.losses == tuple(report.loss for report in reports)
    assert summary.final_loss == reports[-1].loss
    assert (summary.epochs, summary.epochs_run, summary.stopped_early) == (EPOCHS, EPOCHS, False)
    assert summary.device == "cpu"  # this host has no GPU; enable_gpu stays on by default
    assert summary.variant == "residual"
    assert summary.to_dict()["losses"] == list(summary.losses)


@pytest.mark.slow  # a real TVAE fit
def test_cancel_mid_way_raises_after_the_epoch_that_saw_it(motor_split):
    fit_rows, _ = motor_split
    reports = []
    with pytest.raises(TrainingCancelled) as cancelled:
        train(
            fit_rows,
            variant="plain",
            epochs=50,
            batch_size=200,
            on_epoch=reports.append,
            should_cancel=lambda: len(reports) >= 2,
            torch_threads=1,
        )
    assert cancelled.value.epoch == 2
    assert [report.epoch for report in reports] == [1, 2]


@pytest.mark.slow  # a real TVAE fit
def test_cancel_before_start_trains_nothing(motor_split):
    fit_rows, _ = motor_split
    with pytest.raises(TrainingCancelled) as cancelled:
        train(fit_rows, epochs=5, should_cancel=lambda: True, on_epoch=pytest.fail)
    assert cancelled.value.epoch == 0


@pytest.mark.slow  # a real TVAE fit
def test_save_load_and_sample(trained, tmp_path):
    synthesizer, _, _ = trained
    path = tmp_path / "models" / "motor-v1.pkl"
    size = synthesizer.save(path)
    assert size == path.stat().st_size > 0
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind
    loaded = load_synthesizer(path)
    assert isinstance(loaded, Synthesizer)
    assert loaded.summary == synthesizer.summary
    rows = loaded.sample(300)
    assert list(rows.columns) == ["rul", *synthesizer.sensors]
    assert len(rows) == 300
    assert not rows.isna().any().any()


@pytest.mark.slow  # a real TVAE fit
def test_callbacks_are_not_pickled_with_the_model(motor_split, tmp_path):
    fit_rows, _ = motor_split
    lock = threading.Lock()  # unpicklable, like a database connection a Django callback holds

    def report(epoch_report):
        with lock:
            pass

    synthesizer = train(
        fit_rows,
        variant="plain",
        epochs=4,
        batch_size=200,
        on_epoch=report,
        should_cancel=lambda: lock.locked(),
        early_stopping=EarlyStopping(patience=1, min_delta=1e9),
        torch_threads=1,
    )
    # min_delta this large: epoch 1 sets the best, epoch 2 does not beat it by min_delta → stop.
    assert (synthesizer.summary.epochs_run, synthesizer.summary.stopped_early) == (2, True)
    synthesizer.save(tmp_path / "plain.pkl")
    rows = load_synthesizer(tmp_path / "plain.pkl").sample(200)
    assert list(rows.columns) == ["rul", *synthesizer.sensors]


def test_load_rejects_other_pickles(tmp_path):
    import pickle

    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps({"not": "a synthesizer"}))
    with pytest.raises(TypeError, match="Synthesizer"):
        load_synthesizer(path)


def test_bad_arguments_are_named(motor_split):
    fit_rows, _ = motor_split
    with pytest.raises(ValueError, match="variant"):
        train(fit_rows, variant="ctgan")
    with pytest.raises(ValueError, match="missing columns"):
        train(fit_rows, sensors=["no_such_sensor"])
    with pytest.raises(ValueError, match=r"early_stopping\.patience"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="epochs"):
        validate_training_params(49, 500)
    with pytest.raises(ValueError, match="batch_size"):
        validate_training_params(300, 2001)
    validate_training_params(50, 100)
    validate_training_params(1000, 2000)
