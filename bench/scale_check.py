"""make scale-check: the production layout on one machine, driven and checked, then taken down.

Starts a PostgreSQL primary and a streaming replica made from it with pg_basebackup (two clusters of their own, on
ports of their own), a Redis of its own, two gunicorn app servers (DATABASE_REPLICA_URLS, REDIS_URL) and haproxy in
front of them, as a TLS-terminating balancer would (it says X-Forwarded-Proto: https). Then, while wrk reads the
dashboard and the pledge list through the balancer at 64 connections for 30 s, an editor writes through the
balancer. It checks and prints:

- no errors: every response a 2xx or 3xx, no socket errors or timeouts;
- read-your-write: each write is what the editor reads next, through either app server;
- how long the replica took to show each write to anonymous readers;
- the anonymous API rate limit holds across both servers together (they count in the same Redis);
- an import previewed on one server is confirmed on the other.

Everything it started is stopped and its files removed, whatever happens. Settings: SCALE_SECONDS (30),
SCALE_CONNECTIONS (64), SCALE_PORT (56400: it uses that port and the next five).
"""
import atexit
import glob
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SECONDS = int(os.environ.get("SCALE_SECONDS", "30"))
CONNECTIONS = int(os.environ.get("SCALE_CONNECTIONS", "64"))
BASE = int(os.environ.get("SCALE_PORT", "56400"))
BALANCER, SERVERS, PRIMARY, REPLICA, REDIS = BASE, (BASE + 1, BASE + 2), BASE + 3, BASE + 4, BASE + 5
HOST = f"127.0.0.1:{BALANCER}"  # the site's address, whichever server answers
ANON_RATE = 40  # per minute, for the rate-limit check
PASSWORD = "scale check passphrase 2026"
KIEL_FILE = ROOT / "tests" / "commitments" / "fixtures" / "kiel_release.csv"

processes = []  # (name, Popen), stopped in reverse order
clusters = []  # data directories of running PostgreSQL clusters
workdir = None


def say(text=""):
    print(text, flush=True)


def pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    if shutil.which(name):
        return shutil.which(name)
    raise SystemExit(f"PostgreSQL's {name} is needed (Debian: apt-get install postgresql).")


