"""manage.py create_account USERNAME --role editor|reviewer [--email E]

Creates (or updates) a staff account in the Editors or Reviewers group. The password is asked twice
at a terminal, or read from the first line of standard input in scripts.
"""
import getpass
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tracker.accounts.roles import EDITORS, REVIEWERS, ensure_groups

ROLES = {"editor": EDITORS, "reviewer": REVIEWERS}


class Command(BaseCommand):
    help = "Create or update an editor or reviewer account."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=sorted(ROLES), required=True)
        parser.add_argument("--email", default="")

    def handle(self, username, role, email, **options):
        password = self._read_password()
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first() or user_model(username=username)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError("Password refused: " + " ".join(exc.messages)) from exc
        created = user.pk is None
        user.email = email or user.email
        user.is_staff = True
        user.is_active = True
        user.set_password(password)
        user.save()
        ensure_groups()
        user.groups.remove(*Group.objects.filter(name__in=ROLES.values()))
        user.groups.add(Group.objects.get(name=ROLES[role]))
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} {role} account “{username}”. Log in at /admin/."))

    def _read_password(self):
        if sys.stdin.isatty():
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        else:
            password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise CommandError("A password is required (type it, or pipe it on standard input).")
        return password
