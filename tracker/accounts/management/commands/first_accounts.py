"""manage.py first_accounts

On a developer's machine (DEBUG on), gives a fresh tracker an editor ("editor") and a reviewer ("reviewer") with random
passwords, printed once, so a newcomer can log in right after `make run`. Does nothing with DEBUG off, and nothing for
an account that exists already (its password is never printed again or changed).
"""
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from tracker.accounts.roles import EDITORS, REVIEWERS, ensure_groups

ACCOUNTS = {"editor": EDITORS, "reviewer": REVIEWERS}


class Command(BaseCommand):
    help = "On a developer's machine, create an editor and a reviewer with random passwords and print them once."

    def handle(self, **options):
        if not settings.DEBUG:
            self.stdout.write("DEBUG is off: no accounts created (use create_account).")
            return
        ensure_groups()
        users = get_user_model().objects
        for username, group in ACCOUNTS.items():
            if users.filter(username=username).exists():
                continue
            password = secrets.token_urlsafe(12)
            user = users.create_user(username, password=password, is_staff=True)
            user.groups.add(Group.objects.get(name=group))
            self.stdout.write(self.style.SUCCESS(f"  {group[:-1]} login: {username} / {password}   (shown this once)"))