def as_postgres(command):
    """PostgreSQL refuses to run as root: as root, run its programs as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def start(name, command, **kwargs):
    log = open(workdir / f"{name}.log", "w")  # noqa: SIM115 - kept open while the process runs
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, **kwargs)
    processes.append((name, process))
    return process


def cleanup():
    for _name, process in reversed(processes):
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    processes.clear()
    for data in reversed(clusters):
        subprocess.run(as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                       capture_output=True)
    clusters.clear()
    if workdir is not None and workdir.exists():
        shutil.rmtree(workdir, ignore_errors=True)


def wait_for(check, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001, S110 - not up yet
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not come up within {timeout} s (logs in {workdir}).")


# --- the parts ------------------------------------------------------------------------------------------------

def start_postgres():
    """A primary of its own and a streaming replica of it, made the way one is made in production."""
    pgdir = workdir / "pg"
    pgdir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(pgdir, "postgres", "postgres")
    primary, replica = pgdir / "primary", pgdir / "replica"
    subprocess.run(as_postgres([pg_bin("initdb"), "-D", str(primary), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                                "--no-sync"]), check=True, capture_output=True)
    with open(primary / "postgresql.conf", "a") as conf:
        conf.write(f"\nport = {PRIMARY}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{pgdir}'\n"
                   "wal_level = replica\nmax_wal_senders = 5\nfsync = off\n")
    subprocess.run(as_postgres([pg_bin("pg_ctl"), "-D", str(primary), "-l", str(pgdir / "primary.log"), "-w",
                                "start"]), check=True, capture_output=True)
    clusters.append(primary)
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{PRIMARY}/postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE tracker")
    return primary, replica, pgdir


def start_replica(replica, pgdir):
    subprocess.run(as_postgres([pg_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(PRIMARY), "-U", "postgres",
                                "-D", str(replica), "-R", "-X", "stream", "-c", "fast"]), check=True,
                   capture_output=True)
    with open(replica / "postgresql.conf", "a") as conf:
        conf.write(f"\nport = {REPLICA}\nhot_standby = on\n")
    subprocess.run(as_postgres([pg_bin("pg_ctl"), "-D", str(replica), "-l", str(pgdir / "replica.log"), "-w",
                                "start"]), check=True, capture_output=True)
    clusters.append(replica)
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{REPLICA}/tracker", autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0], "the replica is not in recovery"
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{PRIMARY}/postgres", autocommit=True) as conn:
        wait_for(lambda: conn.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
                 .fetchone()[0] == 1, "streaming replication")


def app_env():
    return dict(
        os.environ, DATABASE_URL=f"postgres://postgres@127.0.0.1:{PRIMARY}/tracker",
        DATABASE_REPLICA_URLS=f"postgres://postgres@127.0.0.1:{REPLICA}/tracker",
        REDIS_URL=f"redis://127.0.0.1:{REDIS}/0", DEBUG="0", SECRET_KEY="scale-check-" + "k" * 50,
        ALLOWED_HOSTS="127.0.0.1,localhost", TRUSTED_PROXIES="1", API_ANON_RATE=f"{ANON_RATE}/minute",
        LOGIN_THROTTLE_ATTEMPTS="5", LOG_LEVEL="WARNING")


def manage(*args, stdin=None):
    result = subprocess.run([PYTHON, "manage.py", *args], input=stdin, capture_output=True, text=True, cwd=ROOT,
                            env=app_env())
    if result.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def start_redis():
    start("redis", ["redis-server", "--port", str(REDIS), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
    import redis

    wait_for(lambda: redis.Redis(port=REDIS).ping(), "Redis")


def start_servers():
    gunicorn = str(Path(PYTHON).parent / "gunicorn")
    for index, port in enumerate(SERVERS, 1):
        start(f"app{index}", [gunicorn, "tracker.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                              "--log-level", "warning"], env=app_env())
    for port in SERVERS:
        wait_for(lambda port=port: request(port, "GET", "/healthz")[0] == 200, f"the app server on {port}")


def start_balancer():
    if not shutil.which("haproxy"):
        raise SystemExit("haproxy is needed: apt-get install haproxy (make scale-check installs it).")
    config = workdir / "haproxy.cfg"
    servers = "\n".join(f"    server app{i} 127.0.0.1:{port} maxconn 4 check" for i, port in enumerate(SERVERS, 1))
    config.write_text(f"""global
    maxconn 1000
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout queue 60s
    option forwardfor
    option http-server-close
frontend site
    bind 127.0.0.1:{BALANCER}
    http-request set-header X-Forwarded-Proto https
    default_backend apps
backend apps
    balance roundrobin
    option httpchk GET /healthz
{servers}
""")
    start("haproxy", ["haproxy", "-f", str(config), "-db"])
    wait_for(lambda: request(BALANCER, "GET", "/healthz")[0] == 200, "the balancer")


# --- a small HTTP client: the site's cookies are Secure (it is HTTPS behind the balancer) ------------------------

def request(port, method, path, body=None, headers=None, cookies=None):
    """(status, headers, body) of one request to 127.0.0.1:port as if through https://HOST."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    sent = {"Host": HOST, "X-Forwarded-Proto": "https", **(headers or {})}
    if cookies:
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    if cookies is not None:
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookies[name] = rest.split(";", 1)[0]
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def api_json(port, method, path, token, payload=None, etag=None):
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    if payload is not None:
        headers["Content-Type"] = "application/json"
    if etag:
        headers["If-Match"] = etag
    status, headers, data = request(port, method, path, json.dumps(payload) if payload is not None else None,
                                    headers)
    return status, headers, (json.loads(data) if data else None)


