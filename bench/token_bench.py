"""Token endpoint benchmark: gunicorn (2 workers) + wrk, one line per figure.

    make bench                                   # SQLite in a temporary folder
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench make bench

Measures tokens/s and p50/p99 latency under load for client credentials (RS256 and ES256
APIs) and token exchange (the seed's basket -> discount delegation), and the server time per
request with a single connection (gunicorn's own timing).
Needs wrk (Debian package ``wrk``).
"""

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DURATION = os.environ.get("BENCH_DURATION", "10s")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout


def wait_until_serving(url: str, server: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn exited before serving")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not serve {url} within {timeout}s")


def wrk(url: str, body: str, authorization: str, connections: int, threads: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(body)}\n"
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
            f'wrk.headers["Authorization"] = "{authorization}"\n'
        )
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{DURATION}", "--latency", "-s", script.name, url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    os.unlink(script.name)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{errors.group(1)} requests failed:\n{out}")

    def percentile(p: str) -> float:
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * UNITS[unit]

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": percentile("50"),
        "p99": percentile("99"),
    }


def server_time_ms(access_log: Path, offset: int) -> float:
    """Median of gunicorn's per-request time for the requests logged after ``offset``."""
    with access_log.open() as log:
        log.seek(offset)
        times = sorted(int(line) for line in log if line.strip().isdigit())
    return times[len(times) // 2] / 1000


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="idp-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "idp.settings.base",
        "SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "IDP_ISSUER": f"http://127.0.0.1:{port}",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{workdir / 'bench.sqlite3'}",
    }
    database = env["DATABASE_URL"].split(":", 1)[0]
    access_log = workdir / "access.log"
    run(PYTHON, "manage.py", "migrate", "--noinput", env=env)
    demo = json.loads(run(PYTHON, "manage.py", "seed_demo", "--json", env=env))
    server = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            # %(D)s: microseconds gunicorn spent on each request, i.e. server time.
            "--access-logfile",
            str(access_log),
            "--access-logformat",
            "%(D)s",
            "idp.wsgi",
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/.well-known/openid-configuration", server)
        # alice's token for the shopping basket, as the web app would hold it after login.
        subject_token = run(
            PYTHON, "manage.py", "issue_token", "--user", "alice", "--client", "globoticket-web",
            "--scope", "shoppingbasket.fullaccess", env={**env, "DEBUG": "1"},
        ).strip()  # fmt: skip
        exchange = urlencode(
            {
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": subject_token,
                "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "scope": "discount.fullaccess",
            }
        )
        cases = {
            "client_credentials RS256": ("eventcatalog-admin", "grant_type=client_credentials&scope=eventcatalog.read"),
            "client_credentials ES256": ("shoppingbasket", "grant_type=client_credentials&scope=discount.fullaccess"),
            "token_exchange ES256": ("shoppingbasket", exchange),
        }
        print(f"# /o/token/, gunicorn 2 workers, {database}, {DURATION} per run")
        for case, (name, body) in cases.items():
            creds = demo["clients"][name]
            raw = f"{quote(creds['client_id'], safe='')}:{quote(creds['client_secret'], safe='')}"
            authorization = "Basic " + base64.b64encode(raw.encode()).decode()
            url = f"{base}/o/token/"
            wrk(url, body, authorization, connections=4, threads=1)  # warm-up: keys, connections
            loaded = wrk(url, body, authorization, connections=CONNECTIONS, threads=2)
            logged = access_log.stat().st_size
            single = wrk(url, body, authorization, connections=1, threads=1)
            server_ms = server_time_ms(access_log, logged)
            print(f"{case} tokens/s (c={CONNECTIONS}): {loaded['rps']:.0f}")
            print(f"{case} p50 ms (c={CONNECTIONS}): {loaded['p50']:.2f}")
            print(f"{case} p99 ms (c={CONNECTIONS}): {loaded['p99']:.2f}")
            print(f"{case} round trip ms (c=1, p50): {single['p50']:.2f}")
            print(f"{case} server time ms (c=1, p50): {server_ms:.2f}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
