import time

from django.conf import settings
from django.core.management.base import BaseCommand

from predictions.services.simulation import simulate_tick


class Command(BaseCommand):
    help = (
        "Replay live telemetry for the fleet (server mode; embedded `make run` does it with a periodic "
        "task): every interval, each active machine sends its next readings from its held-out seed cycle, "
        "or from its synthetic test split when one exists."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=settings.PREDICTIONS_SIMULATE_SECONDS)
        parser.add_argument(
            "--rows", type=int, default=settings.PREDICTIONS_SIMULATE_ROWS, help="per machine"
        )
        parser.add_argument(
            "--ticks", type=int, default=0, help="stop after this many ticks (0: run until Ctrl-C)"
        )

    def handle(self, *args, interval, rows, ticks, **options):
        done = 0
        try:
            while not ticks or done < ticks:
                started = time.monotonic()
                sent = simulate_tick(rows=rows, interval=interval)
                done += 1
                if options["verbosity"] > 1:
                    self.stdout.write(
                        f"tick {done}: {sent['readings']} readings for {sent['machines']} machines"
                    )
                time.sleep(max(0.0, interval - (time.monotonic() - started)))
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
