"""Token endpoint benchmark: one command, one run, SQLite then PostgreSQL.

    make bench
    BENCH_DATABASES=postgres BENCH_REPEATS=5 make bench

For each database: the IdP under gunicorn (2 workers, the project's gunicorn.conf.py) and
wrk with keep-alive connections measure, in the same run and the same server,

- ``ceiling``: a minimal JSON view served as the token endpoint is (bench/urls.py);
- ``database floor``: the ceiling plus the two statements a stored token needs (bench/urls.py);
- client credentials for an RS256 API and for an ES256 API (stored tokens);
- client credentials for the ES256 API authenticated with ``private_key_jwt`` (a fresh ES256
  client assertion per request) and with a DPoP proof (RFC 9449: a fresh proof per request,
  the token bound to its key), beside the secret-based figure;
- token exchange (basket -> discount, ES256), against client credentials for the same API;
- introspection (the basket introspecting alice's token);
- growth: client credentials and exchange with 10^3 and with 10^6 stored tokens;

each as tokens/s, p50 and p99 latency and the ratio to the ceiling: medians of
BENCH_REPEATS runs of BENCH_DURATION each. Then the peak RSS of each worker. Resource-server
validation (apps/resource_server) is timed in-process once. Needs wrk (Debian: ``wrk``).
"""

