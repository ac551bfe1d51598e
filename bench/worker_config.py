"""Which gunicorn worker settings serve /o/token/ best: measured, interleaved, same run.

    .venv/bin/python bench/worker_config.py
    BENCH_WORKER_CONFIGS=gthread:1,gthread:4 BENCH_REPEATS=5 .venv/bin/python bench/worker_config.py

Client credentials for the ES256 API (tokens stored) on PostgreSQL (the benchmark's database,
as bench/token_bench.py), 2 worker processes per IdP as `make bench` runs them, one IdP per
configuration in ``BENCH_WORKER_CONFIGS`` (``class:threads``, default gthread with 1, 2, 4
and 8 threads, and sync), all started at once and kept up (an idle one uses no CPU). Runs
take turns, REPEATS of DURATION each at ``BENCH_CONNECTIONS`` keep-alive connections, after
the machine has gone quiet; a run with any non-2xx response or socket error stops the script
with nothing reported. Per configuration: median tokens/s, p50, p99, p99 / p50 and the CPU
time of its workers per token (from /proc), which shows what threads cost beyond the
requests themselves (switching, contention for the interpreter lock). ``BENCH_WORKER_PATH``
(default ``/o/token/``) set to ``/bench/ceiling`` measures the same for the cheapest view
(bench/urls.py): what serving any request at all costs under each configuration.
"""

import json
import os
import signal
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale_out import BODY, cpu_of, drive, workers, wrk_script  # noqa: E402
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
    quiesce,
    start_gunicorn,
    support,
    wait_until_serving,
)

CONFIGS = os.environ.get("BENCH_WORKER_CONFIGS", "gthread:1,gthread:2,gthread:4,gthread:8,sync:1").split(",")
# /o/token/, or /bench/ceiling (bench/urls.py: the cost of serving any request at all)
PATH = os.environ.get("BENCH_WORKER_PATH", "/o/token/")


def start(env: dict[str, str], port: int, config: str) -> subprocess.Popen:
    worker_class, threads = config.split(":")
    options = ("--worker-class", worker_class, "--threads", threads, "--no-control-socket")  # several masters
    return start_gunicorn({**env, "GUNICORN_THREADS": threads}, port, workers=2, options=options)


def main() -> None:
    if not ensure_postgres_database(POSTGRES_URL):
        raise SystemExit("PostgreSQL is needed")
    env = idp_env(database_url=POSTGRES_URL, issuer="http://127.0.0.1", threads="4")
    seeded = support("seed", env=env)
    authorization = basic(seeded["demo"]["clients"]["shoppingbasket"])
    script = wrk_script(authorization)
    servers: dict[str, tuple[subprocess.Popen, str]] = {}
    runs: dict[str, list[dict]] = {config: [] for config in CONFIGS}
    try:
        for config in CONFIGS:
            port = free_port()
            servers[config] = (start(env, port, config), f"http://127.0.0.1:{port}{PATH}")
        for master, url in servers.values():
            wait_until_serving(url.replace(PATH, "/.well-known/openid-configuration"), master)
            if PATH == "/o/token/" and (issued := issued_algorithm(Case(url, BODY, authorization))) != "ES256":
                raise SystemExit(f"{url} issued {issued} rather than an ES256 JWT")
            drive([url], script, duration="2s", connections=4)  # warm-up
        for _ in range(REPEATS):
            for config, (master, url) in servers.items():
                quiesce()
                pids = workers(master)
                before = cpu_of(pids)
                run = drive([url], script)
                run["idp_cpu_ms"] = (cpu_of(pids) - before) * 1000 / run["requests"]
                runs[config].append(run)
    except FailedRequests as exc:
        raise SystemExit(f"requests failed, nothing reported: {exc}") from None
    finally:
        os.unlink(script)
        for master, _ in servers.values():
            if master.poll() is None:
                os.killpg(master.pid, signal.SIGTERM)
            master.wait(timeout=10)
    report(runs)
    if os.environ.get("BENCH_JSON"):
        Path(os.environ["BENCH_JSON"]).write_text(json.dumps(runs, indent=2))


def report(runs: dict[str, list[dict]]) -> None:
    print(
        f"\n## gunicorn workers: {PATH} (client credentials ES256 at /o/token/), PostgreSQL, 2 workers,"
        f" wrk -c{CONNECTIONS}, median of {REPEATS} x {DURATION}, interleaved"
    )
    print("| worker class : threads | requests/s | p50 / p99 ms | p99 / p50 | IdP CPU ms per request | run by run |")
    print("|---|---|---|---|---|---|")
    for config, config_runs in runs.items():
        keys = ("rps", "p50", "p99", "idp_cpu_ms")
        rps, p50, p99, cpu = (statistics.median(run[key] for run in config_runs) for key in keys)
        by_run = ", ".join(f"{run['rps']:.0f}" for run in config_runs)
        print(f"| {config} | {rps:.0f} | {p50:.1f} / {p99:.1f} | {p99 / p50:.1f} | {cpu:.2f} | {by_run} |")


if __name__ == "__main__":
    main()
