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

Then, with npm and node on the machine (``BENCH_PEER=0`` skips it), the same client-credentials
requests against node-oidc-provider configured like our demo (bench/peer/server.mjs: cluster of
2 processes, JWT access tokens, not stored; on PostgreSQL also a variant that INSERTs each
token), interleaved with ours run by run, and the ratio of the medians. A run with any non-2xx
response or socket error is refused, on either side.
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
import urllib.error
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


def wait_until_serving(url: str, server: subprocess.Popen, timeout: float = 30, name: str = "gunicorn") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"{name} exited before serving")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{name} did not serve {url} within {timeout}s")


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


class FailedRequests(Exception):
    """wrk saw a response other than 2xx, or a socket error (a timeout is a request that never
    completed and is missing from the latencies): the run's figures are not reported."""


SOCKET_ERRORS = ("connect", "read", "write", "timeout")


def parse_wrk(out: str) -> dict:
    """Requests/s and the p50 and p99 latencies (ms) of wrk's ``--latency`` output; raises
    FailedRequests if any request failed."""
    errors = []
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if failed:
        errors.append(f"{failed.group(1)} non-2xx responses")
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sockets:
        errors += [
            f"{count} socket {kind} errors"
            for kind, count in zip(SOCKET_ERRORS, sockets.groups(), strict=True)
            if count != "0"
        ]
    if errors:
        raise FailedRequests(", ".join(errors) + f" in:\n{out}")

    def percentile(p: str) -> float:
        value, unit = search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * UNITS[unit]

    return {
        "rps": float(search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": percentile("50"),
        "p99": percentile("99"),
    }


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
    return parse_wrk(out)


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
    """VmHWM (peak resident set) of each worker (gunicorn's, or node's cluster), in MiB."""
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


PEER_DIR = ROOT / "bench" / "peer"
# The cases measured against node-oidc-provider, and the algorithm each token must be signed with.
PEER_CASES = {"client_credentials RS256": "RS256", "client_credentials ES256": "ES256"}
PEER_CLIENTS = ("eventcatalog-admin", "shoppingbasket")


def peer_unavailable() -> str | None:
    """Why node-oidc-provider cannot be measured here, or None once bench/peer's locked
    dependencies are installed (``npm ci`` the first time and when package-lock.json changes)."""
    if os.environ.get("BENCH_PEER", "1") == "0":
        return "BENCH_PEER=0"
    for tool in ("npm", "node"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Node.js 20 or later)"
    locked = json.loads((PEER_DIR / "package-lock.json").read_text())["packages"]
    installed_lock = PEER_DIR / "node_modules" / ".package-lock.json"
    installed = json.loads(installed_lock.read_text())["packages"] if installed_lock.exists() else {}
    if installed != {name: package for name, package in locked.items() if name}:
        print("# npm ci in bench/peer", flush=True)
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER_DIR, capture_output=True, text=True)
        if done.returncode != 0:
            return f"npm ci failed in bench/peer:\n{done.stdout}{done.stderr}"
    return None


def peer_versions() -> dict[str, str]:
    package = json.loads((PEER_DIR / "node_modules" / "oidc-provider" / "package.json").read_text())
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    return {"oidc-provider": package["version"], "node": node}


class PeerFailed(Exception):
    """node-oidc-provider did not start: our figures stand, the comparison is not made."""


def start_peer(secrets: dict[str, str], *, store_url: str | None, log: Path) -> tuple[subprocess.Popen, str]:
    """bench/peer/server.mjs on a free loopback port: 2 worker processes, as gunicorn's."""
    port = free_port()
    env = {
        **os.environ,
        "NODE_ENV": "production",
        "PEER_PORT": str(port),
        "PEER_WORKERS": "2",
        "PEER_CLIENTS": json.dumps(secrets),
    }
    if store_url:
        env["PEER_STORE_URL"] = store_url
    with log.open("w") as output:
        server = subprocess.Popen(
            ["node", "server.mjs"],
            cwd=PEER_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/.well-known/openid-configuration", server, name="node-oidc-provider")
    except SystemExit as exc:
        stop(server)
        raise PeerFailed(f"{exc}:\n{log.read_text()}") from None
    return server, base


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=10)


