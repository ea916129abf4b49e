"""Creates the single DataVersion row that every write bumps (services also create it if it is missing)."""
from django.db import migrations


def create_data_version(apps, schema_editor):
    apps.get_model("commitments", "DataVersion").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("commitments", "0002_status_event_date_triggers")]

    operations = [migrations.RunPython(create_data_version, migrations.RunPython.noop)]
