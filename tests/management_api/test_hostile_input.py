"""Hostile or broken request bodies get a JSON 4xx from the management API, never an HTML
page and never a 500, and change nothing."""

import json

import pytest
from django.test import Client

from apps.resources.models import ApiResource
from tests.support.management_api import API

pytestmark = pytest.mark.django_db

NEW = {"audience": "reporting", "resource_uri": "urn:test:reporting", "name": "Reporting"}


@pytest.fixture
def post_raw(client: Client, write_token):
    def post(body: str):
        client.raise_request_exception = False  # a 500 must show as one, not as a test error
        auth = f"Bearer {write_token}"
        return client.post(API + "resources/", body, content_type="application/json", HTTP_AUTHORIZATION=auth)

    return post


def json_error(response) -> tuple[int, dict]:
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    return response.status_code, json.loads(response.content)


def test_50000_nested_arrays_are_a_json_400(post_raw):
    response = post_raw("[" * 50_000 + "]" * 50_000)
    assert json_error(response) == (400, {"detail": "JSON parse error - nested more than 32 levels deep."})


def test_deep_nesting_inside_a_field_is_a_json_400(post_raw):
    # Parses (under Python's recursion limit), but no field of this API nests like this.
    body = json.dumps({**NEW, "user_claims": json.loads("[" * 900 + "]" * 900)})
    response = post_raw(body)
    assert json_error(response) == (400, {"detail": "JSON parse error - nested more than 32 levels deep."})
    assert not ApiResource.objects.filter(audience="reporting").exists()


def test_ordinary_nesting_still_parses(post_raw):
    response = post_raw(json.dumps({**NEW, "user_claims": ["email"]}))
    assert response.status_code == 201


@pytest.mark.parametrize("size", [300_000, 3_000_000])  # ours, and beyond Django's own bound
def test_a_body_beyond_the_bound_is_a_json_413(post_raw, size):
    response = post_raw(json.dumps({**NEW, "name": "x" * size}))
    assert json_error(response) == (413, {"detail": "Request body too large (at most 262144 bytes)."})
    assert not ApiResource.objects.filter(audience="reporting").exists()


def test_an_unknown_path_is_a_json_404(client, write_token):
    response = client.get(API + "nothing-here/", HTTP_AUTHORIZATION=f"Bearer {write_token}")
    assert json_error(response) == (404, {"detail": "Not found."})


def test_an_unknown_path_without_slash_ends_in_a_json_404(client, write_token):
    response = client.get(API + "nothing-here", HTTP_AUTHORIZATION=f"Bearer {write_token}", follow=True)
    assert json_error(response) == (404, {"detail": "Not found."})


def test_a_known_path_without_slash_is_still_redirected(client, write_token):
    response = client.get(API + "resources", HTTP_AUTHORIZATION=f"Bearer {write_token}")
    assert (response.status_code, response["Location"]) == (301, API + "resources/")


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status"),
    [
        ("post", "resources/", "{broken", "application/json", 400),
        ("post", "resources/", b"\xff\xfe", "application/json", 400),
        ("post", "resources/", "audience=x", "application/x-www-form-urlencoded", 415),
        ("put", "resources/", "{}", "application/json", 405),
        ("get", "resources/nobody/", None, None, 404),
        ("get", "audit-events/?page=abc", None, None, 404),
    ],
)
def test_every_other_error_is_json(client, write_token, method, path, body, content_type, status):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {write_token}"}
    if body is not None:
        headers.update(data=body, content_type=content_type)
    response = getattr(client, method)(API + path, **headers)
    code, error = json_error(response)
    assert code == status
    assert error["detail"]