import base64
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DURATION = os.environ.get("BENCH_DURATION", "5s")
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
GROWTH_ROWS = [int(n) for n in os.environ.get("BENCH_GROWTH_ROWS", "1000,1000000").split(",") if n]
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/idp_bench")
DATABASES = os.environ.get("BENCH_DATABASES", "sqlite,postgres").split(",")
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Requests signed for one run of a signed case: more than any run here reaches (a request
# never repeats: its jti would be refused as a replay, and wrk would report the failure).
SIGNED_PER_SECOND = 3_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def support(command: str, *args: str, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [PYTHON, "bench/support.py", command, *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


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


def search(pattern: str, text: str, flags: int = 0) -> re.Match[str]:
    """``re.search`` in output whose format the benchmark relies on: no match means the tool's
    output changed, said with the output rather than as an AttributeError on None."""
    found = re.search(pattern, text, flags)
    if found is None:
        raise SystemExit(f"no match for {pattern!r} in:\n{text}")
    return found


# Each wrk thread reads its own file of requests (one per line: the body, a tab, the DPoP header
# or nothing) and sends each once, in order.
VARIED_REQUESTS_LUA = """
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  requests, next_request = {}, 1
  for line in io.lines(args[1] .. "." .. id) do
    local body, dpop = line:match("^([^\t]*)\t?(.*)$")
    local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
    if AUTHORIZATION ~= "" then headers["Authorization"] = AUTHORIZATION end
    if dpop ~= "" then headers["DPoP"] = dpop end
    requests[#requests + 1] = wrk.format("POST", nil, headers, body)
  end
end
function request()
  local r = requests[next_request] or requests[#requests]
  next_request = next_request + 1
  return r
end
"""

WRK_THREADS = 2


def seconds(duration: str) -> float:
    value, unit = search(r"^([\d.]+)(ms|s|m)?$", duration).groups()
    return float(value) * {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[unit]


def wrk(
    url: str,
    body: str,
    authorization: str,
    *,
    duration: str = DURATION,
    connections: int = CONNECTIONS,
    varied: list[str] | None = None,
) -> dict:
    """One wrk run of POSTs to ``url``: the same ``body`` every time, or with ``varied`` each
    line (body, tab, DPoP header) once."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if varied is None:
            script.write(
                'wrk.method = "POST"\n'
                f"wrk.body = {json.dumps(body)}\n"
                'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
                f'wrk.headers["Authorization"] = "{authorization}"\n'
            )
        else:
            script.write(f"AUTHORIZATION = {json.dumps(authorization)}\n{VARIED_REQUESTS_LUA}")
    args: list[str] = []
    if varied is not None:
        args = ["--", script.name + ".requests"]
        for thread in range(WRK_THREADS):
            Path(f"{script.name}.requests.{thread}").write_text("\n".join(varied[thread::WRK_THREADS]) + "\n")
    try:
        out = subprocess.run(
            ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{duration}", "--latency", "-s", script.name, url]
            + args,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(script.name)
        for thread in range(WRK_THREADS):
            Path(f"{script.name}.requests.{thread}").unlink(missing_ok=True)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{errors.group(1)} requests failed:\n{out}")

    def percentile(p: str) -> float:
        value, unit = search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * UNITS[unit]

    return {
        "rps": float(search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": percentile("50"),
        "p99": percentile("99"),
    }


def _cpu_times() -> tuple[int, int]:
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[3] + fields[4], sum(fields)  # idle + iowait, total


def quiesce(busy_below: float = 0.15, timeout: float = 15) -> None:
    """Wait until the machine is nearly idle: the database's background work left by the
    previous case (autovacuum of the rows it inserted, checkpoints) is charged to that case,
    not to the next one. Without this, the ceiling measured after a token case swung between
    1,300 and 4,400 requests/s on the same code."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        idle_before, total_before = _cpu_times()
        time.sleep(0.5)
        idle_after, total_after = _cpu_times()
        elapsed = max(total_after - total_before, 1)
        if 1 - (idle_after - idle_before) / elapsed < busy_below:
            return


def median_of(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def basic(client: dict) -> str:
    raw = f"{quote(client['client_id'], safe='')}:{quote(client['client_secret'], safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


@dataclass(frozen=True)
class SignedClient:
    """The benchmark as a client holding a private key: it signs a fresh client assertion
    (RFC 7523) or DPoP proof (RFC 9449) for every request, as a real service would."""

    client_id: str
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def from_seed(cls, seeded: dict) -> "SignedClient":
        key = serialization.load_pem_private_key(seeded["private_key_pem"].encode(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return cls(seeded["client_id"], seeded["kid"], key)

    def assertion(self, audience: str) -> str:
        now = int(time.time())
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": audience, "iat": now, "exp": now + 120}
        claims["jti"] = str(uuid.uuid4())
        return jwt.encode(claims, self.private_key, algorithm="ES256", headers={"kid": self.kid})


def _proof_key() -> tuple[ec.EllipticCurvePrivateKey, dict]:
    key = ec.generate_private_key(ec.SECP256R1())
    return key, json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))


def dpop_proof(key: ec.EllipticCurvePrivateKey, public_jwk: dict, url: str) -> str:
    claims = {"htm": "POST", "htu": url, "iat": int(time.time()), "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": public_jwk})


@dataclass(frozen=True)
class Case:
    url: str
    body: str
    authorization: str
    # For a signed case: the requests of one run (each line: body, tab, DPoP header), signed
    # just before it, since proofs are only accepted for a minute after their iat.
    sign: Callable[[int], list[str]] | None = None

    def run(self, *, duration: str = DURATION, connections: int = CONNECTIONS) -> dict:
        varied = None if self.sign is None else self.sign(int(seconds(duration) * SIGNED_PER_SECOND))
        return wrk(self.url, self.body, self.authorization, duration=duration, connections=connections, varied=varied)


def private_key_jwt_case(token_url: str, client: SignedClient, form: dict[str, str]) -> Case:
    def sign(count: int) -> list[str]:
        assertion = {"client_assertion_type": CLIENT_ASSERTION_TYPE}
        return [urlencode({**form, **assertion, "client_assertion": client.assertion(token_url)}) for _ in range(count)]

    return Case(token_url, "", "", sign)


def dpop_case(token_url: str, authorization: str, form: dict[str, str]) -> Case:
    key, public_jwk = _proof_key()
    body = urlencode(form)

    def sign(count: int) -> list[str]:
        return [f"{body}\t{dpop_proof(key, public_jwk, token_url)}" for _ in range(count)]

    return Case(token_url, body, authorization, sign)


def exchange_body(subject_token: str) -> str:
    return urlencode(
        {
            "grant_type": EXCHANGE,
            "subject_token": subject_token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "scope": "discount.fullaccess",
        }
    )


def peak_rss_mib(master_pid: int) -> list[float]:
    """VmHWM (peak resident set) of each gunicorn worker, in MiB."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    peaks = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024)
    return peaks


def ensure_postgres_database(url: str) -> bool:
    """Create the benchmark database if missing; False if PostgreSQL is not reachable."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0].replace("postgres://", "postgresql://") + "/postgres"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        print(f"# PostgreSQL not reachable ({exc}); skipped")
        return False
    return True


def bench_database(database: str, workdir: Path) -> dict:
    port = free_port()
    url = POSTGRES_URL if database == "postgres" else f"sqlite:///{workdir / 'bench.sqlite3'}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "IDP_ISSUER": f"http://127.0.0.1:{port}",
        "DATABASE_URL": url,
        # SQLite has one writer at a time: threads would only queue on its lock.
        "GUNICORN_THREADS": os.environ.get("GUNICORN_THREADS", "1" if database == "sqlite" else "4"),
        # The limits stay on (their cost is part of every token request) with budgets no
        # benchmark reaches: one client, one address.
        "RATE_LIMIT_CLIENT": "1000000000/60",
        "RATE_LIMIT_ADDRESS_FAILURES": "1000000000/60",
    }
    seeded = support("seed", env=env)
    clients, subject_token = seeded["demo"]["clients"], seeded["subject_token"]
    basket, admin = basic(clients["shoppingbasket"]), basic(clients["eventcatalog-admin"])
    signed_basket = SignedClient.from_seed(seeded["bench_key"])
    server = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "--config",
            "gunicorn.conf.py",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "idp.wsgi",
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    token_url = f"{base}/o/token/"
    results: dict = {}
    try:
        wait_until_serving(f"{base}/.well-known/openid-configuration", server)
        cc_es256 = {"grant_type": "client_credentials", "scope": "discount.fullaccess"}
        cases = {
            "ceiling": Case(f"{base}/bench/ceiling", "", ""),
            "database floor": Case(f"{base}/bench/floor", "", ""),
            "client_credentials RS256": Case(token_url, "grant_type=client_credentials&scope=eventcatalog.read", admin),
            "client_credentials ES256": Case(token_url, urlencode(cc_es256), basket),
            "client_credentials ES256 private_key_jwt": private_key_jwt_case(token_url, signed_basket, cc_es256),
            "client_credentials ES256 DPoP": dpop_case(token_url, basket, cc_es256),
            "token_exchange ES256": Case(token_url, exchange_body(subject_token), basket),
            "introspection": Case(f"{base}/o/introspect/", urlencode({"token": subject_token}), basket),
        }
        for case in cases.values():
            case.run(duration="2s", connections=4)  # warm-up: keys, connections
        runs: dict[str, list[dict]] = {name: [] for name in cases}
        for _ in range(REPEATS):  # interleaved, so drift on a shared machine hits every case alike
            for name, case in cases.items():
                quiesce()
                runs[name].append(case.run())
        results["cases"] = {name: median_of(case_runs) for name, case_runs in runs.items()}
        results["growth"] = {}
        for rows in GROWTH_ROWS:
            filled = support("fill", str(rows), env=env)
            growth_cases = {
                "client_credentials ES256": cases["client_credentials ES256"],
                "token_exchange ES256": Case(token_url, exchange_body(filled["subject_token"]), basket),
            }
            growth_runs: dict[str, list[dict]] = {name: [] for name in growth_cases}
            for _ in range(REPEATS):
                for name, case in growth_cases.items():
                    quiesce()
                    growth_runs[name].append(case.run())
            results["growth"][rows] = {case: median_of(r) for case, r in growth_runs.items()}
        results["peak_rss_mib"] = peak_rss_mib(server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    results["threads"] = env["GUNICORN_THREADS"]
    return results


def report(database: str, results: dict) -> None:
    cases = results["cases"]
    ceiling = cases["ceiling"]["rps"]
    print(
        f"\n## {database}: gunicorn 2 workers x {results['threads']} threads, wrk -c{CONNECTIONS},"
        f" median of {REPEATS} x {DURATION}"
    )
    print("| case | tokens/s | p50 ms | p99 ms | of ceiling |")
    print("|---|---|---|---|---|")
    for case, figures in cases.items():
        rps, p50, p99 = figures["rps"], figures["p50"], figures["p99"]
        print(f"| {case} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {rps / ceiling:.2f} |")
    exchange, cc = cases["token_exchange ES256"]["rps"], cases["client_credentials ES256"]["rps"]
    print(f"\ntoken exchange / client credentials (both ES256, same client): {exchange / cc:.2f}")
    for variant in ("private_key_jwt", "DPoP"):
        signed = cases[f"client_credentials ES256 {variant}"]["rps"]
        print(f"client credentials with {variant} / with a client secret (ES256): {signed / cc:.2f}")
    if len(results["growth"]) == 2:
        (small, at_small), (large, at_large) = sorted(results["growth"].items())
        for case in at_small:
            change = at_large[case]["rps"] / at_small[case]["rps"] - 1
            print(
                f"{case}: {at_small[case]['rps']:.0f}/s with {small:,} stored tokens, "
                f"{at_large[case]['rps']:.0f}/s with {large:,} ({change:+.0%})"
            )
    print("peak RSS per worker: " + ", ".join(f"{mib:.0f} MiB" for mib in results["peak_rss_mib"]))


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="idp-bench-"))
    try:
        all_results = {}
        for database in DATABASES:
            if database == "postgres" and not ensure_postgres_database(POSTGRES_URL):
                continue
            all_results[database] = bench_database(database, workdir)
            report(database, all_results[database])
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{workdir / 'validate.sqlite3'}", "SECRET_KEY": "bench"}
        validation = support("validate", env=env)
        print("\n## resource-server validation (apps/resource_server), in-process, cached JWKS")
        for algorithm, figures in validation.items():
            print(f"{algorithm}: {figures['median_ms']:.3f} ms per token (median of batches of 100)")
        (workdir / "results.json").write_text(json.dumps({**all_results, "validation": validation}, indent=2))
        if os.environ.get("BENCH_JSON"):
            Path(os.environ["BENCH_JSON"]).write_text(json.dumps({**all_results, "validation": validation}, indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
