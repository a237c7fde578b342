"""The full training job path against a bare TVAESynthesizer.fit, same data and epochs, in one run.

    .venv/bin/python bench/synth_job.py [--epochs 60] [--rounds 3] [--threads 1]

"ours" is the product's job path in this process, as a worker runs it: job_execute(train_run) reads the
seed parquet from the file storage, trains through the core with the ProgressReporter saving the Job row
and broadcasting a message through Redis (channels-redis) after EVERY epoch (JOB_PROGRESS_MIN_INTERVAL=0),
beats the heartbeat, pickles the model into the storage and writes its version. "bare" is SDV's
TVAESynthesizer.fit as shipped on the same seed rows (the held-out cycle excluded, as the job does) and
epochs; "bare_sequential" is the same with joblib's sequential backend, which our core uses (SDV's default
spawns a process pool to encode columns). Both use the plain TVAE variant so the data and model match; the
residual variant (the product's default) is timed beside them for information. Each runner is timed
around its own work only; the order alternates per round, and the best round counts.

Needs PostgreSQL and Redis on 127.0.0.1 (creates the database pdm_bench; Redis database 10).
Goal: overhead of ours over bare ≤ 5 %. The last line of stdout is one JSON object.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import print_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GOAL_OVERHEAD_PCT = 5.0
SEED_ROWS = 10_000
BENCH_DATABASE = "pdm_bench"
REDIS_URL = "redis://127.0.0.1:6379/10"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def configure(threads: int) -> None:
    """Server-mode settings on a bench database, then django.setup() and migrations."""
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DATABASE]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    var_dir = Path(tempfile.mkdtemp(prefix="pdm-bench-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="pdm_site.settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{BENCH_DATABASE}",
        REDIS_URL=REDIS_URL,
        CHANNELS_PREFIX="pdm-bench",
        DJANGO_SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG",
        DJANGO_SSL_REDIRECT="0",
        PDM_VAR_DIR=str(var_dir),
        PDM_MEDIA_ROOT=str(var_dir / "media"),
        PDM_EMBEDDED_WORKER="0",
        JOB_PROGRESS_MIN_INTERVAL="0",  # save and broadcast after every epoch
        GAN_TORCH_THREADS=str(threads),
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def bench_machine():
    from machines.models import Machine, MachineCategory
    from machines.selectors import fleet_document
    from machines.services import category_create, machine_create

    if not MachineCategory.objects.filter(name="motor").exists():
        category_create(data={"name": "motor", **fleet_document()["categories"]["motor"]}, user=None)
    machine = Machine.objects.filter(machine_id="motor_bench_job_001").first()
    return machine or machine_create(
        profile={"machine_id": "motor_bench_job_001", "machine_type": "motor"}, user=None
    )


class ReporterTimer:
    """Seconds spent in ProgressReporter.update (save + broadcast), a direct measure host load cannot blur."""

    def __enter__(self):
        from gan.services.progress import ProgressReporter

        self.seconds, self.calls = 0.0, 0
        self._original = original = ProgressReporter.update
        timer = self

        def timed(reporter, **kwargs):
            started = time.perf_counter()
            try:
                original(reporter, **kwargs)
            finally:
                timer.seconds += time.perf_counter() - started
                timer.calls += 1

        ProgressReporter.update = timed
        return self

    def __exit__(self, *exc_info):
        from gan.services.progress import ProgressReporter

        ProgressReporter.update = self._original


class CoreTimer:
    """Seconds spent in the core's train() (the fit itself, our per-epoch reporting included)."""

    def __enter__(self):
        import gan.synth.train as core

        self.seconds = 0.0
        self._original = original = core.train
        timer = self

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                timer.seconds += time.perf_counter() - started

        core.train = timed
        return self

    def __exit__(self, *exc_info):
        import gan.synth.train as core

        core.train = self._original


class GroupListener:
    """A channel in the job's group: counts the messages that really went through Redis."""

    def __init__(self, group: str):
        from channels.layers import get_channel_layer

        self.layer, self.group = get_channel_layer(), group
        self.channel = asyncio.run(self._join())

    async def _join(self) -> str:
        channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, channel)
        return channel

    def drain(self) -> list[dict]:
        async def receive_all():
            messages = []
            while True:
                try:
                    messages.append(await asyncio.wait_for(self.layer.receive(self.channel), 2))
                except TimeoutError:
                    return messages

        return asyncio.run(receive_all())


