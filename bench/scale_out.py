"""Scale-out benchmark: one IdP against two sharing PostgreSQL and Redis, same total workers.

    .venv/bin/python bench/scale_out.py
    BENCH_REPEATS=5 BENCH_DURATION=10s .venv/bin/python bench/scale_out.py

Client credentials for the ES256 API (tokens stored), on PostgreSQL (the benchmark's database,
as bench/token_bench.py) with ``REDIS_URL`` set, as a production deployment has it (rate-limit
counters and the cache in Redis), in two layouts with the same number of workers:

- ``A``: one IdP, one gunicorn master with 2 workers, driven by one wrk (2 threads, -cN);
- ``B``: two IdPs, two gunicorn masters on two ports with 1 worker each, sharing the database
  and Redis, driven by two wrk processes at the same time (1 thread, -cN/2 each): their
  tokens/s summed, the worse p50 and p99 reported.

Runs take turns (A B A B ...), REPEATS of DURATION each, after the machine has gone quiet; the
medians and the ratio B / A are printed. Any run with a non-2xx response or a socket error is
refused and nothing is reported. Each run also records, per token: CPU time of the IdP's
workers, of PostgreSQL and of Redis, rows inserted and transactions committed in the
database, WAL written, and commands Redis processed: the inputs of the sizing in
docs/performance.md (Scale-out).
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
import redis  # noqa: E402

from bench.token_bench import (  # noqa: E402
    CONNECTIONS,
    DURATION,
    POSTGRES_URL,
    REPEATS,
    Case,
    FailedRequests,
    basic,
    ensure_postgres_database,
    free_port,
    idp_env,
    issued_algorithm,
    parse_wrk,
    quiesce,
    search,
    start_gunicorn,
    support,
    wait_until_serving,
)

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
THREADS = os.environ.get("GUNICORN_THREADS", "4")
BODY = urlencode({"grant_type": "client_credentials", "scope": "discount.fullaccess"})
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU of ``pid`` (with ``children``: plus that of its reaped children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def processes_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def workers(master: subprocess.Popen) -> list[int]:
    return [int(pid) for pid in Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()]


def cpu_of(pids: list[int], *, children: bool = False) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid, children=children)
        except OSError:  # ended since it was listed
            continue
    return total


def counters(masters: list[subprocess.Popen], database: str, cache: redis.Redis) -> dict[str, float]:
    """Cumulative counters, read before and after a run: the difference is the run's."""
    with psycopg.connect(database, autocommit=True) as conn:
        # The token table's last id rather than pg_stat_database, which a busy backend
        # publishes only every second or so, and an idle one up to 10 s later.
        inserted_row = conn.execute("SELECT coalesce(max(id), 0) FROM oauth_accesstoken").fetchone()
        wal_row = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
    inserted, wal = (inserted_row or (0,))[0], (wal_row or (0,))[0]
    return {
        "idp_cpu": cpu_of([pid for master in masters for pid in workers(master)]),
        # Backends come and go; the postmaster's reaped-children time keeps the ended ones.
        "postgres_cpu": cpu_of(processes_named("postgres"), children=True),
        "redis_cpu": cpu_of(processes_named("redis-server")),
        "inserted": float(inserted),
        "wal_bytes": float(wal),
        "redis_commands": float(cache.info("stats")["total_commands_processed"]),
    }


def wrk_script(authorization: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(BODY)}\n"
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
            f'wrk.headers["Authorization"] = "{authorization}"\n'
        )
    return script.name