def issued_algorithm(case: Case) -> str:
    """One request of ``case``: the ``alg`` of the access token it returns (a JWS header),
    so that a misconfigured server is found before it is measured."""
    request = urllib.request.Request(
        case.url,
        data=case.body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": case.authorization},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            token = json.load(response)["access_token"]
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.read().decode(errors='replace')}"
    try:
        return jwt.get_unverified_header(token)["alg"]
    except jwt.DecodeError:
        return f"not a JWT: {token[:40]}"


def interleaved(sides: dict[str, Case], refused: dict[str, str]) -> dict[str, list[dict]]:
    """REPEATS runs of each side, taking turns (A B A B ...): drift on a shared machine falls
    on every side alike. A side whose run fails is refused and not run again."""
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    for _ in range(REPEATS):
        for side, case in sides.items():
            if side in refused:
                continue
            quiesce()
            try:
                runs[side].append(case.run())
            except FailedRequests as exc:
                refused[side] = str(exc).split(" in:", 1)[0]
    return runs


def compare_with_peer(ours: dict[str, Case], secrets: dict[str, str], *, store_url: str | None, workdir: Path) -> dict:
    """Our client-credentials cases against node-oidc-provider's, interleaved; with
    ``store_url`` also against node-oidc-provider INSERTing each token into that database."""
    variants: dict[str, str | None] = {"node-oidc-provider": None}
    if store_url:
        variants["node-oidc-provider, stored"] = store_url
    servers: dict[str, tuple[subprocess.Popen, str]] = {}
    results: dict = {"versions": peer_versions(), "cases": {}, "peak_rss_mib": {}}
    try:
        for number, (variant, url) in enumerate(variants.items()):
            servers[variant] = start_peer(secrets, store_url=url, log=workdir / f"peer-{number}.log")
        for name, algorithm in PEER_CASES.items():
            sides = {"ours": ours[name]}
            for variant, (_, base) in servers.items():
                sides[variant] = Case(f"{base}/token", ours[name].body, ours[name].authorization)
            refused: dict[str, str] = {}
            for side, case in sides.items():
                issued = issued_algorithm(case)
                if issued != algorithm:
                    refused[side] = f"issued {issued} rather than an {algorithm} JWT"
                    continue
                try:
                    case.run(duration="2s", connections=4)  # warm-up: node's JIT, our workers' caches
                except FailedRequests as exc:
                    refused[side] = "warm-up: " + str(exc).split(" in:", 1)[0]
            runs = interleaved(sides, refused)
            figures: dict[str, dict] = {}
            for side in sides:
                figures[side] = {"refused": refused[side]} if side in refused else median_of(runs[side])
                figures[side]["runs"] = runs[side]
            results["cases"][name] = figures
        for variant, (server, _) in servers.items():
            results["peak_rss_mib"][variant] = peak_rss_mib(server.pid)
    finally:
        for server, _ in servers.values():
            stop(server)
    return results


