"""``manage.py demo``: the demo project, users, rubric, data, runs and a drift alert."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.core.demo import demo_seed


class Command(BaseCommand):
    help = "Create the demo content (idempotent). Development and embedded setups only."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Seed even with DEBUG off (not advised).",
        )
        parser.add_argument(
            "--new-passwords",
            action="store_true",
            help="Give the demo users new random passwords and print them.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION and not options["allow_production"]:
            raise CommandError("demo creates users with known passwords; refusing in production.")
        with transaction.atomic():
            ctx = demo_seed(write=self.stdout.write, reset_passwords=options["new_passwords"])
        self.stdout.write(self.style.SUCCESS(f"Demo project ready: /p/{ctx.project.slug}/"))
        for username, password in ctx.new_passwords.items():
            self.stdout.write(f"  user {username!r} has the password {password!r} (shown once)")
        kept = [name for name in ctx.users if name not in ctx.new_passwords]
        if kept:
            self.stdout.write(
                f"  users {', '.join(kept)} already existed; their passwords are unchanged "
                "(manage.py demo --new-passwords prints new ones)."
            )