def drive(urls: list[str], script: str, *, duration: str = DURATION, connections: int = CONNECTIONS) -> dict:
    """One wrk per URL, all at once, sharing ``connections`` and 2 wrk threads between them:
    tokens/s summed, the worse p50 and p99; FailedRequests if any of them saw a failure."""
    threads = 2 // len(urls)
    runs = [
        subprocess.Popen(
            ["wrk", f"-t{threads}", f"-c{connections // len(urls)}", f"-d{duration}", "--latency", "-s", script, url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for url in urls
    ]
    outs = [run.communicate()[0] for run in runs]
    parsed = [parse_wrk(out) for out in outs]  # raises FailedRequests for any failed request
    requests = sum(int(search(r"(\d+) requests in", out).group(1)) for out in outs)
    return {
        "rps": sum(run["rps"] for run in parsed),
        "p50": max(run["p50"] for run in parsed),
        "p99": max(run["p99"] for run in parsed),
        "requests": requests,
        "each_rps": [run["rps"] for run in parsed],
    }


def start_idp(env: dict[str, str], port: int, worker_count: int) -> subprocess.Popen:
    # Several masters on one machine: gunicorn's control socket has one default path.
    return start_gunicorn(env, port, workers=worker_count, options=("--no-control-socket",))


def measured(layout: dict, database: str, cache: redis.Redis, script: str) -> dict:
    before = counters(layout["masters"], database, cache)
    run = drive(layout["urls"], script)
    after = counters(layout["masters"], database, cache)
    tokens = run["requests"]
    run["per_token"] = {
        "idp_cpu_ms": (after["idp_cpu"] - before["idp_cpu"]) * 1000 / tokens,
        "postgres_cpu_ms": (after["postgres_cpu"] - before["postgres_cpu"]) * 1000 / tokens,
        "redis_cpu_ms": (after["redis_cpu"] - before["redis_cpu"]) * 1000 / tokens,
        "rows_inserted": (after["inserted"] - before["inserted"]) / tokens,
        "wal_bytes": (after["wal_bytes"] - before["wal_bytes"]) / tokens,
        "redis_commands": (after["redis_commands"] - before["redis_commands"]) / tokens,
    }
    return run


def main() -> None:
    if not ensure_postgres_database(POSTGRES_URL):
        raise SystemExit("PostgreSQL is needed")
    cache = redis.Redis.from_url(REDIS_URL)
    try:
        cache.ping()
    except redis.RedisError as exc:
        raise SystemExit(f"Redis is needed at {REDIS_URL}: {exc}") from None
    database = POSTGRES_URL.replace("postgres://", "postgresql://")
    # One issuer for every process, as behind a load balancer; the limits counted in Redis.
    env = idp_env(database_url=POSTGRES_URL, issuer="http://127.0.0.1", threads=THREADS, REDIS_URL=REDIS_URL)
    seeded = support("seed", env=env)
    authorization = basic(seeded["demo"]["clients"]["shoppingbasket"])
    ports = {"A": [free_port()], "B": [free_port(), free_port()]}
    masters: list[subprocess.Popen] = []
    layouts: dict[str, dict] = {}
    script = wrk_script(authorization)
    try:
        for name, layout_ports in ports.items():
            started = [start_idp(env, port, 2 // len(layout_ports)) for port in layout_ports]
            masters += started
            layouts[name] = {"masters": started, "urls": [f"http://127.0.0.1:{port}/o/token/" for port in layout_ports]}
        for layout in layouts.values():
            for master, url in zip(layout["masters"], layout["urls"], strict=True):
                wait_until_serving(url.replace("/o/token/", "/.well-known/openid-configuration"), master)
                issued = issued_algorithm(Case(url, BODY, authorization))
                if issued != "ES256":
                    raise SystemExit(f"{url} issued {issued} rather than an ES256 JWT")
            drive(layout["urls"], script, duration="2s", connections=4)  # warm-up
        runs: dict[str, list[dict]] = {name: [] for name in layouts}
        for _ in range(REPEATS):
            for name, layout in layouts.items():
                quiesce()
                runs[name].append(measured(layout, database, cache, script))
    except FailedRequests as exc:
        raise SystemExit(f"requests failed, nothing reported: {exc}") from None
    finally:
        os.unlink(script)
        for master in masters:
            if master.poll() is None:
                os.killpg(master.pid, signal.SIGTERM)
            master.wait(timeout=10)
    report(runs)
    if os.environ.get("BENCH_JSON"):
        Path(os.environ["BENCH_JSON"]).write_text(json.dumps(runs, indent=2))


def report(runs: dict[str, list[dict]]) -> None:
    medians = {
        name: {key: statistics.median(run[key] for run in layout_runs) for key in ("rps", "p50", "p99")}
        for name, layout_runs in runs.items()
    }
    print(
        f"\n## scale-out: client credentials ES256, PostgreSQL + Redis, {THREADS} threads per worker,"
        f" wrk -c{CONNECTIONS} in all, median of {REPEATS} x {DURATION}, interleaved"
    )
    print("| layout | tokens/s | p50 / p99 ms | tokens/s run by run |")
    print("|---|---|---|---|")
    labels = {"A": "A: 1 IdP x 2 workers", "B": "B: 2 IdPs x 1 worker"}
    for name, figures in medians.items():
        by_run = ", ".join(f"{run['rps']:.0f}" for run in runs[name])
        print(f"| {labels[name]} | {figures['rps']:.0f} | {figures['p50']:.1f} / {figures['p99']:.1f} | {by_run} |")
    print(f"\nB / A tokens/s: {medians['B']['rps'] / medians['A']['rps']:.2f}")
    print(
        "B, tokens/s of each IdP run by run: "
        + "; ".join(" + ".join(f"{r:.0f}" for r in run["each_rps"]) for run in runs["B"])
    )
    print("\nper token (median of all runs):")
    every = [run["per_token"] for layout_runs in runs.values() for run in layout_runs]
    for key in every[0]:
        by_layout = {
            name: statistics.median(run["per_token"][key] for run in layout_runs) for name, layout_runs in runs.items()
        }
        print(f"  {key}: A {by_layout['A']:.3f}, B {by_layout['B']:.3f}")


if __name__ == "__main__":
    main()