def idp_env(*, database_url: str, issuer: str, threads: str, **extra: str) -> dict[str, str]:
    """The environment of the IdP under measurement: production settings but plain HTTP on
    loopback, and the rate limits on (their cost is part of every token request) with budgets
    no benchmark reaches: one client, one address."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "IDP_ISSUER": issuer,
        "DATABASE_URL": database_url,
        "GUNICORN_THREADS": threads,
        "RATE_LIMIT_CLIENT": "1000000000/60",
        "RATE_LIMIT_ADDRESS_FAILURES": "1000000000/60",
        **extra,
    }


def start_gunicorn(env: dict[str, str], port: int, *, workers: int, options: tuple[str, ...] = ()) -> subprocess.Popen:
    """The IdP under gunicorn with ``gunicorn.conf.py`` (``options`` added), in a session of
    its own so that stopping it stops its workers."""
    command = [PYTHON, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--workers", str(workers)]
    command += ["--bind", f"127.0.0.1:{port}", "--log-level", "warning", *options, "idp.wsgi"]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def bench_database(database: str, workdir: Path, *, peer: bool = False) -> dict:
    port = free_port()
    url = POSTGRES_URL if database == "postgres" else f"sqlite:///{workdir / 'bench.sqlite3'}"
    env = idp_env(
        database_url=url,
        issuer=f"http://127.0.0.1:{port}",
        # SQLite has one writer at a time: threads would only queue on its lock.
        threads=os.environ.get("GUNICORN_THREADS", "1" if database == "sqlite" else "4"),
    )
    seeded = support("seed", env=env)
    clients, subject_token = seeded["demo"]["clients"], seeded["subject_token"]
    basket, admin = basic(clients["shoppingbasket"]), basic(clients["eventcatalog-admin"])
    signed_basket = SignedClient.from_seed(seeded["bench_key"])
    server = start_gunicorn(env, port, workers=2)
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
        if peer:
            secrets = {client_id: clients[client_id]["client_secret"] for client_id in PEER_CLIENTS}
            store_url = url if database == "postgres" else None
            try:
                results["peer"] = compare_with_peer(cases, secrets, store_url=store_url, workdir=workdir)
            except PeerFailed as exc:
                results["peer"] = {"failed": str(exc)}
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
    if "peer" in results:
        print("\n".join(peer_report(database, results["peer"])))


def peer_report(database: str, peer: dict) -> list[str]:
    """The comparison as a Markdown table: one row per case and node-oidc-provider variant,
    ours measured in the same turns; a refused side shows why instead of figures."""
    if "failed" in peer:
        return [f"\n## {database}: node-oidc-provider not measured: {peer['failed']}"]
    versions = peer["versions"]
    lines = [
        f"\n## {database}: against node-oidc-provider {versions['oidc-provider']} (node {versions['node']},"
        f" cluster of 2 processes), wrk -c{CONNECTIONS}, median of {REPEATS} x {DURATION}, interleaved",
        "| case | peer | ours tokens/s | ours p50 / p99 ms | peer tokens/s | peer p50 / p99 ms | ours / peer |",
        "|---|---|---|---|---|---|---|",
    ]

    def run_rates(side: dict) -> str:
        return "refused" if "refused" in side else " ".join(f"{run['rps']:.0f}" for run in side["runs"])

    def figures(side: dict) -> tuple[str, str]:
        if "refused" in side:
            return f"refused: {side['refused']}", ""
        return f"{side['rps']:.0f}", f"{side['p50']:.2f} / {side['p99']:.2f}"

    runs = []
    for case, sides in peer["cases"].items():
        ours = sides["ours"]
        for variant, theirs in sides.items():
            if variant == "ours":
                continue
            ratio = "" if "refused" in ours or "refused" in theirs else f"{ours['rps'] / theirs['rps']:.2f}"
            lines.append(
                f"| {case} | {variant} | {' | '.join(figures(ours))} | {' | '.join(figures(theirs))} | {ratio} |"
            )
        rates = "; ".join(f"{side} {run_rates(figures_)}" for side, figures_ in sides.items())
        runs.append(f"{case}, tokens/s run by run: {rates}")
    lines += ["", *runs]
    for variant, peaks in peer["peak_rss_mib"].items():
        lines.append(f"{variant} peak RSS per worker: " + ", ".join(f"{mib:.0f} MiB" for mib in peaks))
    return lines


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    skip_peer = peer_unavailable()
    if skip_peer:
        print(f"# node-oidc-provider not measured: {skip_peer}")
    workdir = Path(tempfile.mkdtemp(prefix="idp-bench-"))
    try:
        all_results = {}
        for database in DATABASES:
            if database == "postgres" and not ensure_postgres_database(POSTGRES_URL):
                continue
            try:
                all_results[database] = bench_database(database, workdir, peer=skip_peer is None)
            except FailedRequests as exc:
                raise SystemExit(f"{database}: requests failed, nothing reported: {exc}") from None
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
