"""make bench-import: the import's two targets, measured in this run.

1. A full Kiel release: a synthetic main sheet of BENCH_KIEL_ROWS rows (2,300, as a real release: ~45 donors, packages
   of several value and item rows, deliveries, dates in words) imported with its release date into an empty SQLite
   tracker. Target: under 5 s.
2. Our template: BENCH_IMPORT_ROWS rows (100,000) imported into an empty PostgreSQL tracker (BENCH_IMPORT_DB_URL,
   default tracker_bench_import on 127.0.0.1). Target: under 3 minutes.

Each is timed from reading the file to the commit, in a fresh process, BENCH_ROUNDS (3) times from the same empty
database; the median is reported, with re-importing the same file (which must change nothing) after the last round.
"""
import csv
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".bench"
ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
KIEL_ROWS = int(os.environ.get("BENCH_KIEL_ROWS", "2300"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
DB_URL = os.environ.get("BENCH_IMPORT_DB_URL", "postgres://postgres@127.0.0.1:5432/tracker_bench_import")
NATIONS = [("France", "FR"), ("Germany", "DE"), ("United Kingdom", "GB"), ("Poland", "PL"), ("Norway", "NO"),
           ("Denmark", "DK"), ("Sweden", "SE"), ("Netherlands", "NL"), ("Italy", "IT"), ("Canada", "CA")]
CURRENCIES = ["EUR", "GBP", "NOK", "SEK", "DKK", "PLN", "USD"]
KINDS = ["military", "financial", "humanitarian", "training", "logistical"]
COLUMNS = ["external_id", "coalition", "nation", "kind", "description", "quantity", "unit", "amount", "currency",
           "announced_on", "sources", "status", "status_on", "status_source"]
KIEL_DONORS = [
    "United States", "Germany", "United Kingdom", "EU (Commission and Council)", "European Peace Facility",
    "European Investment Bank", "Denmark", "Netherlands", "Sweden", "Poland", "Canada", "Norway", "Japan", "France",
    "Finland", "Italy", "Spain", "Belgium", "Czech Republic", "Lithuania", "Estonia", "Latvia", "Australia",
    "Austria", "Portugal", "Slovakia", "Romania", "Croatia", "Greece", "Ireland", "Luxembourg", "Slovenia",
    "Bulgaria", "Hungary", "Switzerland", "South Korea", "Turkey", "New Zealand", "Iceland", "Taiwan", "Cyprus",
    "Malta", "China", "India", "Cyprus"]
KIEL_CURRENCIES = ["EUR", "USD", "GBP", "NOK", "SEK", "DKK", "PLN", "CAD", "JPY", "CHF", "CZK", "AUD", "TWD", "KRW",
                   "HUF", "RON", "BGN", "NZD"]
KIEL_HEADER = [
    "ID", "Countries", "Announcement Date", "Type of Aid General", "Type of Aid Specific", "Explanation",
    "Original Currency", "Monetary Value as Given by Source", "Items", "Type of Item", "Sub-type of item",
    "No. of Units", "No. of Units Delivered (in-kind military aid)", "Unit Price in USD", "Total ",
    "Converted Value in EUR", "Total monetary value delivered in EUR", "Official Source", "Source of Aid 1",
    "Source of Aid 2", "Source of Aid 3", "Source of Aid 4", "Deliveries = Commitments (1=yes, 0=no)",
    "Official delivery source (1=yes, 0=no)", "Source for Delivery",
    "Total_value_dummy (1 is first row in the package)", "value_source_commitments", "Earmarked year"]
ITEMS = [("Leopard 2A6", "Heavy weapon", "Main Battle Tank (MBT)"), ("M777", "Heavy weapon", "155mm howitzer"),
         ("155mm round", "Ammunition for heavy weapon", "155mm howitzer ammunition"),
         ("IRIS-T", "Heavy weapon", "Anti-aircraft surface-to-air missile (SAM) system"),
         ("Helmet", "Military equipment", "Military equipment"), ("Drone", "Aviation and drones", "Drone")]


def env(**extra):
    return dict(os.environ, DEBUG="0", SECRET_KEY="bench-" + "x" * 50, ALLOWED_HOSTS="127.0.0.1",
                SECURE_SSL_REDIRECT="0", DJANGO_SETTINGS_MODULE="tracker.settings", **extra)


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


def kiel_rows():
    """A synthetic release of KIEL_ROWS rows in the Kiel main sheet's layout, with a real release's quirks."""
    rng = random.Random(11)
    rows, package = [], 0
    while len(rows) < KIEL_ROWS:
        package += 1
        donor = KIEL_DONORS[package % len(KIEL_DONORS)]
        currency = KIEL_CURRENCIES[package % len(KIEL_CURRENCIES)]
        day = date(2022, 2, 24) + timedelta(days=rng.randrange(900))
        written = rng.choice([f"{day.month}/{day.day}/{day.year}", f"until {day.month}/{day.day}/{day.year}",
                              f"unclear, {day.month:02}/{day.year % 100}", "unspecified"])
        key, kind = f"B{package}", rng.choice(["Military", "Financial", "Humanitarian"])
        delivered_all = rng.random() < 0.3
        for tranche in range(rng.choice([1, 1, 1, 2, 3])):
            total = rng.randrange(10**6, 10**9)
            rows.append({"ID": key, "Countries": donor, "Announcement Date": written, "Type of Aid General": kind,
                         "Explanation": f"Package {key}, tranche {tranche + 1}.", "Original Currency": currency,
                         "Monetary Value as Given by Source": f"{total:,}", "Total ": f"{total:,}",
                         "Converted Value in EUR": f"{total // 2:,}",
                         "Total monetary value delivered in EUR": f"{total // 4:,}" if delivered_all else ".",
                         "Official Source": "Yes", "Source of Aid 1": f"https://news.example/{key}",
                         "Deliveries = Commitments (1=yes, 0=no)": "1" if delivered_all else "0",
                         "Total_value_dummy (1 is first row in the package)": "1",
                         "value_source_commitments": "Value is given by the source",
                         "Earmarked year": str(2022 + tranche)})
        for _ in range(rng.choice([0, 0, 1, 2, 4]) if kind == "Military" else 0):
            name, item_type, sub_type = rng.choice(ITEMS)
            units = rng.choice(["undisclosed", str(rng.randrange(1, 200))])
            rows.append({"ID": key, "Countries": donor, "Announcement Date": written, "Type of Aid General": kind,
                         "Original Currency": currency, "Items": name, "Type of Item": item_type,
                         "Sub-type of item": sub_type, "No. of Units": units,
                         "No. of Units Delivered (in-kind military aid)": units if delivered_all else ".",
                         "Unit Price in USD": str(rng.randrange(100, 10**7)), "Official Source": "Yes",
                         "Source of Aid 1": f"https://news.example/{key}",
                         "Deliveries = Commitments (1=yes, 0=no)": "1" if delivered_all else "0",
                         "Total_value_dummy (1 is first row in the package)": "0"})
    rows = rows[:KIEL_ROWS - 1] + [{"Total ": "0"}]  # and a trailing row holding one stray 0
    return rows


def write_csv(path, header, rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, restval="", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())


IMPORT = ("import sys, time, datetime, django; django.setup();"
          "from django.contrib.auth.models import User;"
          "from tracker.commitments.imports import importer;"
          "path, fmt, release = sys.argv[1:4];"
          "data = open(path, 'rb').read(); t = time.perf_counter();"
          "r = importer.import_file(data, 'bench.csv', fmt=fmt, user=User.objects.get(username='bench'),"
          " coalition='Bench coalition', release_date=datetime.date.fromisoformat(release) if release else None);"
          "print(time.perf_counter() - t, r.summary(), r.errors[:3])")


def run_import(path, fmt, database_url, release=""):
    result = subprocess.run([sys.executable, "-c", IMPORT, str(path), fmt, release], cwd=ROOT,
                            env=env(DATABASE_URL=database_url), capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(result.stderr[-3000:])
    seconds, summary = result.stdout.strip().split(" ", 1)
    return float(seconds), summary


def migrate(database_url):
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env(DATABASE_URL=database_url),
                   check=True)
    subprocess.run([sys.executable, "manage.py", "create_account", "bench", "--role", "reviewer"], cwd=ROOT,
                   env=env(DATABASE_URL=database_url), input="bench-password-123\n", text=True, check=True,
                   capture_output=True)


def kiel_on_sqlite():
    path = OUT / "kiel-release.csv"
    write_csv(path, KIEL_HEADER, kiel_rows())
    empty = OUT / "kiel-empty.sqlite3"
    empty.unlink(missing_ok=True)
    migrate(f"sqlite:///{empty}")
    times = []
    for _ in range(ROUNDS):
        database = OUT / "kiel.sqlite3"
        shutil.copy(empty, database)
        seconds, summary = run_import(path, "kiel", f"sqlite:///{database}", "2024-06-30")
        times.append(seconds)
    again, again_summary = run_import(path, "kiel", f"sqlite:///{database}", "2024-06-30")
    return times, summary, again, again_summary


def template_on_postgresql():
    path = OUT / "template-rows.csv"
    write_csv(path, COLUMNS, template_rows())
    admin = psycopg.connect(DB_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True)
    name = DB_URL.rsplit("/", 1)[1]
    if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        admin.execute(f'CREATE DATABASE "{name}"')
    migrate(DB_URL)
    times = []
    with psycopg.connect(DB_URL) as conn:
        for _ in range(ROUNDS):
            tables = [row[0] for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'commitments_%%' "
                "AND tablename <> 'commitments_dataversion'")]
            conn.execute("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE")
            conn.commit()
            seconds, summary = run_import(path, "template", DB_URL)
            times.append(seconds)
    again, again_summary = run_import(path, "template", DB_URL)
    return times, summary, again, again_summary


def main():
    OUT.mkdir(exist_ok=True)
    lines = [f"Import benchmark: {ROUNDS} rounds each, medians"]
    times, summary, again, again_summary = kiel_on_sqlite()
    median = statistics.median(times)
    lines += [f"Kiel release, {KIEL_ROWS:,} rows, SQLite: {median:.2f} s (rounds "
              f"{', '.join(f'{t:.2f}' for t in times)}; target under 5 s: {'met' if median < 5 else 'NOT met'}); "
              f"{summary}", f"  the same release again: {again:.2f} s; {again_summary}"]
    print(lines[-2], lines[-1], sep="\n", flush=True)
    times, summary, again, again_summary = template_on_postgresql()
    median = statistics.median(times)
    lines += [f"Template, {ROWS:,} rows, PostgreSQL: {median:.1f} s = {ROWS / median:,.0f} rows/s (rounds "
              f"{', '.join(f'{t:.1f}' for t in times)}; target under 180 s: {'met' if median < 180 else 'NOT met'}); "
              f"{summary}", f"  the same file again: {again:.1f} s; {again_summary}"]
    print(lines[-2], lines[-1], sep="\n", flush=True)
    (OUT / "imports.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
