"""Reads shared by the pages, the API and the other apps: jobs, datasets, models, frames, workflow status."""

from dataclasses import dataclass, field

import pandas as pd
import pyarrow.parquet as pq
from django.db.models import OuterRef, QuerySet, Subquery

from gan.models import Job, QualityReport, SeedDataset, SynthesizerModel, SyntheticDataset
from gan.services.files import open_file
from machines.models import Machine

ACTIVE = (Job.Status.PENDING, Job.Status.RUNNING)


def job_list() -> QuerySet[Job]:
    return Job.objects.select_related("machine", "requested_by")


def active_jobs(kind: str, *, limit: int) -> list[Job]:
    """Pending and running jobs of a kind, newest first, with their machines. Usually there are none: a
    key-only query first spares the full rows' (a third of the cost on pages that show every request)."""
    active = Job.objects.filter(kind=kind, status__in=ACTIVE)
    pks = list(active.values_list("pk", flat=True)[:limit])
    return list(active.filter(pk__in=pks).select_related("machine")) if pks else []


def machine_active_job(machine: Machine, kind: str) -> Job | None:
    return Job.objects.filter(machine=machine, kind=kind, status__in=ACTIVE).order_by("-created_at").first()


# --- Records -------------------------------------------------------------------------------------------


def seed_list() -> QuerySet[SeedDataset]:
    return SeedDataset.objects.select_related("machine")


def synthesizer_list() -> QuerySet[SynthesizerModel]:
    return SynthesizerModel.objects.select_related("machine", "seed_dataset")


def synthetic_list() -> QuerySet[SyntheticDataset]:
    return SyntheticDataset.objects.select_related("machine", "synthesizer")


def quality_report_list() -> QuerySet[QualityReport]:
    return QualityReport.objects.select_related("dataset__machine", "dataset__synthesizer")


def machine_latest_seed(machine: Machine) -> SeedDataset | None:
    return SeedDataset.objects.filter(machine=machine).order_by("-created_at", "-id").first()


def machine_active_synthesizer(machine: Machine) -> SynthesizerModel | None:
    return SynthesizerModel.objects.filter(machine=machine, is_active=True).first()


def machine_latest_synthetic(machine: Machine) -> SyntheticDataset | None:
    return (
        SyntheticDataset.objects.filter(machine=machine)
        .select_related("synthesizer")
        .order_by("-created_at", "-id")
        .first()
    )


def dataset_latest_report(dataset: SyntheticDataset) -> QualityReport | None:
    return dataset.quality_reports.order_by("-created_at", "-id").first()


def machine_synthesizers(machine: Machine) -> QuerySet[SynthesizerModel]:
    return SynthesizerModel.objects.filter(machine=machine).order_by("-version")


# --- Frames (pyarrow reads only the columns and rows asked for) ----------------------------------------


def _read(name: str, *, columns: list[str] | None = None, filters=None) -> pd.DataFrame:
    with open_file(name) as handle:
        return pq.read_table(handle, columns=columns, filters=filters).to_pandas()


def seed_frame(seed_dataset: SeedDataset, *, columns: list[str] | None = None) -> pd.DataFrame:
    """Every seed row (the held-out cycle included): timestamp, cycle, rul, one column per sensor."""
    return _read(seed_dataset.file.name, columns=columns)


def seed_fit_frame(seed_dataset: SeedDataset, *, columns: list[str] | None = None) -> pd.DataFrame:
    """The seed rows a synthesizer learns from: every cycle but the held-out one."""
    return _read(
        seed_dataset.file.name, columns=columns, filters=[("cycle", "!=", seed_dataset.holdout_cycle)]
    )


def holdout_frame(seed_dataset: SeedDataset, *, columns: list[str] | None = None) -> pd.DataFrame:
    """The held-out last cycle: one run to failure, for the TSTR score and for replaying telemetry."""
    return _read(
        seed_dataset.file.name, columns=columns, filters=[("cycle", "==", seed_dataset.holdout_cycle)]
    )


def synthetic_frame(
    dataset: SyntheticDataset, split: str, *, columns: list[str] | None = None
) -> pd.DataFrame:
    """One split (train, val or test): timestamp, machine_id, rul, one column per sensor."""
    return _read(synthetic_split_name(dataset, split), columns=columns)


def synthetic_split_name(dataset: SyntheticDataset, split: str) -> str:
    if split not in dataset.splits:
        raise KeyError(f"split: must be one of {', '.join(dataset.splits)}, got {split!r}")
    return dataset.splits[split]["path"]


# --- Workflow status (SPEC §3: profile → seed → model trained → synthetic → validated) -----------------


@dataclass
class WorkflowStep:
    key: str
    label: str
    state: str  # done | running | failed | todo
    detail: str = ""
    job: Job | None = None

    @property
    def done(self) -> bool:
        return self.state == "done"


@dataclass
class WorkflowStatus:
    machine: Machine
    steps: list[WorkflowStep]
    seed: SeedDataset | None = None
    synthesizer: SynthesizerModel | None = None
    synthetic: SyntheticDataset | None = None
    report: QualityReport | None = None
    synthesizers: list[SynthesizerModel] = field(default_factory=list)

    @property
    def next_step(self) -> str | None:
        """The first step not done, or None when the workflow is complete."""
        return next((step.key for step in self.steps if not step.done), None)

    @property
    def complete(self) -> bool:
        return self.next_step is None

    def step(self, key: str) -> WorkflowStep:
        return next(step for step in self.steps if step.key == key)


