from django.core.management.base import BaseCommand, CommandError

from machines.models import MachineCategory
from predictions.services.training import demo_bootstrap


class Command(BaseCommand):
    help = (
        "Make the demo fleet predict from the first minute: seed data for every demo machine that has none "
        "(milliseconds each) and one background job training each demo category's first predictors."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--categories", nargs="+", metavar="NAME", help="Train only these categories (default: all)."
        )

    def handle(self, *args, categories=None, **options):
        if categories:
            unknown = sorted(set(categories) - set(MachineCategory.objects.values_list("name", flat=True)))
            if unknown:
                raise CommandError(f"unknown categories {unknown}: run load_fleet first, or check the names")
        outcome = demo_bootstrap(categories=categories)
        job = outcome["job"]
        self.stdout.write(f"Seed data made for {outcome['seeded']} machine(s).")
        if job is None:
            self.stdout.write("Predictors: every demo category has its models already.")
        elif outcome["categories"]:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Training job {job.pk} queued for {', '.join(outcome['categories'])}: it runs in the "
                    "background (watch it on the dashboard)."
                )
            )
        else:
            self.stdout.write(f"Training job {job.pk} is still {job.status.lower()}.")
