"""Start the IdP and the GloboTicket demo as separate processes (`make demo`).

IdP             http://127.0.0.1:8000  (DEBUG, SQLite in var/)
web             http://127.0.0.1:8001  <- open this, sign in as alice
eventcatalog    http://127.0.0.1:8002
shoppingbasket  http://127.0.0.1:8003
discount        http://127.0.0.1:8004

DEMO_PORT_BASE moves them all: DEMO_PORT_BASE=8100 puts the IdP on 8100 (its issuer too), the
web front end on 8101, and so on, so the demo runs beside `make run` on 8000. Its IdP then
keeps its own database, var/demo-8100.sqlite3 (unless DATABASE_URL says otherwise): seeding
the demo gives its clients new secrets, which must not pull the rug from under `make run`'s.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SERVICES = ("eventcatalog", "shoppingbasket", "discount", "web")
DEFAULT_PORT_BASE = 8000
# Each process listens on the base plus its offset; the IdP on the base itself.
PORT_OFFSETS = {"web": 1, "eventcatalog": 2, "shoppingbasket": 3, "discount": 4}
HIGHEST_PORT_BASE = 65535 - max(PORT_OFFSETS.values())


def port_base(environ: Mapping[str, str]) -> int:
    """DEMO_PORT_BASE, or 8000: the IdP's port; the services take the next four."""
    value = environ.get("DEMO_PORT_BASE", "").strip() or str(DEFAULT_PORT_BASE)
    if not value.isdigit() or not 1024 <= int(value) <= HIGHEST_PORT_BASE:
        raise SystemExit(f"DEMO_PORT_BASE must be a port from 1024 to {HIGHEST_PORT_BASE}, not {value!r}")
    return int(value)


def service_ports(base: int) -> dict[str, int]:
    return {name: base + offset for name, offset in PORT_OFFSETS.items()}


def _wait(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited while starting")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers; an error status is fine here
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


IDP_SETTINGS = {"DJANGO_SETTINGS_MODULE": "idp.settings.base"}  # never a caller's (e.g. the tests')


def manage(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env={**env, **IDP_SETTINGS}, check=True, capture_output=True, text=True
    ).stdout


def start(
    idp_port: int, ports: dict[str, int], idp_env: dict[str, str], web_client: dict | None = None
) -> tuple[list[subprocess.Popen[bytes]], dict[str, Any]]:
    """Migrate the IdP, make its keys, seed it, start it and the four services; returns (processes, demo JSON)."""
    idp_url = f"http://127.0.0.1:{idp_port}"
    env = {**os.environ, **idp_env, **IDP_SETTINGS, "DEBUG": "1", "PORT": str(idp_port), "IDP_ISSUER": idp_url}
    manage("migrate", "--noinput", env=env)
    # Every algorithm's keys before the services first read the JWKS, as a deployment does
    # (docs/deployment.md): a key made on first use (the Txn-Tokens' ES256) would be unknown
    # to a service that cached the set before, until its refresh interval passed.
    manage("ensure_keys", env=env)
    demo = json.loads(manage("seed_demo", "--json", env=env))
    processes = [
        subprocess.Popen([PYTHON, "manage.py", "runserver", "--noreload", f"127.0.0.1:{idp_port}"], cwd=ROOT, env=env)
    ]
    _wait(f"{idp_url}/.well-known/jwks.json", processes[0])
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    credentials = {
        "shoppingbasket": demo["clients"]["shoppingbasket"],
        "web": web_client or demo["clients"]["globoticket-web"],
    }
    keys = {"shoppingbasket": demo["client_keys"]["shoppingbasket"]}
    for name in SERVICES:
        service_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "demo.settings",
            "DEMO_SERVICE": name,
            "IDP_URL": idp_url,
            "DEMO_URLS": json.dumps(urls),
            "CLIENT_ID": credentials.get(name, {}).get("client_id", ""),
            "CLIENT_SECRET": credentials.get(name, {}).get("client_secret", ""),
            # The basket signs its token requests with its key (private_key_jwt), not its secret.
            "CLIENT_PRIVATE_KEY": keys.get(name, {}).get("private_key_pem", ""),
            "CLIENT_KEY_ID": keys.get(name, {}).get("key_id", ""),
        }
        # -c python:demo (an empty module): not the IdP's gunicorn.conf.py, which gunicorn would
        # read from ROOT and whose hooks (metrics files, token counts) are the IdP's.
        command = [PYTHON, "-m", "gunicorn", "demo.wsgi", "-c", "python:demo", "-b", f"127.0.0.1:{ports[name]}",
                   "--threads", "4", "--log-level", "warning"]  # fmt: skip
        processes.append(subprocess.Popen(command, cwd=ROOT, env=service_env, start_new_session=True))
        _wait(urls[name] + "/", processes[-1])
    return processes, demo


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    # SIGTERM (e.g. from a supervisor) stops the services too, like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    base = port_base(os.environ)
    ports = service_ports(base)
    idp_env = {}
    if base != DEFAULT_PORT_BASE and "DATABASE_URL" not in os.environ:
        idp_env["DATABASE_URL"] = f"sqlite:///{ROOT / 'var' / f'demo-{base}.sqlite3'}"
    processes, demo = start(base, ports, idp_env=idp_env)
    print(f"GloboTicket demo: open http://127.0.0.1:{ports['web']} and sign in as", demo["users"]["alice"], flush=True)
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stop(processes)


if __name__ == "__main__":
    main()