# --- the checks ---------------------------------------------------------------------------------------------------

class Editor(threading.Thread):
    """Writes a published pledge through the balancer, once every half second, while the readers' load runs; after
    each write reads it back through each app server, and times how long anonymous readers waited for it."""

    def __init__(self, token, pledge_id, stop):
        super().__init__(daemon=True)
        self.token, self.pledge_id, self.stop = token, pledge_id, stop
        self.writes, self.failed_writes, self.stale_reads, self.reads = 0, [], [], 0
        self.replica_lag, self.page_lag = [], []
        self.replica = psycopg.connect(f"postgresql://postgres@127.0.0.1:{REPLICA}/tracker", autocommit=True)

    def run(self):
        path = f"/api/v1/pledges/{self.pledge_id}/"
        while not self.stop.is_set():
            status, headers, _ = api_json(BALANCER, "GET", path, self.token)
            text = f"Scale check write {self.writes + 1} at {time.time():.3f}"
            status, headers, body = api_json(BALANCER, "PATCH", path, self.token,
                                             {"description": text, "change_reason": "scale check"}, headers["etag"])
            written = time.monotonic()
            if status != 200:
                self.failed_writes.append((status, body))
                continue
            self.writes += 1
            for port in SERVERS:
                status, _, body = api_json(port, "GET", path, self.token)
                self.reads += 1
                if status != 200 or body["description"] != text:
                    self.stale_reads.append((port, status, body and body.get("description")))
            # Anonymous readers read from the replica: how long until it holds the write, and until the reader
            # page through the balancer (queued behind the readers' load) shows it?
            while time.monotonic() - written < 10:
                if self.replica.execute("SELECT description FROM commitments_pledge WHERE id = %s",
                                        (self.pledge_id,)).fetchone()[0] == text:
                    self.replica_lag.append(time.monotonic() - written)
                    break
                time.sleep(0.002)
            while time.monotonic() - written < 20:
                status, _, page = request(BALANCER, "GET", f"/pledges/{self.pledge_id}/")
                if status == 200 and text.encode() in page:
                    self.page_lag.append(time.monotonic() - written)
                    break
            else:
                self.page_lag.append(float("inf"))
            self.stop.wait(0.5)


def readers_load():
    script = workdir / "paths.lua"
    script.write_text('local paths = {"/", "/pledges/"}\nlocal n = 0\n'
                      'request = function()\n  n = n + 1\n  return wrk.format("GET", paths[n % 2 + 1])\nend\n')
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--timeout", "20s", "--latency", "-s", str(script),
               "-H", f"Host: {HOST}", f"http://127.0.0.1:{BALANCER}/"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def wrk_figures(out):
    errors = {"non_2xx_3xx": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0}
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors.update(connect=int(m.group(1)), read=int(m.group(2)), write=int(m.group(3)), timeout=int(m.group(4)))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M))
    return requests, rate, errors, latency