def runners(machine, seed, epochs: int) -> dict:
    from joblib import parallel_config
    from sdv.metadata import Metadata
    from sdv.single_table import TVAESynthesizer

    from gan.models import Job
    from gan.selectors import seed_fit_frame
    from gan.services.jobs import job_execute
    from gan.services.synthetic import TASKS, train_run
    from gan.synth.train import TVAE_DEFAULTS

    data = seed_fit_frame(seed).drop(columns=["timestamp", "cycle"])
    table = {"columns": {column: {"sdtype": "numerical"} for column in data.columns}}
    metadata = Metadata.load_from_dict({"tables": {"machine": table}})
    model_settings = {**TVAE_DEFAULTS, "epochs": epochs}
    figures = {}

    def bare() -> float:
        started = time.perf_counter()
        TVAESynthesizer(metadata, **model_settings).fit({"machine": data})
        return time.perf_counter() - started

    def bare_sequential() -> float:
        started = time.perf_counter()
        with parallel_config(backend="sequential"):
            TVAESynthesizer(metadata, **model_settings).fit({"machine": data})
        return time.perf_counter() - started

    def job(variant: str):
        def run() -> float:
            params = {
                "epochs": epochs,
                "batch_size": TVAE_DEFAULTS["batch_size"],
                "variant": variant,
                "early_stopping": False,
                "seed_dataset": seed.pk,
            }
            # PENDING without a queued task: this process is the worker.
            record = Job.objects.create(
                kind=Job.Kind.TRAIN, task_name=TASKS[Job.Kind.TRAIN], machine=machine, params=params
            )
            listener = GroupListener(record.group_name)
            with ReporterTimer() as reporter, CoreTimer() as core:
                started = time.perf_counter()
                finished = job_execute(job_id=record.pk, work=train_run)
                seconds = time.perf_counter() - started
            assert finished.status == Job.Status.SUCCESS, finished.error
            messages = listener.drain()  # after the clock stopped: it waits for silence
            figures[variant] = {
                "reporter_calls": reporter.calls,
                "reporter_seconds": reporter.seconds,
                # What the job path adds around the bare core fit: reading, reporting, saving, records.
                "job_path_seconds": seconds - core.seconds + reporter.seconds,
                "core_fit_seconds": core.seconds - reporter.seconds,
                "epoch_messages_received": sum(len(m["message"].get("losses") or []) for m in messages),
                "messages_received": len(messages),
                "device": finished.result["device"],
            }
            return seconds

        return run

    return {
        "bare": bare,
        "bare_sequential": bare_sequential,
        "ours": job("plain"),
        "ours_residual": job("residual"),
    }, figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs per runner")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: shared host)")
    args = parser.parse_args()
    configure(args.threads)
    import torch

    from gan.services.synthetic import seed_create

    torch.set_num_threads(args.threads)
    machine = bench_machine()
    seed = seed_create(machine=machine, rows=SEED_ROWS, seed=0)
    named, figures = runners(machine, seed, args.epochs)
    times = {name: [] for name in named}
    for round_index in range(args.rounds):
        # Alternate the order so that drifting host load hits every runner alike.
        order = list(named) if round_index % 2 == 0 else list(reversed(named))
        for name in order:
            times[name].append(named[name]())
            log(f"round {round_index + 1}: {name} {times[name][-1]:.2f} s")
    best = {name: min(values) for name, values in times.items()}
    ours = figures["plain"]
    result = {
        "rows": seed.fit_rows,
        "epochs": args.epochs,
        "rounds": args.rounds,
        "torch_threads": args.threads,
        "device": ours["device"],
        "best_seconds": best,
        "median_seconds": {name: statistics.median(values) for name, values in times.items()},
        "overhead_pct": 100.0 * (best["ours"] / best["bare"] - 1.0),
        "overhead_vs_sequential_pct": 100.0 * (best["ours"] / best["bare_sequential"] - 1.0),
        "residual_vs_bare_pct": 100.0 * (best["ours_residual"] / best["bare"] - 1.0),
        # The job path's own per-epoch cost (Job row save + Redis broadcast), measured directly.
        "reporter_ms_per_call": 1000.0 * ours["reporter_seconds"] / max(ours["reporter_calls"], 1),
        "reporter_pct_of_job": 100.0 * ours["reporter_seconds"] / best["ours"],
        # Host load cannot blur this one: the job path's own time over the core's fit in the same run.
        "job_path_pct_of_fit": 100.0 * ours["job_path_seconds"] / ours["core_fit_seconds"],
        "epoch_losses_broadcast": ours["epoch_messages_received"],
        "messages_received": ours["messages_received"],
        "goal_overhead_pct": GOAL_OVERHEAD_PCT,
        "goal_met": 100.0 * (best["ours"] / best["bare"] - 1.0) <= GOAL_OVERHEAD_PCT,
    }
    print_result(result)


if __name__ == "__main__":
    main()