def _latest_jobs(machine: Machine) -> dict[str, Job]:
    kinds = (Job.Kind.SEED, Job.Kind.TRAIN, Job.Kind.GENERATE, Job.Kind.VALIDATE)
    return {
        kind: job
        for kind in kinds
        if (job := job_list().filter(machine=machine, kind=kind).order_by("-created_at", "-id").first())
    }


def _state(done: bool, job: Job | None, *, failed: bool = False) -> str:
    """A step's state: its latest job running wins, then a finished record, then a failed latest job."""
    if job is not None and job.status in ACTIVE:
        return "running"
    if failed:
        return "failed"
    if done:
        return "done"
    if job is not None and job.status == Job.Status.FAILURE:
        return "failed"
    return "todo"


def machine_workflow_status(machine: Machine) -> WorkflowStatus:
    """Each step's state with its latest job. Synthetic data counts only when the active model made it,
    and validation only for that data; a fail verdict leaves the last step failed (retrain suggested)."""
    jobs = _latest_jobs(machine)
    seed = machine_latest_seed(machine)
    model = machine_active_synthesizer(machine)
    synthetic = machine_latest_synthetic(machine)
    current = synthetic if synthetic and model and synthetic.synthesizer_id == model.pk else None
    report = dataset_latest_report(current) if current else None
    steps = [
        WorkflowStep("profile", "Profile", "done", f"{machine.category.name}"),
        WorkflowStep(
            "seed",
            "Seed data",
            _state(seed is not None, jobs.get("seed")),
            f"{seed.rows:,} rows, {seed.cycles} cycles" if seed else "",
            jobs.get("seed"),
        ),
        WorkflowStep(
            "train",
            "Model trained",
            _state(model is not None, jobs.get("train")),
            _model_detail(model),
            jobs.get("train"),
        ),
        WorkflowStep(
            "generate",
            "Synthetic data",
            _state(current is not None, jobs.get("generate")),
            _synthetic_detail(synthetic, model),
            jobs.get("generate"),
        ),
        WorkflowStep(
            "validate",
            "Validated",
            _state(
                report is not None, jobs.get("validate"), failed=bool(report and report.verdict == "fail")
            ),
            f"{report.overall:.3f} · {report.verdict}" if report else "",
            jobs.get("validate"),
        ),
    ]
    return WorkflowStatus(
        machine=machine,
        steps=steps,
        seed=seed,
        synthesizer=model,
        synthetic=current,
        report=report,
        synthesizers=list(machine_synthesizers(machine)),
    )


def _model_detail(model: SynthesizerModel | None) -> str:
    if model is None:
        return ""
    loss = f" · loss {model.final_loss:.3f}" if model.final_loss is not None else ""
    return f"v{model.version} · {model.variant} · {model.epochs_run} epochs{loss}"


def _synthetic_detail(synthetic: SyntheticDataset | None, model: SynthesizerModel | None) -> str:
    if synthetic is None:
        return ""
    if model is None or synthetic.synthesizer_id != model.pk:
        return f"made by v{synthetic.synthesizer.version}; generate again from the active model"
    return f"{synthetic.rows:,} rows"


@dataclass
class MachineSyntheticRow:
    """One machine's line on the batch page."""

    machine: Machine
    seed: SeedDataset | None
    synthesizer: SynthesizerModel | None
    synthetic: SyntheticDataset | None
    active_jobs: list[Job]


def _latest_id(model) -> Subquery:
    return Subquery(
        model.objects.filter(machine=OuterRef("pk")).order_by("-created_at", "-id").values("pk")[:1]
    )


def fleet_synthetic_overview() -> list[MachineSyntheticRow]:
    """Every machine with its latest seed, active model (with verdict), latest synthetic data and running
    jobs, in five queries whatever the fleet's size."""
    machines = list(
        Machine.objects.select_related("category")
        .annotate(latest_seed=_latest_id(SeedDataset), latest_synthetic=_latest_id(SyntheticDataset))
        .order_by("machine_id")
    )
    seeds = SeedDataset.objects.in_bulk([m.latest_seed for m in machines if m.latest_seed])
    synthetics = SyntheticDataset.objects.in_bulk(
        [m.latest_synthetic for m in machines if m.latest_synthetic]
    )
    models = {model.machine_id: model for model in SynthesizerModel.objects.filter(is_active=True)}
    active: dict[int, list[Job]] = {}
    for job in Job.objects.filter(machine__isnull=False, status__in=ACTIVE).order_by("created_at"):
        active.setdefault(job.machine_id, []).append(job)
    return [
        MachineSyntheticRow(
            machine=machine,
            seed=seeds.get(machine.latest_seed),
            synthesizer=models.get(machine.pk),
            synthetic=synthetics.get(machine.latest_synthetic),
            active_jobs=active.get(machine.pk, []),
        )
        for machine in machines
    ]
