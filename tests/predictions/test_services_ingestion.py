"""Real data through the product's ingestion: a slice of NASA C-MAPSS FD001 with the shipped preset (a
headerless run-to-failure file → RUL derived per unit → an RUL model), a slice of AI4I 2020 detected
automatically (a binary failure label → the failure classifier), and files that cannot be used."""

from datetime import timedelta

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from gan.models import Job
from gan.services.jobs import job_execute
from predictions.models import MappingPreset, ModelVersion, RealDataset
from predictions.services.ingestion import dataset_confirm, dataset_upload, ingestion_run
from predictions.services.training import training_run, training_start
from tests.predictions.conftest import run_inline

UNITS = 4


@pytest.fixture
def cmapss_slice(datasets) -> bytes:
    lines = (datasets / "cmapss" / "train_FD001.txt").read_text().splitlines()
    return ("\n".join(line for line in lines if int(line.split()[0]) <= UNITS) + "\n").encode()


@pytest.fixture
def ai4i_slice(datasets) -> bytes:
    lines = (datasets / "ai4i2020" / "ai4i2020.csv").read_bytes().splitlines()
    return b"\n".join(lines[:2001]) + b"\n"


def upload(machine, name: str, data: bytes, preset=None) -> RealDataset:
    dataset = dataset_upload(machine=machine, upload=SimpleUploadedFile(name, data), preset=preset)
    run_inline(dataset.job, ingestion_run)
    dataset.refresh_from_db()
    return dataset


def prepare(dataset: RealDataset, plan: dict) -> RealDataset:
    dataset = dataset_confirm(dataset=dataset, plan=plan)
    assert dataset.status == RealDataset.Status.PREPARING
    run_inline(dataset.job, ingestion_run)
    dataset.refresh_from_db()
    return dataset


def readings_from(frame: pd.DataFrame, columns: dict[str, str], extra: dict | None = None) -> list[dict]:
    start = timezone.now() - timedelta(hours=1)
    return [
        {
            "timestamp": (start + timedelta(seconds=i)).isoformat(),
            "values": {sensor: float(row[column]) for column, sensor in columns.items()} | (extra or {}),
        }
        for i, (_, row) in enumerate(frame.iterrows())
    ]


def test_cmapss_with_the_shipped_preset_trains_an_rul_model(make_machine, cmapss_slice, operator_api):
    turbofan = make_machine("turbofan_test_001", "turbofan")
    preset = MappingPreset.objects.get(name="cmapss_fd001")
    dataset = upload(turbofan, "train_FD001_slice.txt", cmapss_slice, preset)

    assert dataset.status == RealDataset.Status.NEEDS_MAPPING, dataset.error
    assert dataset.file_info["header"] is False and dataset.file_info["delimiter"] == "whitespace"
    assert dataset.plan["run_column"] == "unit" and dataset.plan["target_kind"] == "derived_rul"
    assert dataset.proposal["detected"]["runs"] == UNITS
    assert dataset.cleaning["rows"] == cmapss_slice.count(b"\n")
    assert "s1" in dataset.cleaning["constant_columns"]

    dataset = prepare(dataset, dataset.plan)
    assert dataset.status == RealDataset.Status.READY, dataset.error
    assert (dataset.units, dataset.rows, dataset.rul_unit) == (UNITS, cmapss_slice.count(b"\n"), "cycles")
    assert "T2_fan_inlet_temp_R" in dataset.summary["dropped_constant"]
    assert dataset.layout["rul_column"] == "rul" and dataset.trainable_kinds == [
        "health",
        "rul",
        "anomaly",
        "forecast",
    ]

    job = training_start(kinds=["rul"], source="real", real_dataset=dataset, quick=True)
    run_inline(job, training_run)
    model = ModelVersion.objects.get(kind="rul", machine=turbofan)
    assert model.real_dataset == dataset and model.source == "real" and model.is_active
    assert model.metrics["unit"] == "cycles" and model.metrics["rmse"] < 80
    assert "T2_fan_inlet_temp_R" not in model.sensors

    frame = pd.read_csv(
        pd.io.common.BytesIO(cmapss_slice), sep=r"\s+", header=None, names=preset.plan["columns"]
    )
    last_unit = frame[frame["unit"] == UNITS].tail(40)
    columns = {column: sensor for column, sensor in preset.plan["sensors"].items() if sensor in model.sensors}
    response = operator_api.post(
        "/api/v1/predictions/",
        {"kind": "rul", "machine": turbofan.machine_id, "readings": readings_from(last_unit, columns)},
        format="json",
    )
    assert response.status_code == 201, response.json()
    result = response.json()["result"]
    assert result["unit"] == "cycles" and 0 <= result["lower"] <= result["rul"] <= result["upper"]
    assert "state" not in result  # health states come from hours of a category's max RUL, not cycles


