"""Fixtures for the predictions tests: motors with seed data, tiny real models (fitted once per session on
the motor profile's seed rows and registered per test through the storage), readings, job helpers."""

import os
import shutil
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from threadpoolctl import threadpool_limits

from gan.models import Job
from gan.services.files import store_file
from gan.services.jobs import job_execute
from gan.services.synthetic import seed_create
from machines.models import Machine, MachineCategory
from machines.selectors import fleet_document
from machines.services import category_create, machine_create
from predictions.files import category_folder, model_names
from predictions.ml import DataLayout, FeatureSpec, create_predictor, read_metadata
from predictions.models import ModelVersion, SensorReading
from predictions.services.models import registry_changed

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
SEED_ROWS = 1_000
RANDOM_SEED = 5
TINY = {"features": FeatureSpec(windows=(4, 8)), "importance_repeats": 1, "threads": 1}
TINY_BOOSTING = {"max_iter": 15, "learning_rate": 0.3}
CORE_KINDS = {"health": "classification", "rul": "rul", "anomaly": "anomaly", "forecast": "forecast"}


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(autouse=True)
def _small_and_single_threaded(settings):
    settings.PREDICTIONS_TRAINING_THREADS = 1
    settings.PREDICTIONS_TRAINING_MAX_ROWS = 1_500
    settings.PREDICTIONS_DEMO_SEED_ROWS = SEED_ROWS
    settings.PREDICTIONS_DEMO_MAX_ROWS = 1_500


def category(name: str = "motor") -> MachineCategory:
    found = MachineCategory.objects.filter(name=name).first()
    if found is None:
        found = category_create(data={"name": name, **fleet_document()["categories"][name]}, user=None)
    return found


@pytest.fixture
def make_machine(db):
    """make_machine(machine_id, category name) → a machine of a demo category (created once)."""

    def make(machine_id: str = "motor_test_001", category_name: str = "motor") -> Machine:
        category(category_name)
        return machine_create(profile={"machine_id": machine_id, "machine_type": category_name}, user=None)

    return make


@pytest.fixture
def motor(make_machine):
    return Machine.objects.select_related("category").get(pk=make_machine().pk)


@pytest.fixture
def seeded_motor(motor):
    seed_create(machine=motor, rows=SEED_ROWS, seed=RANDOM_SEED)
    return motor


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """The four time-series kinds fitted (tiny settings) on the motor profile's seed rows, saved once."""
    from gan.synth.profile import category_profile
    from gan.synth.seed import generate_seed, split_holdout

    profile = category_profile("motor")
    fit, _ = split_holdout(generate_seed(profile, SEED_ROWS, random_seed=RANDOM_SEED))
    layout = DataLayout(
        sensors=profile.sensor_names, run_column="cycle", time_column="timestamp", rul_column="rul"
    )
    folder = tmp_path_factory.mktemp("tiny-models")
    paths = {}
    for kind, core_kind in CORE_KINDS.items():
        extra = TINY_BOOSTING if kind in ("health", "rul") else {}
        model = create_predictor(core_kind, layout, max_rul=profile.max_rul_hours, **TINY, **extra)
        model.fit(fit)
        paths[kind] = folder / f"{kind}.joblib"
        model.save(paths[kind])
    return paths


def register_model(path: Path, kind: str, *, category_obj: MachineCategory, version: int = 1) -> ModelVersion:
    """A model file registered as the active category model, stored like training stores it."""
    metadata = read_metadata(path)
    model_name, meta_name = model_names(category_folder(category_obj.pk))
    stored = store_file(path, model_name)
    store_file(path.with_suffix(".json"), meta_name)
    ModelVersion.objects.filter(kind=kind, category=category_obj, is_active=True).update(is_active=False)
    report = metadata["report"]
    version = ModelVersion.objects.create(
        kind=kind,
        category=category_obj,
        version=version,
        file=stored,
        source=ModelVersion.Source.SEED,
        metrics=report["metrics"],
        feature_importance=report["feature_importance"],
        sensors=metadata["sensors"],
        library_versions=metadata["versions"],
        history_rows=metadata["history_rows"],
        trained_at=timezone.now(),
        is_active=True,
        activated_at=timezone.now(),
    )
    registry_changed()
    return version


