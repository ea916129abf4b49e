"""No status event may be dated before its pledge's announcement. The rule spans two tables, which a
CHECK constraint cannot express, so triggers enforce it on each backend (models validate it too).

On SQLite, Django rebuilds a table to alter it, which fails while these triggers name it: a later migration
that alters commitments_pledge or commitments_statusevent must first run RunPython(drop_triggers) and end with
RunPython(create_triggers).
"""
from django.db import migrations

MESSAGE = "status event dated before the pledge's announcement"

POSTGRESQL = [
    f"""
    CREATE FUNCTION commitments_event_not_before_announcement() RETURNS trigger AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM commitments_pledge p WHERE p.id = NEW.pledge_id
                   AND p.announced_on IS NOT NULL AND NEW.occurred_on < p.announced_on) THEN
            RAISE EXCEPTION '{MESSAGE.replace("'", "''")}' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER commitments_event_not_before_announcement
    BEFORE INSERT OR UPDATE ON commitments_statusevent
    FOR EACH ROW EXECUTE FUNCTION commitments_event_not_before_announcement();
    """,
    f"""
    CREATE FUNCTION commitments_announcement_not_after_events() RETURNS trigger AS $$
    BEGIN
        IF NEW.announced_on IS NOT NULL AND EXISTS (SELECT 1 FROM commitments_statusevent e
                WHERE e.pledge_id = NEW.id AND e.occurred_on < NEW.announced_on) THEN
            RAISE EXCEPTION '{MESSAGE.replace("'", "''")}' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER commitments_announcement_not_after_events
    BEFORE UPDATE OF announced_on ON commitments_pledge
    FOR EACH ROW EXECUTE FUNCTION commitments_announcement_not_after_events();
    """,
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS commitments_event_not_before_announcement ON commitments_statusevent",
    "DROP FUNCTION IF EXISTS commitments_event_not_before_announcement()",
    "DROP TRIGGER IF EXISTS commitments_announcement_not_after_events ON commitments_pledge",
    "DROP FUNCTION IF EXISTS commitments_announcement_not_after_events()",
]

_EVENT_TOO_EARLY = """EXISTS (SELECT 1 FROM commitments_pledge p WHERE p.id = NEW.pledge_id
                   AND p.announced_on IS NOT NULL AND NEW.occurred_on < p.announced_on)"""
_SQLITE_ABORT = f"BEGIN SELECT RAISE(ABORT, '{MESSAGE.replace(chr(39), chr(39) * 2)}'); END"
SQLITE = [
    f"CREATE TRIGGER commitments_event_not_before_announcement_insert BEFORE INSERT ON commitments_statusevent "
    f"WHEN {_EVENT_TOO_EARLY} {_SQLITE_ABORT}",
    f"CREATE TRIGGER commitments_event_not_before_announcement_update BEFORE UPDATE ON commitments_statusevent "
    f"WHEN {_EVENT_TOO_EARLY} {_SQLITE_ABORT}",
    "CREATE TRIGGER commitments_announcement_not_after_events BEFORE UPDATE OF announced_on ON commitments_pledge "
    "WHEN NEW.announced_on IS NOT NULL AND EXISTS (SELECT 1 FROM commitments_statusevent e "
    f"WHERE e.pledge_id = NEW.id AND e.occurred_on < NEW.announced_on) {_SQLITE_ABORT}",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS commitments_event_not_before_announcement_insert",
    "DROP TRIGGER IF EXISTS commitments_event_not_before_announcement_update",
    "DROP TRIGGER IF EXISTS commitments_announcement_not_after_events",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


create_triggers = _run({"postgresql": POSTGRESQL, "sqlite": SQLITE})
drop_triggers = _run({"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE})


class Migration(migrations.Migration):
    dependencies = [("commitments", "0001_initial")]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers),
    ]
