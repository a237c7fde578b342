"""Batch operations over several machines: one batch Job whose children are the per-machine jobs.

`batch_start` creates the batch and its children at once (each through its step's own start service, so
the same checks apply; a machine that cannot take the step is skipped with the reason), and the children's
tasks are queued like any job. The batch's task follows them: progress = finished children / children.
While it waits it also runs children nobody has picked up yet: a worker with a single slot, taken by the
batch itself, would otherwise never get to them. A job runs only once whoever claims it first
(`job_execute` claims PENDING → RUNNING atomically), so the child's own task then does nothing.
"""

import time

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from rest_framework.exceptions import ValidationError

from gan.models import Job, SynthesizerModel
from gan.services.jobs import job_execute, job_start
from gan.services.progress import ProgressReporter
from gan.services.synthetic import (
    EPOCHS_MAX,
    generate_run,
    generate_start,
    seed_run,
    train_run,
    train_start,
    validate_run,
    validate_start,
)
from gan.synth.generate import DEFAULT_ROWS, validate_split_rows
from machines.models import Machine
from pdm_site.api import Conflict

OPERATIONS = {
    "validate": "Validate all",
    "retrain_failing": "Retrain the failing",
    "generate": "Generate for the selected machines",
}
WORK = {
    Job.Kind.SEED: seed_run,
    Job.Kind.TRAIN: train_run,
    Job.Kind.GENERATE: generate_run,
    Job.Kind.VALIDATE: validate_run,
}
POLL_SECONDS = 0.5


def retrain_epochs(model: SynthesizerModel) -> int:
    """More epochs for a model that failed validation: twice as many, at most the SPEC maximum."""
    return min(EPOCHS_MAX, model.epochs * 2)


def _candidates(operation: str, machines: list[Machine] | None):
    """The machines an operation concerns: the selection, or for validate/retrain every machine it fits."""
    queryset = Machine.objects.order_by("machine_id")
    if machines:
        queryset = queryset.filter(pk__in=[machine.pk for machine in machines])
    elif operation == "generate":
        raise ValidationError({"machines": ["select at least one machine to generate for"]})
    if operation == "validate" and not machines:
        queryset = queryset.filter(synthetic_datasets__isnull=False).distinct()
    if operation == "retrain_failing":
        queryset = queryset.filter(synthesizers__is_active=True, synthesizers__verdict="fail")
    return list(queryset)


def _child_start(operation: str, machine: Machine, *, user, parent: Job, rows: dict) -> Job:
    if operation == "validate":
        return validate_start(machine=machine, user=user, parent=parent)
    if operation == "generate":
        return generate_start(machine=machine, user=user, parent=parent, **rows)
    failing = machine.synthesizers.get(is_active=True)
    return train_start(
        machine=machine,
        epochs=retrain_epochs(failing),
        batch_size=failing.batch_size,
        variant=failing.variant,
        user=user,
        parent=parent,
    )


@transaction.atomic
def batch_start(
    *, operation: str, machines: list[Machine] | None = None, rows: dict | None = None, user=None
) -> Job:
    """Start `operation` for the machines (None: every machine it fits, except for generate).

    rows: train_rows / val_rows / test_rows for generate (SPEC defaults when left out).
    """
    if operation not in OPERATIONS:
        raise ValidationError({"operation": [f"must be one of {', '.join(OPERATIONS)}, got {operation!r}"]})
    rows = {**DEFAULT_ROWS, **(rows or {})}
    split_rows = {f"{split}_rows": rows[split] for split in ("train", "val", "test")}
    if operation == "generate":
        try:
            validate_split_rows(**split_rows)
        except ValueError as exc:
            field, _, message = str(exc).partition(": ")
            raise ValidationError({field: [message]}) from exc
    candidates = _candidates(operation, machines)
    if not candidates:
        raise Conflict(f"No machine needs “{OPERATIONS[operation]}” now.")
    parent = job_start(
        kind=Job.Kind.BATCH,
        task_name="gan.tasks.run_batch",
        user=user,
        params={"operation": operation, "machines": [m.machine_id for m in candidates]},
        message=f"Queued: {OPERATIONS[operation]} ({len(candidates)} machines)",
    )
    skipped = {}
    for machine in candidates:
        try:
            with transaction.atomic():  # a savepoint: one machine's conflict does not spoil the batch
                _child_start(operation, machine, user=user, parent=parent, rows=split_rows)
        except Conflict as exc:
            skipped[machine.machine_id] = str(exc.detail)
    started = len(candidates) - len(skipped)
    if not started:
        reasons = "; ".join(skipped.values())
        raise Conflict(f"None of the machines can take “{OPERATIONS[operation]}”: {reasons}")
    parent.params = {**parent.params, "skipped": skipped}
    parent.total = started
    parent.save(update_fields=["params", "total"])
    return parent


def _status_counts(batch: Job) -> dict[str, int]:
    rows = batch.children.values("status").annotate(count=Count("pk")).values_list("status", "count")
    return dict(rows)


def _unclaimed_child(batch: Job) -> Job | None:
    children = batch.children.filter(status=Job.Status.PENDING).order_by("pk")
    if settings.CELERY_GPU_QUEUE:
        children = children.exclude(kind=Job.Kind.TRAIN)  # those belong to the GPU hosts
    return children.first()


def _summary(counts: dict[str, int], skipped: dict) -> str:
    parts = [f"{counts.get(status, 0)} {status.lower()}" for status in Job.FINISHED if counts.get(status)]
    if skipped:
        parts.append(f"{len(skipped)} skipped")
    return ", ".join(parts) or "nothing ran"


def batch_run(job: Job, reporter: ProgressReporter) -> dict:
    total = job.children.count()
    skipped = job.params.get("skipped", {})
    reporter.update(total=total, stage="running", message=f"0/{total} machines done", force=True)
    finished = 0
    while True:
        counts = _status_counts(job)
        now_finished = sum(counts.get(status, 0) for status in Job.FINISHED)
        if now_finished != finished:
            finished = now_finished
            reporter.update(
                current=finished, message=f"{finished}/{total} machines done: {_summary(counts, {})}"
            )
        if finished >= total:
            break
        reporter.check_cancelled()
        child = _unclaimed_child(job)
        if child is not None:
            job_execute(job_id=child.pk, work=WORK[child.kind])
        else:
            time.sleep(POLL_SECONDS)
    reporter.update(message=_summary(counts, skipped), force=True)
    return {
        "children": total,
        "succeeded": counts.get(Job.Status.SUCCESS, 0),
        "failed": counts.get(Job.Status.FAILURE, 0),
        "cancelled": counts.get(Job.Status.CANCELLED, 0),
        "skipped": skipped,
    }
