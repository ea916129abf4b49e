"""manage.py api_token issue USERNAME --name "nightly import" | revoke PREFIX | list [USERNAME]"""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from tracker.api.models import ApiToken


class Command(BaseCommand):
    help = "Issue, revoke or list API tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        issue = sub.add_parser("issue")
        issue.add_argument("username")
        issue.add_argument("--name", required=True)
        revoke = sub.add_parser("revoke")
        revoke.add_argument("prefix")
        listing = sub.add_parser("list")
        listing.add_argument("username", nargs="?")

    def handle(self, action, **options):
        if action == "issue":
            user = get_user_model().objects.filter(username=options["username"]).first()
            if user is None:
                raise CommandError(f"No user “{options['username']}”.")
            token, key = ApiToken.issue(user, options["name"])
            self.stdout.write(key)
            self.stderr.write(f"Issued token {token.prefix} for {user}. It is shown only this once.")
        elif action == "revoke":
            token = ApiToken.objects.filter(prefix=options["prefix"].split(".")[0]).first()
            if token is None:
                raise CommandError(f"No token with prefix “{options['prefix']}”.")
            token.revoke()
            self.stdout.write(f"Revoked {token}.")
        else:
            tokens = ApiToken.objects.select_related("user")
            if options["username"]:
                tokens = tokens.filter(user__username=options["username"])
            for token in tokens:
                state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
                self.stdout.write(f"{token.prefix}  {token.user}  {token.name}  {state}")
