"""Real IdP processes for the deployment tests: started from a checkout exactly as the
image starts them (docker/entrypoint.sh), on loopback ports, stopped when the test ends."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def idp_environment(**overrides: str) -> dict[str, str]:
    """Production settings (never the tests'), with this venv's python and gunicorn first on PATH."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "PYTEST", "IDP_")) and key != "REDIS_URL"
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        DJANGO_SETTINGS_MODULE="idp.settings.base",
        SECRET_KEY="deployment-test-key-" + "x" * 40,
        SECURE_SSL_REDIRECT="0",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="2",
    )
    env.update(overrides)
    return env


def run_role(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(ENTRYPOINT), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def wait_until_serving(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args} exited with {process.returncode} before serving {url}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} not served within {timeout}s")


@contextmanager
def web_process(env: dict[str, str]) -> Iterator[str]:
    """``entrypoint.sh web`` on a free loopback port; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [str(ENTRYPOINT), "web"],
        cwd=ROOT,
        env={**env, "BIND": f"127.0.0.1:{port}"},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/.well-known/jwks.json", process)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
