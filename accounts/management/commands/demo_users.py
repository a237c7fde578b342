from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.services import demo_users_ensure


class Command(BaseCommand):
    help = "Create the demo users admin, operator and viewer (once) and print their passwords."

    def handle(self, *args, **options):
        # The passwords are random per installation and kept beside the database so every start shows them.
        password_file = settings.VAR_DIR / "demo-users.txt"
        created = demo_users_ensure()
        if created:
            with password_file.open("a") as out:
                out.writelines(f"{username} {password}\n" for username, password in created.items())
            password_file.chmod(0o600)
        self.stdout.write("Demo users (username / password):")
        if password_file.exists():
            for line in password_file.read_text().splitlines():
                username, password = line.split(" ", 1)
                self.stdout.write(self.style.SUCCESS(f"  {username:<9} {password}"))
