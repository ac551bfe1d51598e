"""Transaction-token policies: CRUD by client_id, one per client, checked by the model's
clean() (400 on the field), audited, and never granting the management API's powers."""

import pytest

from apps.audit.models import AuditEvent, Outcome
from apps.management_api.authentication import READ_SCOPE, WRITE_SCOPE
from apps.management_api.services import MANAGEMENT_API_CHANGE
from apps.oauth.models import TransactionTokenPolicy
from apps.resources.models import ApiResource, ApiScope
from apps.resources.privileged import MANAGEMENT_API_AUDIENCE
from tests.management_api.test_privileged_scopes import REFUSED

pytestmark = pytest.mark.django_db

PATH = "transaction-token-policies/"


def body(client_id: str = "basket", **changes) -> dict:
    return {
        "client": client_id,
        "scopes": ["shoppingbasket.fullaccess"],
        "request_details_keys": ["action", "amount"],
        "request_context_keys": ["req_ip"],
        "transaction_context": {"channel": "web"},
        **changes,
    }


def rows() -> list[tuple]:
    return [
        (
            p.client.client_id,
            p.request_context_keys,
            p.request_details_keys,
            p.transaction_context,
            p.max_lifetime,
            p.accept_txn_tokens,
            p.enabled,
            tuple(p.scopes.order_by("name").values_list("name", flat=True)),
            tuple(p.subject_audiences.order_by("audience").values_list("audience", flat=True)),
        )
        for p in TransactionTokenPolicy.objects.select_related("client").order_by("pk")
    ]


def changes() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=MANAGEMENT_API_CHANGE).order_by("pk"))


def test_crud_round_trip(api, basket):
    created = api("post", PATH, body())
    assert created.status_code == 201, created.json()
    policy = created.json()
    assert {k: v for k, v in policy.items() if k != "created"} == {
        "client": "basket",
        "subject_audiences": [],
        "scopes": ["shoppingbasket.fullaccess"],
        "request_context_keys": ["req_ip"],
        "request_details_keys": ["action", "amount"],
        "transaction_context": {"channel": "web"},
        "max_lifetime": 60,
        "accept_txn_tokens": False,
        "enabled": True,
        "summary": "basket may get Txn-Tokens for shoppingbasket [shoppingbasket.fullaccess], "
        "tctx from action amount, rctx from req_ip, 1 min",
    }
    assert rows() == [
        ("basket", "req_ip", "action amount", {"channel": "web"}, 60, False, True, ("shoppingbasket.fullaccess",), ())
    ]
    assert api("get", f"{PATH}basket/").json() == policy
    assert [p["client"] for p in api("get", PATH).json()["results"]] == ["basket"]

    changed = api(
        "patch",
        f"{PATH}basket/",
        {"subject_audiences": ["shoppingbasket", "eventcatalog"], "accept_txn_tokens": True, "max_lifetime": 300},
    )
    assert changed.status_code == 200, changed.json()
    assert changed.json()["subject_audiences"] == ["eventcatalog", "shoppingbasket"]
    assert changed.json()["summary"].endswith("replaces Txn-Tokens, 5 min")

    replaced = api("put", f"{PATH}basket/", body(request_context_keys=[], transaction_context={}))
    assert replaced.status_code == 200, replaced.json()
    assert rows() == [
        (
            "basket",
            "",
            "action amount",
            {},
            300,
            True,
            True,
            ("shoppingbasket.fullaccess",),
            ("eventcatalog", "shoppingbasket"),
        )
    ]

    assert api("delete", f"{PATH}basket/").status_code == 204
    assert api("get", f"{PATH}basket/").status_code == 404
    assert not TransactionTokenPolicy.objects.exists()


def test_every_change_is_audited_with_its_values(api, basket):
    api("post", PATH, body())
    api("patch", f"{PATH}basket/", {"request_details_keys": ["action"]})
    api("delete", f"{PATH}basket/")
    added, changed, deleted = changes()
    assert [e.details["action"] for e in (added, changed, deleted)] == ["added", "changed", "deleted"]
    assert {e.details["model"] for e in (added, changed, deleted)} == {"oauth.transactiontokenpolicy"}
    assert {e.client_id for e in (added, changed, deleted)} == {"automation"}
    assert added.details["values"]["transaction_context"] == {"before": None, "after": {"channel": "web"}}
    assert added.details["values"]["scopes"] == {"before": None, "after": ["shoppingbasket.fullaccess"]}
    assert changed.details["changed"] == ["request_details_keys"]
    assert changed.details["values"] == {"request_details_keys": {"before": "action amount", "after": "action"}}
    assert deleted.details["values"]["transaction_context"] == {"before": {"channel": "web"}, "after": None}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"request_details_keys": ["action", "1amount"]},
            "request_details_keys",
            "Not a member name: 1amount (a letter, then letters, digits, _ . -).",
        ),
        ({"request_context_keys": ["call_chain"]}, "request_context_keys", "Set by the IdP itself: call_chain."),
        ({"request_context_keys": "req_ip"}, "request_context_keys", 'Expected a list of items but got type "str".'),
        ({"request_context_keys": ["req ip"]}, "request_context_keys", None),
        (
            {"request_details_keys": [f"k{i:03}" for i in range(130)]},  # 649 characters stored
            "request_details_keys",
            "At most 500 characters, spaces between names included.",
        ),
        ({"transaction_context": ["channel", "web"]}, "transaction_context", "Must be a JSON object."),
        ({"transaction_context": "web"}, "transaction_context", "Must be a JSON object."),
        ({"transaction_context": None}, "transaction_context", "This field may not be null."),
        ({"transaction_context": {"note": "x" * 3000}}, "transaction_context", "At most 2048 bytes of JSON."),
        (
            {"transaction_context": {"amount": 5}},
            "transaction_context",
            "Also named in request_details_keys: amount (the policy's value would be ambiguous).",
        ),
        ({"max_lifetime": 0}, "max_lifetime", None),
        ({"max_lifetime": 301}, "max_lifetime", "Ensure this value is less than or equal to 300."),
        ({"max_lifetime": 10**12}, "max_lifetime", None),
        ({"scopes": []}, "scopes", None),
        ({"scopes": ["no.such.scope"]}, "scopes", None),
        ({"subject_audiences": ["nowhere"]}, "subject_audiences", None),
        ({"client": "nobody"}, "client", None),
    ],
)
def test_invalid_policy_is_400_on_the_field(api, basket, changes, field, message):
    response = api("post", PATH, body(**changes))
    assert response.status_code == 400, response.json()
    assert list(response.json()) == [field]
    if message is not None:
        assert response.json()[field] == [message]
    assert not TransactionTokenPolicy.objects.exists()
    # A change to the same effect is refused the same way.
    assert api("post", PATH, body()).status_code == 201
    update = {name: value for name, value in body(**changes).items() if name != "client" or name in changes}
    response = api("patch", f"{PATH}basket/", update)
    assert (response.status_code, list(response.json())) == (400, [field])
    assert rows()[0][1:3] == ("req_ip", "action amount")


