"""The image's entrypoint and files, exercised outside Docker (no engine runs here): each role
the compose file uses exists and works from a checkout, migrations run only when asked."""

import json
import os
import re
import sqlite3
import urllib.request

import yaml

from tests.deployment.processes import ENTRYPOINT, ROOT, idp_environment, run_role, web_process

ROLES = {"web", "migrate", "seed-demo", "demo", "manage"}


def test_migrate_is_a_release_step_and_web_serves_the_migrated_database(tmp_path):
    database = tmp_path / "idp.sqlite3"
    env = idp_environment(DATABASE_URL=f"sqlite:///{database}", IDP_ISSUER="http://127.0.0.1")

    migrated = run_role("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    tables = {row[0] for row in sqlite3.connect(database).execute("SELECT name FROM sqlite_master")}
    assert {"oauth_application", "oauth_accesstoken", "resources_apiresource"} <= tables
    keys = sqlite3.connect(database).execute("SELECT algorithm, state FROM oauth_signingkey").fetchall()
    assert sorted(keys) == [("ES256", "active"), ("ES256", "next"), ("RS256", "active"), ("RS256", "next")]

    with web_process(env) as base:
        metadata = json.load(urllib.request.urlopen(f"{base}/.well-known/openid-configuration"))
        ready = json.load(urllib.request.urlopen(f"{base}/readyz"))  # keys exist before any token request
    assert metadata["issuer"] == "http://127.0.0.1"
    assert ready["status"] == "ok"


def test_seed_demo_writes_credentials_only_its_owner_can_read(tmp_path):
    credentials = tmp_path / "credentials.json"
    env = idp_environment(DATABASE_URL=f"sqlite:///{tmp_path / 'idp.sqlite3'}", DEMO_CREDENTIALS_FILE=str(credentials))
    assert run_role("migrate", env=env).returncode == 0
    seeded = run_role("seed-demo", env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"
    clients = json.loads(credentials.read_text())["clients"]
    assert {"shoppingbasket", "globoticket-web"} <= set(clients)
    assert clients["shoppingbasket"]["client_secret"] not in seeded.stdout


def test_seed_demo_without_a_credentials_file_is_refused(tmp_path):
    env = idp_environment(DATABASE_URL=f"sqlite:///{tmp_path / 'idp.sqlite3'}")
    env.pop("DEMO_CREDENTIALS_FILE", None)
    result = run_role("seed-demo", env=env)
    assert result.returncode != 0
    assert "DEMO_CREDENTIALS_FILE" in result.stderr


def test_an_unknown_role_is_refused_with_usage():
    result = run_role("serve", env=idp_environment())
    assert result.returncode == 64
    assert "unknown role 'serve'" in result.stderr


def test_the_image_runs_as_a_non_root_user_through_the_entrypoint():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert os.access(ENTRYPOINT, os.X_OK)
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert 'ENTRYPOINT ["docker/entrypoint.sh"]' in dockerfile
    assert "migrate" not in re.search(r"^CMD (.*)$", dockerfile, re.M).group(1)


def test_every_compose_service_built_from_the_image_runs_a_known_role():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    built = {name: service for name, service in services.items() if service.get("build")}
    assert {"migrate", "idp", "seed-demo", "eventcatalog", "shoppingbasket", "discount", "web"} <= set(built)
    for name, service in built.items():
        assert service["command"][0] in ROLES, name
    assert services["idp"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("eventcatalog", "shoppingbasket", "discount", "web"):
        assert services[name]["command"] == ["demo", name]
        assert services[name]["network_mode"] == "service:idp"


def test_the_example_env_file_sets_every_variable_compose_requires():
    compose = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", compose))
    example = (ROOT / "docker" / "compose.env.example").read_text()
    provided = set(re.findall(r"^(\w+)=", example, re.M))
    assert required == {"SECRET_KEY", "POSTGRES_PASSWORD"}
    assert required <= provided
