"""The synthetic-data services and selectors: files at server-made paths, holdout, versions, workflow."""

import re

import pytest
from django.core.files.storage import default_storage
from rest_framework.exceptions import ValidationError

from gan.models import Job, QualityReport, SeedDataset, SynthesizerModel, SyntheticDataset
from gan.selectors import (
    holdout_frame,
    machine_active_synthesizer,
    machine_latest_seed,
    machine_latest_synthetic,
    machine_workflow_status,
    seed_fit_frame,
    seed_frame,
    synthetic_frame,
)
from gan.services.batch import batch_start, retrain_epochs
from gan.services.jobs import job_execute
from gan.services.synthetic import (
    _synthesizer_store,
    seed_create,
    synthesizer_activate,
    train_start,
)
from machines.services import machine_delete
from pdm_site.api import Conflict


def test_seed_create_stores_parquet_at_a_server_made_path_with_the_last_cycle_held_out(motor, operator):
    seed = seed_create(machine=motor, rows=1_000, seed=5, user=operator)
    assert re.fullmatch(rf"machines/{motor.pk}/seed/[0-9a-f]{{32}}\.parquet", seed.file.name)
    assert default_storage.exists(seed.file.name)
    assert seed.bytes == default_storage.size(seed.file.name)

    frame = seed_frame(seed)
    sensors = [sensor.name for sensor in motor.sensors.all()]
    assert list(frame.columns) == ["timestamp", "cycle", "rul", *sensors]
    assert (len(frame), seed.rows, seed.cycles) == (1_000, 1_000, motor.category.cycles)
    holdout, fit = holdout_frame(seed), seed_fit_frame(seed)
    assert seed.holdout_cycle == frame["cycle"].max()
    assert set(holdout["cycle"]) == {seed.holdout_cycle}
    assert len(holdout) == seed.holdout_rows and len(fit) + len(holdout) == 1_000
    assert holdout["rul"].iloc[-1] == 0  # a whole run to failure
    assert seed.params["sensors"][0]["name"] == sensors[0]

    again = seed_create(machine=motor, rows=1_000, seed=5)
    assert seed_frame(again).equals(frame)  # the random seed makes it repeatable
    assert machine_latest_seed(motor) == again


@pytest.mark.parametrize("rows", [999, 100_001, "many", True])
def test_seed_create_names_the_bad_field(motor, rows):
    with pytest.raises(ValidationError) as error:
        seed_create(machine=motor, rows=rows)
    assert list(error.value.detail) == ["rows"]


def test_versions_are_never_overwritten_and_the_newest_fit_becomes_active(
    motor, operator, trained_synthesizer
):
    seed = seed_create(machine=motor, rows=1_000, seed=11)
    job = train_start(machine=motor, epochs=3, batch_size=100, user=operator)
    first = _synthesizer_store(job=job, seed=seed, synthesizer=trained_synthesizer)
    second = _synthesizer_store(job=job, seed=seed, synthesizer=trained_synthesizer)
    first.refresh_from_db()
    assert (first.version, second.version) == (1, 2)
    assert (first.is_active, second.is_active) == (False, True)
    assert first.file.name != second.file.name and default_storage.exists(first.file.name)
    assert second.losses == list(trained_synthesizer.summary.losses)
    assert (second.device, second.epochs_run, second.variant) == ("cpu", 3, "residual")

    synthesizer_activate(synthesizer=first)
    assert machine_active_synthesizer(motor) == first
    assert SynthesizerModel.objects.filter(machine=motor, is_active=True).count() == 1


