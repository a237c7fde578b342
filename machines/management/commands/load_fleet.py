from django.core.management.base import BaseCommand

from machines.services import fleet_load


class Command(BaseCommand):
    help = (
        "Load the demo fleet (11 categories, 32 machines): creates what is missing, leaves the rest as it is."
    )

    def handle(self, *args, **options):
        created = fleet_load()
        if options["verbosity"] == 0:
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo fleet: {created['categories']} categories and {created['machines']} machines created."
            )
        )
