"""Part of make bench: a 100,000-row template import on PostgreSQL against COPY of the same rows, same run.

Both start from the same empty tables (the nations, coalition and sources exist, as they would after the
first import). COPY writes the same pledge rows, already resolved to ids, straight into commitments_pledge,
and commits; the import reads the CSV, checks every row and writes pledges, links, status events and
history. Settings: BENCH_IMPORT_ROWS (100,000), BENCH_ROUNDS (3), BENCH_IMPORT_DB_URL (tracker_bench_import on
127.0.0.1).
"""
import csv
import io
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
DB_URL = os.environ.get("BENCH_IMPORT_DB_URL", "postgres://postgres@127.0.0.1:5432/tracker_bench_import")
NATIONS = [("France", "FR"), ("Germany", "DE"), ("United Kingdom", "GB"), ("Poland", "PL"), ("Norway", "NO"),
           ("Denmark", "DK"), ("Sweden", "SE"), ("Netherlands", "NL"), ("Italy", "IT"), ("Canada", "CA")]
CURRENCIES = ["EUR", "GBP", "NOK", "SEK", "DKK", "PLN", "USD"]
KINDS = ["military", "financial", "humanitarian", "training", "logistical"]
COLUMNS = ["external_id", "coalition", "nation", "kind", "description", "quantity", "unit", "amount", "currency",
           "announced_on", "sources", "status", "status_on", "status_source"]


def env():
    return dict(os.environ, DATABASE_URL=DB_URL, DEBUG="0", SECRET_KEY="bench-" + "x" * 50,
                ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="0")


def template_rows():
    rng = random.Random(7)
    start = date(2022, 3, 1)
    for n in range(ROWS):
        nation, _code = NATIONS[n % len(NATIONS)]
        on = start + timedelta(days=rng.randrange(1000))
        source = f"https://gov.example/{nation.lower().replace(' ', '-')}/{n % 500}"
        yield {"external_id": f"bench-{n}", "coalition": "Bench coalition", "nation": nation,
               "kind": KINDS[n % len(KINDS)], "description": f"Synthetic pledge {n} of {nation}",
               "quantity": str(rng.randrange(1, 500)), "unit": "units", "amount": f"{rng.randrange(10**5, 10**9)}",
               "currency": CURRENCIES[n % len(CURRENCIES)], "announced_on": on.isoformat(), "sources": source,
               "status": "announced", "status_on": on.isoformat(), "status_source": source}


def prepare(path):
    admin = psycopg.connect(DB_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True)
    name = DB_URL.rsplit("/", 1)[1]
    if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        admin.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env(), check=True)
    subprocess.run([sys.executable, "manage.py", "create_account", "bench", "--role", "reviewer"], cwd=ROOT,
                   env=env(), input="bench-password-123\n", text=True, check=True, capture_output=True)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(template_rows())
    path.write_text(out.getvalue())


def reset(conn):
    """Empty the pledge tables, then seed what a first import would have created (nations, sources)."""
    tables = [row[0] for row in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'commitments_%%' "
        "AND tablename NOT IN ('commitments_dataversion')")]
    conn.execute("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE")
    conn.commit()
    seed = [{**row, "external_id": f"seed-{n}"} for n, row in enumerate(template_rows()) if n < 500]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(seed)
    seed_path = ROOT / ".bench" / "import-seed.csv"
    seed_path.write_text(out.getvalue())
    run_import(seed_path)


def run_import(path):
    code = ("import time, django; django.setup();"
            "from django.contrib.auth.models import User;"
            "from tracker.commitments.imports import importer;"
            f"data = open({str(path)!r}, 'rb').read(); t = time.perf_counter();"
            "r = importer.import_file(data, 'bench.csv', user=User.objects.get(username='bench'));"
            "print(time.perf_counter() - t, r.summary(), r.errors[:3])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env(), "DJANGO_SETTINGS_MODULE":
                                                                        "tracker.settings"},
                         capture_output=True, text=True, check=True).stdout.split(" ", 1)
    return float(out[0]), out[1].strip()