def test_nan_is_not_json(api, client, write_token, basket):
    response = client.post(
        "/api/admin/" + PATH,
        '{"client": "basket", "scopes": ["shoppingbasket.fullaccess"], "transaction_context": {"ratio": NaN}}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {write_token}",
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert not TransactionTokenPolicy.objects.exists()


def test_one_policy_per_client(api, basket):
    assert api("post", PATH, body()).status_code == 201
    response = api("post", PATH, body(max_lifetime=30))
    assert (response.status_code, response.json()) == (400, {"client": ["This client has a transaction-token policy."]})
    assert rows()[0][4] == 60


def test_the_client_cannot_change(api, basket, web):
    api("post", PATH, body())
    response = api("patch", f"{PATH}basket/", {"client": web.client.client_id})
    assert (response.status_code, response.json()) == (
        400,
        {"client": ["A policy's client cannot change: create one for the other client."]},
    )
    assert rows()[0][0] == "basket"
    # Naming its own client again is no change.
    assert api("put", f"{PATH}basket/", body(max_lifetime=30)).status_code == 200


def test_a_read_token_reads_and_changes_nothing(api, basket, read_token):
    api("post", PATH, body())
    assert api("get", f"{PATH}basket/", token=read_token).status_code == 200
    response = api("patch", f"{PATH}basket/", {"max_lifetime": 30}, token=read_token)
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert rows()[0][4] == 60


# --- the management API's powers ---------------------------------------------------------------


@pytest.fixture
def privileged_policies(apis, basket, web) -> dict[str, TransactionTokenPolicy]:
    """A policy granting an idp-admin scope, and one taking idp-admin tokens (a superuser's)."""
    by_scope = TransactionTokenPolicy.objects.create(client=basket.client)
    by_scope.scopes.set(ApiScope.objects.filter(name=READ_SCOPE))
    by_audience = TransactionTokenPolicy.objects.create(client=web.client)
    by_audience.scopes.set(ApiScope.objects.filter(name="eventcatalog.read"))
    by_audience.subject_audiences.set(ApiResource.objects.filter(audience=MANAGEMENT_API_AUDIENCE))
    return {"scope": by_scope, "audience": by_audience}


@pytest.fixture
def ordinary(make_client) -> str:
    """A client of the automation's without a policy yet."""
    return make_client("checkout", grants=["urn:ietf:params:oauth:grant-type:token-exchange"]).client.client_id


PRIVILEGED_PATHS = {
    "POST (scope)": lambda o: ("post", PATH, body(o, scopes=[WRITE_SCOPE])),
    "POST (subject audience)": lambda o: ("post", PATH, body(o, subject_audiences=[MANAGEMENT_API_AUDIENCE])),
    "PATCH privileged (scope)": lambda o: ("patch", f"{PATH}basket/", {"max_lifetime": 30}),
    "PATCH privileged (audience)": lambda o: ("patch", f"{PATH}web/", {"enabled": False}),
    "PUT privileged": lambda o: ("put", f"{PATH}basket/", body()),
    "DELETE privileged (scope)": lambda o: ("delete", f"{PATH}basket/", None),
    "DELETE privileged (audience)": lambda o: ("delete", f"{PATH}web/", None),
}


@pytest.mark.parametrize("path", PRIVILEGED_PATHS)
def test_granting_or_touching_the_management_apis_powers_is_403(api, privileged_policies, ordinary, path):
    before = rows()
    method, url, data = PRIVILEGED_PATHS[path](ordinary)
    response = api(method, url, data)
    assert (response.status_code, response.json()) == (403, REFUSED)
    assert rows() == before
    (event,) = changes()
    assert (event.outcome, event.reason, event.client_id) == (Outcome.REFUSED, "privileged", "automation")
    assert event.details["model"] == "oauth.transactiontokenpolicy"


def test_an_ordinary_policy_cannot_be_made_privileged(api, basket):
    api("post", PATH, body())
    for change in ({"scopes": [READ_SCOPE]}, {"subject_audiences": [MANAGEMENT_API_AUDIENCE]}):
        response = api("patch", f"{PATH}basket/", change)
        assert (response.status_code, response.json()) == (403, REFUSED)
    assert rows()[0][7:] == (("shoppingbasket.fullaccess",), ())
