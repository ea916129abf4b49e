from django.core.management.base import BaseCommand

from tracker.commitments.demo import load_demo


class Command(BaseCommand):
    help = "Load the demo coalition (DESIGN.md's 'coalition of the willing'). Running it again changes nothing."

    def handle(self, **options):
        created = load_demo()
        if created:
            self.stdout.write(self.style.SUCCESS(f"Demo coalition loaded: {created} records created."))
        else:
            self.stdout.write("Demo coalition already loaded: nothing changed.")
