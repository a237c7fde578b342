"""Reads shared by the pages, the API and the other apps: the fleet's health, a machine's history, models."""

from dataclasses import dataclass

from django.db.models import F, Max, Q, QuerySet

from gan.models import Job
from machines.models import HealthState, Machine
from predictions.models import (
    FleetSnapshot,
    MachineHealth,
    MappingPreset,
    ModelVersion,
    Prediction,
    RealDataset,
    SensorReading,
)

# The version topic (pdm_site.versions) of the machines, their health and the fleet snapshots.
FLEET = "fleet"
STATE_KEYS = ("0", "1", "2", "3", "unknown")
UNKNOWN = "unknown"
# How the fleet grid sorts: worst first, soonest failure first, latest reading first, by name.
SORTS = {
    "state": [F("health__state").desc(nulls_last=True), "machine_id"],
    "rul": [F("health__rul").asc(nulls_last=True), "machine_id"],
    "updated": [F("health__last_reading_at").desc(nulls_last=True), "machine_id"],
    "name": ["machine_id"],
}


def fleet_counts() -> dict[str, int]:
    """Active machines per health state ("0" Healthy … "3" Critical, "unknown": no prediction yet)."""
    counts = dict.fromkeys(STATE_KEYS, 0)
    for state in Machine.objects.filter(is_active=True).values_list("health__state", flat=True):
        counts[UNKNOWN if state is None else str(state)] += 1
    return counts


@dataclass
class StateCount:
    key: str
    label: str
    count: int
    change: int | None


def fleet_overview() -> dict:
    """The overview cards: counts per state with the change since the latest snapshot."""
    counts = fleet_counts()
    snapshot = FleetSnapshot.objects.order_by("-created_at", "-id").first()
    labels = {str(state.value): state.label for state in HealthState} | {UNKNOWN: "No prediction"}
    cards = [
        StateCount(
            key=key,
            label=labels[key],
            count=counts[key],
            change=counts[key] - snapshot.counts.get(key, 0) if snapshot else None,
        )
        for key in STATE_KEYS
    ]
    return {
        "cards": cards,
        "total": sum(counts.values()),
        "counts": counts,
        "snapshot_at": snapshot.created_at if snapshot else None,
    }


def fleet_machines(*, search: str = "", state: str = "", category: str = "", sort: str = "state"):
    """Active machines with their health, filtered and sorted for the dashboard grid."""
    machines = Machine.objects.filter(is_active=True).select_related("category", "health")
    if search:
        machines = machines.filter(
            Q(machine_id__icontains=search)
            | Q(manufacturer__icontains=search)
            | Q(model__icontains=search)
            | Q(location__icontains=search)
        )
    if state == UNKNOWN:
        machines = machines.filter(Q(health__isnull=True) | Q(health__state__isnull=True))
    elif state in STATE_KEYS:
        machines = machines.filter(health__state=int(state))
    if category:
        machines = machines.filter(category__name=category)
    return machines.order_by(*SORTS.get(sort, SORTS["state"]))


def machine_card_versions(machines: QuerySet[Machine]) -> list[tuple]:
    """Per machine, in the queryset's order: its pk and what a dashboard card changes with (the machine's
    and its health row's update times, the state); no model instances, for pages whose cards are cached."""
    fields = ("pk", "updated_at", "health__predicted_at", "health__last_reading_at", "health__state")
    return list(machines.values_list(*fields))


def card_machines(pks) -> dict[int, Machine]:
    """The machines a dashboard card renders, with what it shows."""
    return {m.pk: m for m in Machine.objects.filter(pk__in=pks).select_related("category", "health")}


def machine_health(machine: Machine) -> MachineHealth | None:
    return MachineHealth.objects.filter(machine=machine).first()


# Chart series are rows (named tuples), not model instances: a chart reads hundreds of them per page.


def machine_readings(machine: Machine, *, limit: int) -> list[tuple]:
    """The machine's latest readings (.timestamp, .values), oldest first."""
    recent = SensorReading.objects.filter(machine=machine).order_by("-timestamp")
    return list(recent.values_list("timestamp", "values", named=True)[:limit])[::-1]


def machine_prediction_series(machine: Machine, kind: str, *, limit: int) -> list[tuple]:
    """The machine's latest predictions of one kind (.created_at, .result, .confidence), oldest first."""
    recent = Prediction.objects.filter(machine=machine, kind=kind).order_by("-created_at", "-id")
    return list(recent.values_list("created_at", "result", "confidence", named=True)[:limit])[::-1]


# What listings show of a prediction's machine and model version: the machine's id, the version's number
# and its scope label. The related rows' other columns (profiles, documents, timestamps) stay in the
# database: decoding them for every listed prediction was most of a listing's cost.
LISTED_RELATED = (
    "machine__machine_id",
    "model_version__version",
    "model_version__machine__machine_id",
    "model_version__category__name",
)


def prediction_list() -> QuerySet[Prediction]:
    own = [field.name for field in Prediction._meta.concrete_fields]
    return Prediction.objects.select_related(
        "machine", "model_version__machine", "model_version__category"
    ).only(*own, *LISTED_RELATED)


def machine_predictions(machine: Machine) -> QuerySet[Prediction]:
    """One machine's predictions, newest first, with their model version's number: what the machine's own
    pages show of them (the machine is known; compiling joins nobody reads was a third of such a query)."""
    own = [field.name for field in Prediction._meta.concrete_fields]
    return (
        Prediction.objects.filter(machine=machine)
        .select_related("model_version")
        .only(*own, "model_version__version")
        .order_by("-created_at", "-id")
    )


def machine_latest_predictions(machine: Machine) -> dict[str, Prediction]:
    """The newest prediction of each kind, in one query. Newest by id: ids are given in the order rows are
    stored, as `created_at` is, and one grouped subquery costs half the Python of one subquery per kind."""
    of_machine = Prediction.objects.filter(machine=machine)
    newest = of_machine.values("kind").annotate(newest=Max("id")).values("newest")
    return {prediction.kind: prediction for prediction in machine_predictions(machine).filter(pk__in=newest)}


def machine_latest_vision(machine: Machine) -> Prediction | None:
    """The newest prediction that came with an external vision model's findings (docs/vlm_contract.md).
    Most machines have none: a key-only lookup first spares the full row query."""
    with_findings = Prediction.objects.filter(machine=machine, vision_findings__isnull=False)
    newest = with_findings.order_by("-created_at", "-id").values_list("pk", flat=True).first()
    return None if newest is None else machine_predictions(machine).get(pk=newest)


def model_version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("machine", "category", "real_dataset", "job")


def model_scope_versions(version: ModelVersion) -> QuerySet[ModelVersion]:
    """Every version of the same kind and scope, newest first."""
    return model_version_list().filter(
        kind=version.kind, machine_id=version.machine_id, category_id=version.category_id
    )


def real_dataset_list() -> QuerySet[RealDataset]:
    return RealDataset.objects.select_related("machine", "preset", "job", "created_by")


def preset_list() -> QuerySet[MappingPreset]:
    return MappingPreset.objects.select_related("created_by")


def training_jobs(*, limit: int = 10) -> list[Job]:
    return list(
        Job.objects.filter(kind__in=[Job.Kind.MODEL_TRAINING, Job.Kind.INGESTION])
        .select_related("machine")
        .order_by("-created_at", "-id")[:limit]
    )