@pytest.fixture
def motor_models(motor, tiny_models) -> dict[str, ModelVersion]:
    """The tiny models serving the motor category (every motor)."""
    return {
        kind: register_model(path, kind, category_obj=motor.category) for kind, path in tiny_models.items()
    }


def add_readings(
    machine: Machine, count: int = 30, *, start=None, step_seconds: float = 5.0
) -> list[SensorReading]:
    """`count` plausible readings of a motor drifting towards failure, the last one a minute ago."""
    start = start or timezone.now() - timedelta(seconds=60 + count * step_seconds)
    readings = []
    for i in range(count):
        wear = 0.3 + 0.5 * i / count
        values = {
            "bearing_de_temp_C": 40 + 35 * wear,
            "winding_temp_C": 50 + 40 * wear,
            "vibration_mm_s": 2.5 + 5 * wear,
            "current_A": 8 + 6 * wear,
        }
        readings.append(
            SensorReading(
                machine=machine, timestamp=start + timedelta(seconds=i * step_seconds), values=values
            )
        )
    return SensorReading.objects.bulk_create(readings)


def run_inline(job: Job, work) -> Job:
    """The job's work through the real job path (job_execute), in this process."""
    finished = job_execute(job_id=job.pk, work=work)
    assert finished is not None and finished.status == Job.Status.SUCCESS, finished and finished.error
    return finished


@pytest.fixture
def wait_for():
    """wait_for(condition, timeout) → the condition's first truthy value, or an assertion error."""

    def wait(condition, timeout: float = 60, message: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"{message} not met within {timeout} s")

    return wait


@pytest.fixture(scope="session")
def datasets() -> Path:
    if not DATASETS.is_dir():
        pytest.skip(f"public datasets not found at {DATASETS}")
    return DATASETS


@pytest.fixture
def broken_copy(tmp_path):
    """broken_copy(path) → a copy of a model file with its metadata, for tests that damage it."""

    def copy(path: Path) -> Path:
        target = tmp_path / path.name
        shutil.copy(path, target)
        shutil.copy(path.with_suffix(".json"), target.with_suffix(".json"))
        return target

    return copy


# --- Embedded mode: the product as `make run` serves it, bootstrapped -------------------------------------

# Small, fast first models and one thread: the host is shared.
BOOTSTRAP_ENV = {
    "PREDICTIONS_DEMO_SEED_ROWS": "1000",
    "PREDICTIONS_DEMO_MAX_ROWS": "1500",
    "PREDICTIONS_TRAINING_THREADS": "1",
    "OMP_NUM_THREADS": "1",
}


@contextmanager
def bootstrapped_server(tmp_path_factory, **env):
    """A real daphne in embedded mode after `load_fleet` and `demo_bootstrap --categories motor` (the
    motors' training job waits PENDING until the server's worker starts and queues it)."""
    from tests.conftest import EmbeddedServer, free_port

    variables = {**BOOTSTRAP_ENV, **env}
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    server = EmbeddedServer(
        Path(__file__).resolve().parents[2], tmp_path_factory.mktemp("embedded-var"), free_port()
    )
    try:
        server.manage("migrate", "--noinput")
        server.manage("load_fleet")
        server.manage("demo_bootstrap", "--categories", "motor")
        server.start()
        yield server
    finally:
        server.stop()
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def wait_for_training(server, session, timeout: float = 180) -> dict:
    """The bootstrap job once it finished (as the API shows it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = session.get(f"{server.url}/api/v1/jobs/", params={"kind": "model_training"}, timeout=10).json()
        finished = [job for job in jobs["results"] if job["status"] in ("SUCCESS", "FAILURE", "CANCELLED")]
        if finished:
            return finished[0]
        time.sleep(0.5)
    raise AssertionError(f"the bootstrap training did not finish in {timeout} s")
