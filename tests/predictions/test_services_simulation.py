"""The demo simulator replays each machine's held-out seed cycle through the telemetry path, continuing
where it stopped; machines start at different points of their run."""

import io

import pytest
from django.core.management import call_command

from gan.selectors import holdout_frame, machine_latest_seed
from gan.services.synthetic import seed_create
from predictions.models import ReplayCursor, SensorReading
from predictions.services.simulation import simulate_tick


@pytest.fixture
def two_seeded(make_machine):
    machines = [make_machine("motor_test_001"), make_machine("motor_test_002")]
    for number, machine in enumerate(machines):
        seed_create(machine=machine, rows=1_000, seed=number)
    return machines


def replayed(machine) -> list[dict]:
    return [r.values for r in SensorReading.objects.filter(machine=machine).order_by("timestamp")]


def test_ticks_replay_the_held_out_cycle_in_order(two_seeded, make_machine):
    make_machine("motor_test_003")  # no seed data: nothing to replay
    assert simulate_tick(rows=3, interval=3) == {"machines": 2, "readings": 6}
    assert simulate_tick(rows=2, interval=2) == {"machines": 2, "readings": 4}
    starts = []
    for machine in two_seeded:
        holdout = holdout_frame(machine_latest_seed(machine)).drop(columns=["timestamp", "cycle", "rul"])
        cursor = ReplayCursor.objects.get(machine=machine)
        start = (cursor.position - 5) % len(holdout)
        expected = [holdout.iloc[(start + i) % len(holdout)].to_dict() for i in range(5)]
        assert replayed(machine) == expected
        assert cursor.rows == len(holdout) and cursor.source.startswith("seed:")
        starts.append(start)
    assert starts[0] != starts[1]  # each machine starts at its own point of the run


def test_the_command_runs_ticks(two_seeded):
    out = io.StringIO()
    call_command("simulate_fleet", ticks=2, interval=0.01, rows=1, verbosity=2, stdout=out)
    assert "tick 2: 2 readings for 2 machines" in out.getvalue()
    assert SensorReading.objects.count() == 4


def test_starting_the_run_again_cuts_the_serving_window(two_seeded):
    from predictions.models import MachineRun
    from predictions.services.serving import _latest_rows

    machine = two_seeded[0]
    simulate_tick(rows=1, interval=1)
    cursor = ReplayCursor.objects.get(machine=machine)
    cursor.position = cursor.rows - 2
    cursor.save()
    simulate_tick(rows=4, interval=4)  # the last two readings of the run, then the first two again
    stamps = list(
        SensorReading.objects.filter(machine=machine)
        .order_by("timestamp")
        .values_list("timestamp", flat=True)
    )
    run = MachineRun.objects.get(machine=machine)
    assert run.started_at == stamps[-2]
    assert [timestamp for timestamp, _ in _latest_rows(machine, 20)] == stamps[-2:]
    assert not MachineRun.objects.filter(machine=two_seeded[1]).exists()
