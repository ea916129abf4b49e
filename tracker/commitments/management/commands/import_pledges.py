"""manage.py import_pledges FILE [--format kiel] --user NAME [--publish] [--dry-run] [--coalition NAME]
[--release-date YYYY-MM-DD]"""
import argparse
import datetime
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from tracker.commitments.imports import importer
from tracker.commitments.models import Coalition


class Bars(importer.Progress):
    """tqdm progress bars on standard error, one per step of the import."""

    def __init__(self, enabled):
        self.enabled = enabled

    def start(self, label, total):
        return tqdm(total=total, desc=label, unit="row", file=sys.stderr, disable=not self.enabled,
                    mininterval=0.5)


class Command(BaseCommand):
    help = ("Import pledges from a CSV or XLSX file in the tracker's template or the Kiel Ukraine Support "
            "Tracker's main-sheet format. All rows are checked first; if any is bad, nothing is written and "
            "every bad row is listed. Pledges arrive as drafts unless a reviewer passes --publish.")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--format", choices=sorted(importer.FORMATS), default="template")
        parser.add_argument("--user", required=True, help="The editor or reviewer the changes are attributed to.")
        parser.add_argument("--coalition", help="Slug or name of the coalition for rows that name none (default: "
                                                "the first coalition); a name the tracker does not know creates "
                                                "that coalition.")
        parser.add_argument("--release-date", type=_date, help="A dataset release's date, YYYY-MM-DD: its deliveries "
                                                               "(which Kiel does not date) and changed figures count "
                                                               "from that day. Required when the file reports "
                                                               "deliveries.")
        parser.add_argument("--publish", action="store_true", help="Publish the imported pledges (reviewers).")
        parser.add_argument("--dry-run", action="store_true", help="Check and report, write nothing.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bars.")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
        if user is None or not user.has_perm("commitments.add_pledge"):
            raise CommandError(f"“{options['user']}” is not an active editor or reviewer account.")
        coalition = None
        if options["coalition"]:
            name = options["coalition"]
            coalition = (Coalition.objects.filter(slug=name).first() or Coalition.objects.filter(name=name).first()
                         or name)
        progress = Bars(enabled=not options["no_progress"] and options["verbosity"] > 0)
        try:
            report = importer.import_file(
                path.read_bytes(), path.name, fmt=options["format"], user=user, coalition=coalition,
                publish=options["publish"], dry_run=options["dry_run"], progress=progress,
                release_date=options["release_date"])
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc
        for note in report.notes:
            self.stdout.write(f"note: {note}")
        for outcome in report.outcomes:
            for note in outcome.notes:
                self.stdout.write(f"line {outcome.line} ({outcome.key}): note: {note}")
        if not report.ok:
            for line, column, message in report.errors:
                where = f"line {line}, " if line else ""
                self.stderr.write(f"{where}{column}: {message}")
            raise CommandError(f"{len(report.errors)} problem(s) in {path.name}: nothing was imported.")
        verb = "Would import" if options["dry_run"] else "Imported"
        self.stdout.write(self.style.SUCCESS(f"{verb} {path.name}: {report.summary()}."))


def _date(value):
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{value}” is not a date as YYYY-MM-DD") from None
