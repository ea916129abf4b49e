"""Kiel's (or any imported dataset's) own EUR figure, kept beside ours.

Adding a CHECK constraint rebuilds commitments_pledge on SQLite, so the date triggers are dropped first and
recreated at the end (see 0002)."""

import django.core.validators
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models

import importlib

_triggers = importlib.import_module("tracker.commitments.migrations.0002_status_event_date_triggers")


class Migration(migrations.Migration):

    dependencies = [
        ('commitments', '0003_data_version_row'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(_triggers.drop_triggers, _triggers.create_triggers),
        migrations.AddField(
            model_name='historicalpledge',
            name='source_eur_value',
            field=models.DecimalField(blank=True, decimal_places=2, help_text="The EUR figure an imported dataset gives (e.g. the Kiel tracker's own conversion), kept to compare with ours.", max_digits=18, null=True, validators=[django.core.validators.MinValueValidator(Decimal('0'))], verbose_name='EUR value given by the source'),
        ),
        migrations.AddField(
            model_name='pledge',
            name='source_eur_value',
            field=models.DecimalField(blank=True, decimal_places=2, help_text="The EUR figure an imported dataset gives (e.g. the Kiel tracker's own conversion), kept to compare with ours.", max_digits=18, null=True, validators=[django.core.validators.MinValueValidator(Decimal('0'))], verbose_name='EUR value given by the source'),
        ),
        migrations.AddConstraint(
            model_name='pledge',
            constraint=models.CheckConstraint(condition=models.Q(('source_eur_value__isnull', True), ('source_eur_value__gte', 0), _connector='OR'), name='pledge_source_eur_value_non_negative'),
        ),
        migrations.RunPython(_triggers.create_triggers, _triggers.drop_triggers),
    ]