def copy_seconds(conn):
    """COPY the same pledge rows, resolved to ids, into commitments_pledge, and commit: the commit runs the
    deferred foreign-key checks, which the import pays too. reset() empties the table again afterwards."""
    coalition = conn.execute("SELECT id FROM commitments_coalition").fetchone()[0]
    nations = dict(conn.execute("SELECT name, id FROM commitments_nation"))
    conn.commit()
    now = datetime.now(UTC)
    rows = [(coalition, nations[r["nation"]], r["kind"], r["description"], r["quantity"], r["unit"], False,
             r["amount"], r["currency"], "reported", False, "", r["announced_on"], "day", "public", "announced",
             "draft", r["external_id"], False, now, now) for r in template_rows()]
    columns = ("coalition_id, nation_id, kind, description, quantity, unit, quantity_undisclosed, amount, currency, "
               "valuation_basis, is_conditional, condition, announced_on, announced_precision, disclosure, status, "
               "publication, external_id, is_example, created_at, updated_at")
    start = time.perf_counter()
    with conn.cursor().copy(f"COPY commitments_pledge ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    conn.commit()
    return time.perf_counter() - start


# Every table an import of new pledges writes rows into, parents first.
WRITTEN = [("commitments_pledge", "id"), ("commitments_historicalpledge", "history_id"),
           ("commitments_pledge_sources", "id"), ("commitments_historicalpledge_sources", "m2m_history_id"),
           ("commitments_statusevent", "id"), ("commitments_historicalstatusevent", "history_id")]


def highest_ids(conn):
    return {table: conn.execute(f"SELECT coalesce(max({pk}), 0) FROM {table}").fetchone()[0]  # noqa: S608
            for table, pk in WRITTEN}


def copy_written_seconds(conn, before):
    """COPY back exactly the rows the import wrote (every table, history included) and commit: what the
    database alone needs to store the import's result. The rows are read out and deleted first."""
    dumps = {}
    for table, pk in WRITTEN:
        with conn.cursor().copy(f"COPY (SELECT * FROM {table} WHERE {pk} > {before[table]}) TO STDOUT") as copy:
            dumps[table] = b"".join(bytes(block) for block in copy)
    for table, pk in reversed(WRITTEN):
        conn.execute(f"DELETE FROM {table} WHERE {pk} > %s", [before[table]])  # noqa: S608
    conn.commit()
    start = time.perf_counter()
    for table, _pk in WRITTEN:
        with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
            copy.write(dumps[table])
    conn.commit()
    return time.perf_counter() - start, sum(dump.count(b"\n") for dump in dumps.values())


def main():
    (ROOT / ".bench").mkdir(exist_ok=True)
    path = ROOT / ".bench" / "import-100k.csv"
    prepare(path)
    imports, copies, copies_all = [], [], []
    with psycopg.connect(DB_URL) as conn:
        # This machine's speed drifts from minute to minute: the import and its baselines are measured in
        # turns, ROUNDS times, and compared by their medians.
        for round_ in range(ROUNDS):
            reset(conn)
            copies.append(copy_seconds(conn))
            reset(conn)
            before = highest_ids(conn)
            conn.commit()
            seconds, summary = run_import(path)
            imports.append(seconds)
            copy_all, written = copy_written_seconds(conn, before)
            copies_all.append(copy_all)
            print(f"  round {round_ + 1}: import {seconds:.2f} s, COPY {copies[-1]:.2f} s, "
                  f"COPY of all {copy_all:.2f} s", file=sys.stderr)
    seconds, copy, copy_all = (statistics.median(values) for values in (imports, copies, copies_all))
    lines = [f"template import of {ROWS:,} rows (new pledges), medians of {ROUNDS} rounds",
             f"  import_pledges: {seconds:8.2f} s = {ROWS / seconds:10,.0f} rows/s ({summary}); "
             f"rounds {min(imports):.2f}-{max(imports):.2f} s",
             f"  COPY of the same pledge rows: {copy:8.2f} s = {ROWS / copy:10,.0f} rows/s; "
             f"rounds {min(copies):.2f}-{max(copies):.2f} s",
             f"  import / COPY: {copy / seconds:.3f}x (target 0.25x)",
             f"  COPY of every row the import wrote ({written:,} rows in 6 tables, history included): "
             f"{copy_all:8.2f} s = {ROWS / copy_all:10,.0f} pledges/s; import / that: {copy_all / seconds:.3f}x"]
    print("\n".join(lines))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
