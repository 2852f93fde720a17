"""``manage.py login_unlock ann --client 203.0.113.9``: lift sign-in lockouts before their window passes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.lockout import login_lockout_lift


class Command(BaseCommand):
    help = "Lift the sign-in lockout of accounts (by username) and of clients (by address)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("usernames", nargs="*", metavar="USERNAME")
        parser.add_argument("--client", action="append", default=[], dest="clients", metavar="ADDRESS")

    def handle(self, *args: Any, usernames: list[str], clients: list[str], **options: Any) -> None:
        if not usernames and not clients:
            raise CommandError("name at least one username or --client address")
        login_lockout_lift(usernames=usernames, clients=clients)
        self.stdout.write(f"Lifted the sign-in lockout of {len(usernames)} account(s) and {len(clients)} client(s).")