def test_validated_workflow_records_everything_and_reports_each_step(validated):
    machine = validated
    dataset = machine_latest_synthetic(machine)
    assert set(dataset.splits) == {"train", "val", "test"}
    assert [dataset.split_rows(split) for split in ("train", "val", "test")] == [1_000, 100, 100]
    train = synthetic_frame(dataset, "train")
    assert list(train.columns[:3]) == ["timestamp", "machine_id", "rul"]
    assert set(train["machine_id"]) == {machine.machine_id}
    assert train["rul"].is_monotonic_decreasing and train["timestamp"].is_monotonic_increasing
    for split in dataset.splits.values():
        assert split["path"].startswith(f"machines/{machine.pk}/synthetic/")
        assert default_storage.size(split["path"]) == split["bytes"]

    report = QualityReport.objects.get(dataset=dataset)
    assert 0 < report.overall <= 1
    assert report.verdict in ("excellent", "good", "acceptable", "fail")
    assert {sensor["name"] for sensor in report.sensors} == {s.name for s in machine.sensors.all()}
    assert report.tstr["holdout_rows"] == machine_latest_seed(machine).holdout_rows
    model = machine_active_synthesizer(machine)
    assert (model.quality_score, model.verdict, model.flagged) == (
        report.overall,
        report.verdict,
        report.verdict == "fail",
    )

    status = machine_workflow_status(machine)
    assert [step.key for step in status.steps] == ["profile", "seed", "train", "generate", "validate"]
    assert [step.state for step in status.steps[:4]] == ["done"] * 4
    assert status.step("validate").state == ("failed" if report.verdict == "fail" else "done")
    assert status.step("train").job.kind == Job.Kind.TRAIN


def test_workflow_status_of_a_new_machine_points_at_seed_data(motor):
    status = machine_workflow_status(motor)
    assert [step.state for step in status.steps] == ["done", "todo", "todo", "todo", "todo"]
    assert status.next_step == "seed" and not status.complete


def test_synthetic_data_from_an_older_model_does_not_count_once_a_new_model_is_active(
    with_synthetic, trained_synthesizer, operator
):
    machine = with_synthetic
    job = train_start(machine=machine, epochs=3, batch_size=100, user=operator)
    seed = machine_latest_seed(machine)

    def store(job, reporter):
        return {"id": _synthesizer_store(job=job, seed=seed, synthesizer=trained_synthesizer).pk}

    assert job_execute(job_id=job.pk, work=store).status == Job.Status.SUCCESS
    status = machine_workflow_status(machine)
    assert status.step("train").detail.startswith("v2")
    assert status.next_step == "generate"
    assert "generate again" in status.step("generate").detail


def test_machine_deleted_removes_every_file_of_the_machine(
    validated, admin_user, django_capture_on_commit_callbacks
):
    machine = validated
    names = [SeedDataset.objects.get(machine=machine).file.name]
    names += [model.file.name for model in SynthesizerModel.objects.filter(machine=machine)]
    names += [split["path"] for split in SyntheticDataset.objects.get(machine=machine).splits.values()]
    assert all(default_storage.exists(name) for name in names) and len(names) == 5
    with django_capture_on_commit_callbacks(execute=True):
        machine_delete(machine=machine, user=admin_user)
    assert not any(default_storage.exists(name) for name in names)
    assert not default_storage.exists(f"machines/{machine.pk}")


def test_retrain_the_failing_starts_children_with_twice_the_epochs(with_model, make_motor, operator):
    failing = machine_active_synthesizer(with_model)
    SynthesizerModel.objects.filter(pk=failing.pk).update(verdict="fail", flagged=True, quality_score=0.6)
    make_motor("motor_gan_002")  # no model: not a candidate
    batch = batch_start(operation="retrain_failing", user=operator)
    children = list(batch.children.all())
    assert [child.machine for child in children] == [with_model]
    assert children[0].params["epochs"] == retrain_epochs(failing) == 6
    assert (children[0].params["batch_size"], children[0].params["variant"]) == (100, "residual")
    assert batch.total == 1 and batch.params["operation"] == "retrain_failing"


def test_batch_skips_machines_that_cannot_take_the_step_and_refuses_when_none_can(with_model, make_motor):
    bare = make_motor("motor_gan_002")
    batch = batch_start(
        operation="generate", machines=[with_model, bare], rows={"train": 1_000, "val": 100, "test": 100}
    )
    assert [child.machine for child in batch.children.all()] == [with_model]
    assert set(batch.params["skipped"]) == {"motor_gan_002"}
    assert "Train a synthesizer" in batch.params["skipped"]["motor_gan_002"]
    with pytest.raises(Conflict, match="None of the machines"):
        batch_start(operation="validate", machines=[bare])
    with pytest.raises(ValidationError) as error:
        batch_start(operation="generate", machines=[])
    assert list(error.value.detail) == ["machines"]
