"""PostgreSQL checks "no status event dated before its pledge's announcement" once per statement, not per row.

The rule (migration 0002) ran a PL/pgSQL function for every inserted or updated status event; a bulk import
inserts thousands in one COPY, and a call per row was a third of that COPY's time. Statement-level triggers
see the statement's new rows as a transition table and check them all with one join. Transition tables
allow one event per trigger, hence one trigger for INSERT and one for UPDATE. SQLite keeps its row triggers.
"""
from importlib import import_module

from django.db import migrations

date_triggers = import_module("tracker.commitments.migrations.0002_status_event_date_triggers")
MESSAGE = date_triggers.MESSAGE.replace("'", "''")

PER_STATEMENT = [
    f"""
    CREATE FUNCTION commitments_events_not_before_announcement() RETURNS trigger AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM new_events e JOIN commitments_pledge p ON p.id = e.pledge_id
                   WHERE p.announced_on IS NOT NULL AND e.occurred_on < p.announced_on) THEN
            RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER commitments_events_inserted_not_before_announcement
    AFTER INSERT ON commitments_statusevent REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION commitments_events_not_before_announcement();
    """,
    """
    CREATE TRIGGER commitments_events_updated_not_before_announcement
    AFTER UPDATE ON commitments_statusevent REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION commitments_events_not_before_announcement();
    """,
    "DROP TRIGGER commitments_event_not_before_announcement ON commitments_statusevent",
    "DROP FUNCTION commitments_event_not_before_announcement()",
]
# Undoing this migration puts back migration 0002's row trigger on status events, as 0002 wrote it.
PER_ROW = [
    *[statement for statement in date_triggers.POSTGRESQL if "commitments_event_not_before_announcement" in statement],
    "DROP TRIGGER commitments_events_inserted_not_before_announcement ON commitments_statusevent",
    "DROP TRIGGER commitments_events_updated_not_before_announcement ON commitments_statusevent",
    "DROP FUNCTION commitments_events_not_before_announcement()",
]


class Migration(migrations.Migration):
    dependencies = [("commitments", "0006_history_user_without_constraint")]

    operations = [migrations.RunPython(date_triggers._run({"postgresql": PER_STATEMENT}),
                                   date_triggers._run({"postgresql": PER_ROW}))]
