from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from tracker.commitments import services


class Command(BaseCommand):
    help = ("Cut the next numbered release: freeze the published figures, summaries and dataset readers see now, "
            "so they can be cited. --user names the reviewer it is attributed to (default: the server's operator).")

    def add_arguments(self, parser):
        parser.add_argument("--title", required=True, help='e.g. "December 2026 update"')
        parser.add_argument("--notes", default="", help="What this release brings, for readers.")
        parser.add_argument("--user", help="A reviewer's username.")

    def handle(self, title, notes, user, **options):
        reviewer = None
        if user:
            reviewer = get_user_model().objects.filter(username=user).first()
            if reviewer is None:
                raise CommandError(f"--user: no account named {user!r}.")
        try:
            release = services.cut_release(user=reviewer, title=title, notes=notes, operator=reviewer is None)
        except PermissionDenied as error:
            raise CommandError(f"--user: {error}") from None
        except ValidationError as error:
            raise CommandError("; ".join(f"--{name}: {' '.join(messages)}"
                                         for name, messages in error.message_dict.items())) from None
        self.stdout.write(self.style.SUCCESS(
            f"Release {release.number} cut: {release.pledges} published pledges, {release.get_absolute_url()}"))