def check_rate_limit():
    """Anonymous API requests, alternating between the two servers: together they allow ANON_RATE a minute."""
    for _ in range(3):  # a run that straddles the minute's edge counts two windows: run it again
        window = int(time.time() // 60)
        answers = [request(SERVERS[i % 2], "GET", "/api/v1/nations/")[0] for i in range(ANON_RATE * 2)]
        if int(time.time() // 60) == window:
            return answers.count(200), answers.count(429), len(answers)
        time.sleep(max(0.0, (window + 1) * 60 - time.time()) + 0.5)
    raise SystemExit("Could not fit the rate-limit check inside one minute.")


def admin_login(port, cookies):
    request(port, "GET", "/admin/login/", cookies=cookies)
    body = urllib.parse.urlencode({"username": "scale-editor", "password": PASSWORD, "next": "/admin/",
                                   "csrfmiddlewaretoken": cookies["csrftoken"]})
    status, headers, _ = request(port, "POST", "/admin/login/?next=/admin/", body, {
        "Content-Type": "application/x-www-form-urlencoded", "Referer": f"https://{HOST}/admin/login/"},
        cookies=cookies)
    if status != 302:
        raise SystemExit(f"The editor could not log in on port {port} (HTTP {status}).")


def check_lockout_across_servers(attempts=5):
    """Wrong passwords for the editor on the first server, then the right one on the second: refused there too."""
    answers = []
    for n in range(attempts):
        cookies = {}
        request(SERVERS[0], "GET", "/admin/login/", cookies=cookies)
        body = urllib.parse.urlencode({"username": "scale-editor", "password": f"wrong {n}", "next": "/admin/",
                                       "csrfmiddlewaretoken": cookies["csrftoken"]})
        answers.append(request(SERVERS[0], "POST", "/admin/login/?next=/admin/", body, {
            "Content-Type": "application/x-www-form-urlencoded", "Referer": f"https://{HOST}/admin/login/"},
            cookies=cookies)[0])
    try:
        admin_login(SERVERS[1], {})
    except SystemExit as refused:
        return answers, str(refused)
    return answers, None


def multipart(fields, file_field, filename, content):
    boundary = "scalecheckboundary7f3a"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
                 f'Content-Type: text/csv\r\n\r\n'.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def check_import_across_servers(token):
    """Preview an import on the first server; confirm it on the second, in the same editor's session."""
    cookies = {}
    admin_login(SERVERS[0], cookies)
    url = "/admin/commitments/pledge/import/"
    referer = {"Referer": f"https://{HOST}{url}"}
    body, content_type = multipart({"csrfmiddlewaretoken": cookies["csrftoken"], "format": "kiel",
                                    "release_date": "2025-06-30"}, "file", KIEL_FILE.name, KIEL_FILE.read_bytes())
    status, _, page = request(SERVERS[0], "POST", url, body, {"Content-Type": content_type, **referer},
                              cookies=cookies)
    if status != 200 or b'name="confirm"' not in page:
        raise SystemExit(f"The import preview failed on port {SERVERS[0]} (HTTP {status}).")
    form = {name: value for name, value in re.findall(rb'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}
    form = {k.decode(): v.decode() for k, v in form.items()}
    form.update(confirm="1", csrfmiddlewaretoken=cookies["csrftoken"])
    before = api_json(BALANCER, "GET", "/api/v1/pledges/?page_size=1", token)[2]["count"]
    status, headers, _ = request(SERVERS[1], "POST", url, urllib.parse.urlencode(form), {
        "Content-Type": "application/x-www-form-urlencoded", **referer}, cookies=cookies)
    after = api_json(BALANCER, "GET", "/api/v1/pledges/?page_size=1", token)[2]["count"]
    confirmed = status == 302 and headers.get("location", "").endswith("/admin/commitments/pledge/")
    return confirmed, status, before, after


def main():
    global workdir
    for tool in ("wrk", "haproxy", "redis-server"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed (make scale-check installs wrk, haproxy and Redis from Debian).")
    workdir = Path(tempfile.mkdtemp(prefix="tracker-scale-"))
    workdir.chmod(0o755)
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    failures = []
    started = time.monotonic()
    say(f"Starting a PostgreSQL primary (:{PRIMARY}), Redis (:{REDIS}) ...")
    _, replica, pgdir = start_postgres()
    start_redis()
    manage("collectstatic", "--no-input", "-v0")  # what a deployment does: production serves hashed static files
    manage("migrate", "--no-input", "-v0")
    manage("load_demo")
    manage("create_account", "scale-editor", "--role", "editor", stdin=PASSWORD + "\n")
    token = manage("api_token", "issue", "scale-editor", "--name", "scale check").strip()
    say(f"... a streaming replica of it made with pg_basebackup (:{REPLICA}) ...")
    start_replica(replica, pgdir)
    say(f"... two gunicorn app servers (:{SERVERS[0]}, :{SERVERS[1]}, 2 workers each) and haproxy (:{BALANCER}).")
    start_servers()
    start_balancer()
    say(f"Up in {time.monotonic() - started:.0f} s.\n")

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{PRIMARY}/tracker") as conn:
        pledge_id = conn.execute("SELECT min(id) FROM commitments_pledge WHERE publication = 'published'").fetchone()[0]
    stop = threading.Event()
    editor = Editor(token, pledge_id, stop)
    say(f"Readers: wrk, {CONNECTIONS} connections for {SECONDS} s on / and /pledges/ through the balancer; "
        "meanwhile an editor writes through it every half second.")
    editor.start()
    out = readers_load()
    stop.set()
    editor.join()
    requests, rate, errors, latency = wrk_figures(out)
    error_count = sum(errors.values())
    say(f"  readers: {requests:,} requests, {rate:,.0f} req/s, latency p50 {latency.get('50')}, "
        f"p90 {latency.get('90')}, p99 {latency.get('99')}; errors: {error_count} "
        f"({', '.join(f'{k} {v}' for k, v in errors.items())})")
    if error_count:
        failures.append(f"{error_count} reader errors")
    say(f"  editor: {editor.writes} writes, {len(editor.failed_writes)} failed; {editor.reads} reads back through "
        f"either server, {len(editor.stale_reads)} not showing the write just made")
    if editor.failed_writes or editor.stale_reads or not editor.writes:
        failures.append(f"writes failed {editor.failed_writes[:3]} or read stale {editor.stale_reads[:3]}")
    if editor.replica_lag:
        say(f"  the replica held each write after: median {statistics.median(editor.replica_lag) * 1000:.1f} ms, "
            f"at most {max(editor.replica_lag) * 1000:.1f} ms ({editor.writes - len(editor.replica_lag)} not within "
            "10 s)")
    shown = [lag for lag in editor.page_lag if lag != float("inf")]
    if shown:
        say(f"  anonymous readers' page through the balancer (queued behind the load) showed it after: median "
            f"{statistics.median(shown) * 1000:.0f} ms, at most {max(shown) * 1000:.0f} ms")
    if len(shown) != editor.writes or len(editor.replica_lag) != editor.writes:
        failures.append("a write did not reach anonymous readers")

    allowed, refused, sent = check_rate_limit()
    say(f"  rate limit: {sent} anonymous API requests alternating between the two servers within one minute: "
        f"{allowed} answered, {refused} refused with 429 (limit {ANON_RATE} a minute, for both together)")
    if allowed != ANON_RATE or refused != sent - ANON_RATE:
        failures.append(f"the rate limit allowed {allowed}, not {ANON_RATE}")

    confirmed, status, before, after = check_import_across_servers(token)
    say(f"  import: previewed on :{SERVERS[0]}, confirmed on :{SERVERS[1]}: "
        f"{'imported' if confirmed else f'HTTP {status}'}; pledges {before} -> {after}")
    if not confirmed or after <= before:
        failures.append("the import previewed on one server was not confirmed on the other")

    wrong, refused = check_lockout_across_servers()
    say(f"  login lockout: {len(wrong)} wrong passwords on :{SERVERS[0]} (answered {', '.join(map(str, wrong))}); "
        f"the right one on :{SERVERS[1]}: {'refused: ' + refused if refused else 'LET IN'}")
    if not refused or "429" not in refused:
        failures.append("a lockout on one server did not hold on the other")

    say()
    if failures:
        say("scale-check FAILED: " + "; ".join(failures) + f"\n(logs in {workdir}, removed on exit)")
        return 1
    say(f"scale-check passed in {time.monotonic() - started:.0f} s; stopping everything it started.")
    return 0


if __name__ == "__main__":
    try:
        code = main()
    finally:
        cleanup()
    sys.exit(code)
