"""make bench: fill PostgreSQL with synthetic pledges, serve the app with gunicorn, and measure, in one run:

- a page of 100 pledges from the API, against a raw psycopg + orjson app returning the same rows;
- each summary, cold (first computation after a write) and cached (repeated reads);
- a trivial JSON view (/healthz), the floor for any Django request.

Figures are requests per second from wrk (or, cold, seconds per request); each is printed with its ratio to the
raw view measured in the same run (the page and the raw view in turns, BENCH_ROUNDS times, by their medians).
Settings: BENCH_PLEDGES (1,000,000), BENCH_SECONDS (10), BENCH_ROUNDS (3), BENCH_DB_URL.
"""
import io
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PLEDGES = int(os.environ.get("BENCH_PLEDGES", "1000000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
DB_URL = os.environ.get("BENCH_DB_URL", "postgres://postgres@127.0.0.1:5432/tracker_bench")
APP_PORT, RAW_PORT = 8101, 8102
# A write, as far as caches can tell (the same as services.bump_data_version).
BUMP = ("INSERT INTO commitments_dataversion (id, version, changed_at, public_version, public_changed_at) "
        "VALUES (1, 1, now(), 1, now()) ON CONFLICT (id) DO UPDATE SET version = commitments_dataversion.version + 1, "
        "changed_at = now(), public_version = commitments_dataversion.public_version + 1, public_changed_at = now()")
WORKERS = 2
PYTHON = sys.executable

NATIONS = [
    ("United States", "US"), ("Germany", "DE"), ("United Kingdom", "GB"), ("Denmark", "DK"), ("Netherlands", "NL"),
    ("Sweden", "SE"), ("Poland", "PL"), ("Canada", "CA"), ("Norway", "NO"), ("Japan", "JP"), ("France", "FR"),
    ("Finland", "FI"), ("Italy", "IT"), ("Spain", "ES"), ("Belgium", "BE"), ("Czech Republic", "CZ"),
    ("Lithuania", "LT"), ("Estonia", "EE"), ("Latvia", "LV"), ("Australia", "AU"), ("Austria", "AT"),
    ("Portugal", "PT"), ("Slovakia", "SK"), ("Romania", "RO"), ("Croatia", "HR"), ("Greece", "GR"),
    ("Ireland", "IE"), ("Luxembourg", "LU"), ("Slovenia", "SI"), ("Bulgaria", "BG"), ("Hungary", "HU"),
    ("Switzerland", "CH"), ("South Korea", "KR"), ("Turkey", "TR"), ("New Zealand", "NZ"), ("Iceland", "IS"),
    ("Taiwan", "TW"), ("Cyprus", "CY"), ("Malta", "MT"),
]
BODIES = [("EU (Commission and Council)", "eu_institution", False), ("European Peace Facility", "fund", True),
          ("European Investment Bank", "fund", False), ("NATO", "alliance", False)]
KINDS = ["military", "financial", "humanitarian", "personnel", "training", "logistical", "expertise"]
STATUSES = ["unverified", "announced", "committed", "allocated", "partially_delivered", "delivered", "stalled",
            "cancelled", "superseded"]
CURRENCIES = [("EUR", 1.0), ("USD", 1.08), ("GBP", 0.85), ("SEK", 11.3), ("NOK", 11.6), ("DKK", 7.46),
              ("PLN", 4.3), ("CAD", 1.47), ("JPY", 160.0)]


def django_env(**extra):
    env = dict(os.environ, DATABASE_URL=DB_URL, DEBUG="0", SECRET_KEY="bench-" + "x" * 50,
               ALLOWED_HOSTS="127.0.0.1,localhost", SECURE_SSL_REDIRECT="0", API_ANON_RATE="1000000000/minute")
    env.update(extra)
    return env


def ensure_database():
    base, name = DB_URL.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    manage = [PYTHON, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input", "-v0"], check=True, env=django_env(), cwd=ROOT)


def copy_rows(cursor, table, columns, rows):
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def fill():
    """Synthetic pledges across realistic nations, objectives, kinds and statuses (reused if already there)."""
    with psycopg.connect(DB_URL) as conn, conn.cursor() as cursor:
        have = cursor.execute("SELECT count(*) FROM commitments_pledge").fetchone()[0]
        periods = cursor.execute("SELECT count(DISTINCT pledge_id) FROM commitments_pledgeperiod").fetchone()[0]
        if have == PLEDGES == periods:
            print(f"Reusing {have:,} synthetic pledges in {DB_URL.rsplit('/', 1)[1]}.")
            return
        print(f"Filling {PLEDGES:,} synthetic pledges ...", flush=True)
        started = time.monotonic()
        cursor.execute("TRUNCATE commitments_statusevent, commitments_pledge_sources, commitments_pledge_objectives, "
                       "commitments_pledgeperiod, commitments_pledgerevision, commitments_pledgeitem, "
                       "commitments_pledge, commitments_objective, commitments_membership, commitments_source, "
                       "commitments_nationfigures, commitments_nation, commitments_coalition RESTART IDENTITY CASCADE")
        now = datetime.now(UTC)
        cursor.execute("INSERT INTO commitments_coalition (name, slug, description, is_example, created_at, "
                       "updated_at) VALUES ('Synthetic coalition', 'synthetic', '', true, %s, %s) RETURNING id",
                       (now, now))
        coalition = cursor.fetchone()[0]
        nation_ids = []
        for i, (name, code) in enumerate(NATIONS):
            cursor.execute("INSERT INTO commitments_nation (name, slug, kind, country, is_pass_through, is_example,"
                           " updated_at) VALUES (%s, %s, 'state', %s, false, true, %s) RETURNING id",
                           (name, f"n{i}-{code.lower()}", code, now))
            nation_ids.append(cursor.fetchone()[0])
        for i, (name, kind, pass_through) in enumerate(BODIES):
            cursor.execute("INSERT INTO commitments_nation (name, slug, kind, country, is_pass_through, is_example,"
                           " updated_at) VALUES (%s, %s, %s, NULL, %s, true, %s) RETURNING id",
                           (name, f"body-{i}", kind, pass_through, now))
            nation_ids.append(cursor.fetchone()[0])
        objective_ids = []
        for i, area in enumerate(["capability", "air", "maritime", "land", "training", "logistics", "finance",
                                  "humanitarian"]):
            cursor.execute("INSERT INTO commitments_objective (coalition_id, title, slug, capability_area, "
                           "description, target_eur, target_unit, position, is_example, updated_at) VALUES "
                           "(%s, %s, %s, %s, '', %s, '', %s, true, %s) RETURNING id",
                           (coalition, f"Objective {i}", f"objective-{i}", area, 10**11, i, now))
            objective_ids.append(cursor.fetchone()[0])
        source_count = max(1, PLEDGES // 20)
        copy_rows(cursor, "commitments_source", ["title", "publisher", "url", "kind", "is_official", "is_example",
                                                 "created_at", "updated_at"],
                  ((f"Synthetic source {i}", "Bench", f"https://bench.invalid/{i}", "other", False, True, now, now)
                   for i in range(source_count)))
        first_source = cursor.execute("SELECT min(id) FROM commitments_source").fetchone()[0]

        rng = random.Random(42)
        start_day = date(2022, 2, 24)
        pledge_columns = ["coalition_id", "nation_id", "kind", "description", "quantity", "unit",
                          "quantity_undisclosed", "amount", "currency", "eur_value", "eur_rate", "eur_rate_date",
                          "valuation_basis", "is_conditional", "condition", "announced_on", "announced_precision",
                          "disclosure", "status", "delivered_quantity", "delivered_eur", "publication",
                          "published_at", "is_example", "created_at", "updated_at"]
        events = []

        def pledges():
            for i in range(PLEDGES):
                day = start_day + timedelta(days=rng.randrange(1400))
                currency, rate = CURRENCIES[rng.randrange(len(CURRENCIES))]
                amount = rng.randrange(10**5, 10**9)
                eur = round(amount / rate, 2)
                status = STATUSES[rng.randrange(len(STATUSES))]
                delivered = round(eur * rng.random(), 2) if status in ("partially_delivered", "delivered") else None
                quantity = rng.randrange(1, 500) if rng.random() < 0.5 else None
                undisclosed = quantity is None and rng.random() < 0.2
                conditional = rng.random() < 0.15
                if status != "unverified":
                    events.append((day, status, delivered))
                else:
                    events.append(None)
                yield (coalition, nation_ids[rng.randrange(len(nation_ids))], KINDS[rng.randrange(len(KINDS))],
                       f"Synthetic pledge {i}", quantity, "systems" if quantity is not None else "", undisclosed,
                       amount, currency, eur, rate, day, "reported", conditional,
                       "after a ceasefire" if conditional else "", day, "day", "public", status, None, delivered,
                       "published" if rng.random() < 0.95 else "draft", now, True, now, now)

        copy_rows(cursor, "commitments_pledge", pledge_columns, pledges())
        first_pledge = cursor.execute("SELECT min(id) FROM commitments_pledge").fetchone()[0]
        copy_rows(cursor, "commitments_pledge_objectives", ["pledge_id", "objective_id"],
                  ((first_pledge + i, objective_ids[i % len(objective_ids)]) for i in range(PLEDGES)))
        copy_rows(cursor, "commitments_pledge_sources", ["pledge_id", "source_id"],
                  ((first_pledge + i, first_source + i % source_count) for i in range(PLEDGES)))
        copy_rows(cursor, "commitments_statusevent", ["pledge_id", "status", "occurred_on", "source_id", "note",
                                                      "delivered_eur", "created_at", "updated_at"],
                  ((first_pledge + i, e[1], e[0], first_source + i % source_count, "", e[2], now, now)
                   for i, e in enumerate(events) if e is not None))
        # Each pledge has at most one status event, on its announcement day: its state never changes after, so its
        # derived state (timeline.periods) is one period from that day, and one revision holding its figures.
        cursor.execute("INSERT INTO commitments_pledgeperiod (pledge_id, valid_from, valid_to, status, is_conditional, "
                       "eur_value, source_eur_value, delivered_eur, quantity, unit, quantity_undisclosed, "
                       "delivered_quantity) SELECT id, announced_on, NULL, status, is_conditional, eur_value, "
                       "source_eur_value, delivered_eur, quantity, unit, quantity_undisclosed, delivered_quantity "
                       "FROM commitments_pledge")
        cursor.execute("INSERT INTO commitments_pledgerevision (pledge_id, effective_on, recorded_at, amount, "
                       "currency, eur_value, source_eur_value, quantity, unit, quantity_undisclosed, is_conditional) "
                       "SELECT id, NULL, now(), amount, currency, eur_value, source_eur_value, quantity, unit, "
                       "quantity_undisclosed, is_conditional FROM commitments_pledge")
        cursor.execute(BUMP)
        conn.commit()
        cursor.execute("ANALYZE")
        print(f"Filled in {time.monotonic() - started:.0f} s.", flush=True)


def serve():
    common = ["--workers", str(WORKERS), "--worker-class", "sync", "--log-level", "warning"]
    app = subprocess.Popen([str(Path(PYTHON).parent / "gunicorn"), "tracker.wsgi", "--bind",
                            f"127.0.0.1:{APP_PORT}", *common], env=django_env(), cwd=ROOT)
    raw = subprocess.Popen([str(Path(PYTHON).parent / "gunicorn"), "raw_app:application", "--bind",
                            f"127.0.0.1:{RAW_PORT}", "--chdir", str(ROOT / "bench"), *common],
                           env=dict(os.environ, RAW_DSN=DB_URL.replace("postgres://", "postgresql://")), cwd=ROOT)
    for port in (APP_PORT, RAW_PORT):
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz" if port == APP_PORT
                                       else f"http://127.0.0.1:{port}/", timeout=30)
                break
            except OSError:
                time.sleep(0.2)
    return [app, raw]


def wrk(url):
    """Requests per second over BENCH_SECONDS, after a short warm-up."""
    subprocess.run(["wrk", "-t1", "-c2", "-d2s", url], capture_output=True, check=True)
    out = subprocess.run(["wrk", "-t1", "-c4", f"-d{SECONDS}s", url], capture_output=True, text=True,
                         check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise SystemExit(f"{url} answered {non_2xx.group(1)} errors:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


# PostgreSQL's own GROUP BY for the same figures, in plain SQL over the pledges' own columns: grouped by the
# summary's key and by what decides which figures a pledge counts in (status, deliveries reported, conditionality,
# pass-through, example), with counts and sums, the fastest plain form found (docs/benchmarks.md). By month: every
# figure as a filtered aggregate over the stored periods, by the month each starts and ends in.
ANNOUNCED = "('announced', 'committed', 'allocated', 'partially_delivered', 'delivered', 'stalled')"
COMMITTED = "('committed', 'allocated', 'partially_delivered', 'delivered')"
RAW_GROUPED_BY = {"totals": "p.nation_id", "by-nation": "n.id", "by-objective": "po.objective_id",
                  "by-kind": "p.kind", "by-status": "p.status"}


def raw_summary_sql(name):
    """The queries PostgreSQL alone runs for a summary (by month: two, for the months periods start and end in)."""
    source = "commitments_pledge p JOIN commitments_nation n ON n.id = p.nation_id"
    if name == "by-month":
        stages = {"announced": (f"s.status IN {ANNOUNCED}", "s.eur_value"),
                  "committed": (f"s.status IN {COMMITTED}", "s.eur_value"),
                  "delivered": ("(s.status IN ('partially_delivered', 'delivered') OR s.delivered_eur > 0 "
                                "OR s.delivered_quantity > 0)", "s.delivered_eur")}
        columns = ["count(*)", "count(*) FILTER (WHERE p.is_example)"]
        for conditional in ("false", "true"):
            for where, value in stages.values():
                where = f"{where} AND s.is_conditional = {conditional} AND NOT n.is_pass_through"
                columns += [f"count(*) FILTER (WHERE {where})", f"sum({value}) FILTER (WHERE {where})",
                            f"count({value}) FILTER (WHERE {where})"]
        return [f"SELECT date_trunc('month', s.{end}) AS month, {', '.join(columns)} FROM commitments_pledgeperiod s "
                f"JOIN {source} ON p.id = s.pledge_id WHERE p.publication = 'published' AND s.{end} <= now() "
                f"GROUP BY 1" for end in ("valid_from", "valid_to")]
    columns = ["count(*)", "sum(p.eur_value)", "count(p.eur_value)", "sum(p.delivered_eur)", "count(p.delivered_eur)"]
    if name == "by-objective":
        source += (" JOIN commitments_pledge_objectives po ON po.pledge_id = p.id "
                   "JOIN commitments_objective o ON o.id = po.objective_id")
        columns += [f"{aggregate} FILTER (WHERE p.unit = o.target_unit)"
                    for aggregate in ("sum(p.quantity)", "count(p.quantity)", "count(*)")]
    decided_by = ("p.status, p.is_conditional, n.is_pass_through, p.is_example, "
                  "(p.delivered_eur > 0 OR p.delivered_quantity > 0)")
    return [f"SELECT {RAW_GROUPED_BY[name]}, {decided_by}, {', '.join(columns)} FROM {source} "
            f"WHERE p.publication = 'published' GROUP BY {RAW_GROUPED_BY[name]}, {decided_by}"]


def raw_summary_seconds(name, repeats=3):
    """Seconds PostgreSQL takes for a summary's GROUP BY, from psycopg (best of `repeats`)."""
    timings = []
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        for _ in range(repeats):
            started = time.monotonic()
            for sql in raw_summary_sql(name):
                conn.execute(sql).fetchall()
            timings.append(time.monotonic() - started)
    return min(timings)


def cold_seconds(url, repeats=3):
    """Seconds for the first read after a write (the summary cache is keyed on the data version)."""
    timings = []
    for _ in range(repeats):
        with psycopg.connect(DB_URL, autocommit=True) as conn:
            conn.execute(BUMP)
        started = time.monotonic()
        urllib.request.urlopen(url, timeout=600).read()
        timings.append(time.monotonic() - started)
    return min(timings)


def main():
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk (make bench installs it).")
    ensure_database()
    fill()
    processes = serve()
    try:
        app, raw = f"http://127.0.0.1:{APP_PORT}", f"http://127.0.0.1:{RAW_PORT}/"
        api_page = f"{app}/api/v1/pledges/?page_size=100"
        a = urllib.request.urlopen(api_page).read()
        b = urllib.request.urlopen(raw).read()
        import orjson

        same = [r["id"] for r in orjson.loads(a)["results"]] == [r["id"] for r in orjson.loads(b)["results"]]
        print(f"\n{PLEDGES:,} pledges, {WORKERS} gunicorn workers each, wrk 4 connections, {SECONDS} s per figure."
              f" Same 100 rows from both: {same}\n")
        # This machine's speed drifts by a fifth from minute to minute: the page and its baseline are measured
        # in turns, ROUNDS times each, and compared by their medians.
        raws, pages = [], []
        for _ in range(ROUNDS):
            raws.append(wrk(raw))
            pages.append(wrk(api_page))
        baseline = statistics.median(raws)
        print("raw, per round:", ", ".join(f"{r:,.0f}" for r in raws), "req/s; API page:",
              ", ".join(f"{p:,.0f}" for p in pages), "req/s")
        lines = [("raw psycopg + orjson, page of 100, median", baseline, "req/s")]
        lines.append(("API /api/v1/pledges/?page_size=100, median", statistics.median(pages), "req/s"))
        lines.append(("trivial JSON view /healthz", wrk(f"{app}/healthz"), "req/s"))
        for name in ["totals", "by-nation", "by-objective", "by-kind", "by-status", "by-month"]:
            url = f"{app}/api/v1/summaries/{name}/"
            raw_group_by = raw_summary_seconds(name)
            lines.append((f"raw GROUP BY for {name} (PostgreSQL alone)", raw_group_by, "raw s"))
            lines.append((f"summary {name}, cold (first read after a write)", (cold_seconds(url), raw_group_by), "s"))
            lines.append((f"summary {name}, cached", wrk(url), "req/s"))
        report = io.StringIO()
        for label, value, unit in lines:
            ratio = f"{value / baseline:6.2f}x raw" if unit == "req/s" else ""
            if unit == "s":  # a cold summary, against PostgreSQL's own GROUP BY for it
                value, raw_group_by = value
                ratio = f"{value / raw_group_by:6.2f}x raw GROUP BY"
            shown = f"{value * 1000:>10,.0f} ms" if unit in ("s", "raw s") else f"{value:>10,.1f} {unit}"
            report.write(f"{label:<55} {shown:<17} {ratio}\n")
        print(report.getvalue())
        (ROOT / ".bench").mkdir(exist_ok=True)
        (ROOT / ".bench" / "results.txt").write_text(report.getvalue())
    finally:
        for process in processes:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()
