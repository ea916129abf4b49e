"""The database cache's table (settings.CACHES), created by `migrate` so a deployment needs no separate step.

`createcachetable` creates only the tables that do not exist yet, so running it again is harmless.
"""
from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("commitments", "0009_items_revisions_periods")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
