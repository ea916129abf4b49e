"""GIN indexes for full-text search (commitments/search.py), on PostgreSQL only; nothing on SQLite.

Expression indexes on the text search looks words up in: a pledge's description and condition, status notes and
source titles. Their expressions are exactly those search.py queries with (to_tsvector of the 'english'
configuration, over the columns as Django's SearchVector coalesces them), or PostgreSQL would not use them. They
leave the models' state unchanged: no model declares them. Built CONCURRENTLY, so a large table stays writable.
"""
from django.db import migrations

INDEXES = {
    "commitments_pledge_search": (
        "commitments_pledge",
        "to_tsvector('english'::regconfig, COALESCE(description, '') || ' ' || COALESCE(condition, ''))"),
    "commitments_statusevent_note_search": (
        "commitments_statusevent", "to_tsvector('english'::regconfig, COALESCE(note, ''))"),
    "commitments_source_title_search": (
        "commitments_source", "to_tsvector('english'::regconfig, COALESCE(title, ''))"),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, expression) in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING gin (({expression}))")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ('commitments', '0012_public_data_version'),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
