"""The demo fleet: shipped in the project, loaded by `manage.py load_fleet` (make run), idempotently."""

from io import StringIO

from django.core.management import call_command

from machines.models import Machine, MachineCategory, ProfileVersion
from machines.selectors import fleet_document

SPEC_CATEGORIES = {
    # name: (machines, max_rul, cycles, pattern, rul noise, sensors) — SPEC §1
    "motor": (7, 1000, 3, "linear_slow", 10, 4),
    "pump": (3, 800, 4, "linear_medium", 12, 5),
    "compressor": (3, 600, 5, "linear_fast", 8, 5),
    "cnc": (8, 500, 7, "exponential", 15, 9),
    "fan": (2, 1200, 3, "linear_slow", 20, 4),
    "conveyor": (2, 900, 4, "linear_medium", 15, 5),
    "robot": (2, 1100, 3, "linear_slow", 18, 5),
    "hydraulic": (2, 850, 4, "linear_medium", 14, 5),
    "transformer": (1, 1500, 2, "linear_slow", 25, 5),
    "cooling_tower": (1, 1100, 3, "linear_medium", 20, 5),
    "turbofan": (1, 700, 5, "exponential", 12, 8),
}


def test_load_fleet_creates_the_11_categories_and_32_machines(db):
    out = StringIO()
    call_command("load_fleet", stdout=out)
    assert "11 categories and 32 machines created" in out.getvalue()
    assert MachineCategory.objects.count() == 11
    assert Machine.objects.count() == 32
    for category in MachineCategory.objects.prefetch_related("sensors", "machines"):
        machines, max_rul, cycles, pattern, noise, sensors = SPEC_CATEGORIES[category.name]
        assert (category.machines.count(), category.max_rul_hours, category.cycles) == (
            machines,
            max_rul,
            cycles,
        )
        assert (category.degradation_pattern, category.rul_noise_hours) == (pattern, noise)
        assert category.sensors.count() == sensors
        assert category.failure_modes, category.name
    # Every machine starts with its category's sensors and a first profile version.
    assert ProfileVersion.objects.filter(number=1).count() == 32


def test_fleet_data_matches_the_spec_figures(db):
    fleet = fleet_document()
    motor = fleet["categories"]["motor"]
    assert [(s["name"], s["base"], s["range"], s["noise"]) for s in motor["sensors"]] == [
        ("bearing_de_temp_C", 40, 35, 0.5),
        ("winding_temp_C", 50, 40, 0.8),
        ("vibration_mm_s", 2.5, 5.0, 0.15),
        ("current_A", 8.0, 6.0, 0.3),
    ]
    turbofan_units = {s["name"]: s["unit"] for s in fleet["categories"]["turbofan"]["sensors"]}
    assert turbofan_units["T30_hpc_outlet_temp_R"] == "R"


def test_manufacturer_and_model_are_read_from_the_machine_id(fleet):
    machines = {m.machine_id: (m.manufacturer, m.model) for m in Machine.objects.all()}
    assert machines["motor_siemens_1la7_001"] == ("Siemens", "1LA7")
    assert machines["compressor_atlas_copco_ga30_001"] == ("Atlas Copco", "GA 30")
    assert machines["turbofan_cfm56_001"] == ("CFM International", "CFM56")


def test_load_fleet_again_creates_nothing_and_keeps_edits(fleet):
    Machine.objects.filter(machine_id="pump_ksb_etanorm_001").update(location="Basement")
    MachineCategory.objects.filter(name="fan").update(max_rul_hours=1300)
    Machine.objects.filter(machine_id="fan_ebm_papst_a3g_001").delete()
    out = StringIO()
    call_command("load_fleet", stdout=out)
    assert "0 categories and 1 machines created" in out.getvalue()
    assert Machine.objects.count() == 32
    assert Machine.objects.get(machine_id="pump_ksb_etanorm_001").location == "Basement"
    assert MachineCategory.objects.get(name="fan").max_rul_hours == 1300
