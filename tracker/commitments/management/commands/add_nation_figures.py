"""manage.py add_nation_figures: give every state the shipped World Bank GDP and population it lacks."""
from django.core.management.base import BaseCommand

from tracker.commitments import services
from tracker.commitments.models import Nation


class Command(BaseCommand):
    help = ("Give every state in the tracker the World Bank GDP and population (shipped with the tracker) for each "
            "year it has no figures for. Imports and new nations get them on their own; this is for trackers "
            "whose nations came before.")

    def handle(self, *args, **options):
        added = services.add_nation_figures(Nation.objects.filter(kind=Nation.Kind.STATE).exclude(country=None))
        self.stdout.write(self.style.SUCCESS(f"{added} yearly figure(s) added."))