def test_ai4i_detects_the_failure_label_and_trains_the_failure_classifier(
    make_machine, ai4i_slice, operator_api
):
    cnc = make_machine("cnc_test_001", "cnc")
    dataset = upload(cnc, "ai4i2020.csv", ai4i_slice)

    plan = dataset.plan
    assert (plan["target_kind"], plan["target_column"]) == ("label", "Machine failure")
    assert plan["categorical"] == ["Type"]
    assert plan["sensors"]["Air temperature [K]"] == "ambient_temp_K"
    assert plan["sensors"]["Torque [Nm]"] == "spindle_torque_nm"
    ignored = {item["column"] for item in dataset.proposal["detected"]["ignored_columns"]}
    assert {
        "UDI",
        "Product ID",
        "TWF",
        "HDF",
    } <= ignored  # identifiers and failure modes never feed the model

    dataset = prepare(dataset, plan)
    assert dataset.status == RealDataset.Status.READY and dataset.trainable_kinds == ["failure"]
    run_inline(
        training_start(kinds=["failure"], source="real", real_dataset=dataset, quick=True), training_run
    )
    model = ModelVersion.objects.get(kind="failure", machine=cnc)
    assert model.metrics["positives"] > 0 and 0 < model.metrics["recall"] <= 1
    assert model.metrics["f1"] > 0.3 and len(model.metrics["confusion_matrix"]) == 2

    frame = pd.read_csv(pd.io.common.BytesIO(ai4i_slice)).tail(3)
    response = operator_api.post(
        "/api/v1/predictions/",
        {
            "kind": "failure",
            "machine": cnc.machine_id,
            "readings": readings_from(frame, plan["sensors"], {"Type": "M"}),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    result = response.json()["result"]
    assert 0 <= result["probability"] <= 1 and result["failure"] == (
        result["probability"] >= result["threshold"]
    )


def test_a_file_with_no_usable_column_fails_with_the_reason(motor):
    rows = "\n".join(f"{i},name-{i}" for i in range(60))
    dataset = dataset_upload(
        machine=motor, upload=SimpleUploadedFile("ids.csv", f"id,name\n{rows}\n".encode())
    )
    job = job_execute(job_id=dataset.job.pk, work=ingestion_run)
    dataset.refresh_from_db()
    assert job.status == Job.Status.FAILURE and "no column can be a model input" in job.error
    assert dataset.status == RealDataset.Status.FAILED and "no column can be a model input" in dataset.error


def test_a_plan_that_does_not_fit_the_data_goes_back_to_mapping(motor):
    data = b"time,temp,vib\n" + b"".join(f"{i},{40 + i / 10},{2 + i / 50}\n".encode() for i in range(50))
    dataset = upload(motor, "log.csv", data)
    # A failure label must hold 0/1 values: only reading the data shows that temp does not.
    sensors = {"vib": "vibration_mm_s"}
    plan = {**dataset.plan, "sensors": sensors, "target_kind": "label", "target_column": "temp"}
    dataset = dataset_confirm(dataset=dataset, plan=plan)
    job = job_execute(job_id=dataset.job.pk, work=ingestion_run)
    dataset.refresh_from_db()
    assert job.status == Job.Status.FAILURE
    assert dataset.status == RealDataset.Status.NEEDS_MAPPING and "label column 'temp'" in dataset.error
