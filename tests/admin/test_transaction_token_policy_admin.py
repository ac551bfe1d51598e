"""Operators manage transaction-token policies (draft-ietf-oauth-transaction-tokens, "TTS
Issuance Policies") in the admin: one per client; what the model refuses is a form error
under its field, never a 500; a view-only operator changes nothing; the management API's
scopes and audience are a superuser's to grant."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from apps.audit.models import AuditEvent
from apps.audit.services import ADMIN_CHANGE
from apps.oauth.models import TransactionTokenPolicy
from apps.resources.models import ApiResource, ApiScope
from apps.resources.privileged import MANAGEMENT_API_AUDIENCE
from tests.support.admin import permissions

POLICIES = "/admin/oauth/transactiontokenpolicy/"


def scope_pk(name: str) -> int:
    return ApiScope.objects.get(name=name).pk


def policy_form(client, **overrides) -> dict:
    data = {
        "client": client.pk,
        "subject_audiences": [],
        "scopes": [scope_pk("shoppingbasket.fullaccess")],
        "request_details_keys": "action amount",
        "request_context_keys": "req_ip",
        "transaction_context": '{"channel": "web"}',
        "max_lifetime": "60",
        "enabled": "on",
    }
    data.update(overrides)
    return data


def form_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200  # the form again, not a 500 nor a redirect
    return {field: list(errors) for field, errors in response.context["adminform"].form.errors.items()}


def rows() -> list[tuple]:
    return sorted(
        (
            p.client_id,
            p.request_details_keys,
            p.request_context_keys,
            json.dumps(p.transaction_context, sort_keys=True),
            p.max_lifetime,
            p.accept_txn_tokens,
            p.enabled,
            tuple(sorted(p.scopes.values_list("name", flat=True))),
            tuple(sorted(p.subject_audiences.values_list("audience", flat=True))),
        )
        for p in TransactionTokenPolicy.objects.all()
    )


@pytest.fixture
def basket_txn_policy(basket) -> TransactionTokenPolicy:
    policy = TransactionTokenPolicy.objects.create(
        client=basket.client, request_details_keys="action", transaction_context={"channel": "web"}
    )
    policy.scopes.set(ApiScope.objects.filter(name="shoppingbasket.fullaccess"))
    return policy


def test_a_superuser_adds_a_policy_and_the_list_summarises_it(admin_client, basket, apis):
    form = policy_form(
        basket.client,
        subject_audiences=[apis["shoppingbasket"].pk, apis["eventcatalog"].pk],
        scopes=[scope_pk("shoppingbasket.fullaccess"), scope_pk("eventcatalog.read")],
        accept_txn_tokens="on",
        max_lifetime="120",
    )
    response = admin_client.post(f"{POLICIES}add/", form)
    assert response.status_code == 302
    policy = TransactionTokenPolicy.objects.get(client=basket.client)
    assert rows() == [
        (
            basket.client.pk,
            "action amount",
            "req_ip",
            '{"channel": "web"}',
            120,
            True,
            True,
            ("eventcatalog.read", "shoppingbasket.fullaccess"),
            ("eventcatalog", "shoppingbasket"),
        )
    ]
    listing = admin_client.get(POLICIES)
    assert listing.status_code == 200
    assert (
        "basket may get Txn-Tokens for eventcatalog, shoppingbasket [eventcatalog.read shoppingbasket.fullaccess], "
        "tctx from action amount, rctx from req_ip, replaces Txn-Tokens, 2 min"
    ) in listing.content.decode()
    # The addition is in the audit trail with its values, as every admin change is.
    event = AuditEvent.objects.filter(event_type=ADMIN_CHANGE, details__model="oauth.transactiontokenpolicy").get()
    assert event.details["object_id"] == policy.pk
    assert event.details["values"]["transaction_context"] == {"before": None, "after": {"channel": "web"}}


def test_the_change_page_shows_created_read_only(admin_client, basket_txn_policy):
    page = admin_client.get(f"{POLICIES}{basket_txn_policy.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert "created" not in form.fields
    assert "created" in page.context["adminform"].readonly_fields


def test_an_emptied_transaction_context_is_an_empty_object(admin_client, basket):
    response = admin_client.post(f"{POLICIES}add/", policy_form(basket.client, transaction_context=""))
    assert response.status_code == 302
    assert TransactionTokenPolicy.objects.get(client=basket.client).transaction_context == {}


INVALID = {
    "a member name starting with a digit": (
        {"request_details_keys": "action 1amount"},
        "request_details_keys",
        "Not a member name: 1amount (a letter, then letters, digits, _ . -).",
    ),
    "a member name with a quote": (
        {"request_context_keys": 'req_ip "x'},
        "request_context_keys",
        'Not a member name: "x (a letter, then letters, digits, _ . -).',
    ),
    "a member the IdP sets": (
        {"request_context_keys": "req_ip call_chain"},
        "request_context_keys",
        "Set by the IdP itself: call_chain.",
    ),
    "a context that is a list": ({"transaction_context": "[1, 2]"}, "transaction_context", "Must be a JSON object."),
    "a context that is a string": ({"transaction_context": '"web"'}, "transaction_context", "Must be a JSON object."),
    "a context that is null": ({"transaction_context": "null"}, "transaction_context", "Must be a JSON object."),
    "a context that is not JSON": (
        {"transaction_context": "{channel: web"},
        "transaction_context",
        "Enter a valid JSON.",
    ),
    "a context holding NaN": (
        {"transaction_context": '{"ratio": NaN}'},
        "transaction_context",
        "NaN and Infinity are not JSON values.",
    ),
    "a context too large": (
        {"transaction_context": json.dumps({"note": "x" * 3000})},
        "transaction_context",
        "At most 2048 bytes of JSON.",
    ),
    "a context member also from request_details": (
        {"request_details_keys": "action amount", "transaction_context": '{"amount": 5, "channel": "web"}'},
        "transaction_context",
        "Also named in request_details_keys: amount (the policy's value would be ambiguous).",
    ),
    "no lifetime": ({"max_lifetime": "0"}, "max_lifetime", "Ensure this value is greater than or equal to 1."),
    "a lifetime beyond minutes": (
        {"max_lifetime": "301"},
        "max_lifetime",
        "Ensure this value is less than or equal to 300.",
    ),
    "a lifetime beyond the column": (
        {"max_lifetime": "99999999999999999999"},
        "max_lifetime",
        "Ensure this value is less than or equal to 300.",
    ),
    "no scope": ({"scopes": []}, "scopes", "This field is required."),
    "keys beyond the column": (
        {"request_details_keys": "a" * 501},
        "request_details_keys",
        "Ensure this value has at most 500 characters (it has 501).",
    ),
}


@pytest.mark.parametrize("case", INVALID)
def test_invalid_input_is_a_form_error_on_its_field(case, admin_client, basket, basket_txn_policy):
    changes, field, message = INVALID[case]
    before = rows()
    add = admin_client.post(f"{POLICIES}add/", policy_form(basket.client, **changes))
    # The add form also says the basket has a policy already; the field's error is the same.
    assert message in form_errors(add).get(field, []), form_errors(add)
    change = admin_client.post(f"{POLICIES}{basket_txn_policy.pk}/change/", policy_form(basket.client, **changes))
    assert form_errors(change) == {field: [message]}
    assert rows() == before


def test_one_policy_per_client(admin_client, basket, basket_txn_policy):
    response = admin_client.post(f"{POLICIES}add/", policy_form(basket.client))
    assert form_errors(response) == {"client": ["Transaction-token policy with this Client already exists."]}
    assert TransactionTokenPolicy.objects.count() == 1


def test_a_view_only_operator_sees_but_changes_nothing(basket, basket_txn_policy):
    user = get_user_model().objects.create_user("viewer", password="viewer-password-1", is_staff=True)
    user.user_permissions.set(permissions("oauth.view_transactiontokenpolicy"))
    viewer = Client()
    viewer.force_login(user)
    before = rows()
    listing = viewer.get(POLICIES)
    assert listing.status_code == 200 and "Txn-Tokens for shoppingbasket" in listing.content.decode()
    assert listing.context["action_form"] is None  # no action offered, "delete selected" included
    page = viewer.get(f"{POLICIES}{basket_txn_policy.pk}/change/")
    assert page.status_code == 200
    assert not page.context["has_change_permission"] and 'name="_save"' not in page.content.decode()
    form = policy_form(basket.client, request_details_keys="anything", max_lifetime="300")
    assert viewer.post(f"{POLICIES}{basket_txn_policy.pk}/change/", form).status_code == 403
    assert viewer.get(f"{POLICIES}add/").status_code == 403
    assert viewer.post(f"{POLICIES}add/", form).status_code == 403
    assert viewer.post(f"{POLICIES}{basket_txn_policy.pk}/delete/", {"post": "yes"}).status_code == 403
    selected = {"action": "delete_selected", "_selected_action": [basket_txn_policy.pk], "post": "yes"}
    viewer.post(POLICIES, selected)
    assert rows() == before


def test_the_changelist_searches_and_filters(admin_client, basket, basket_txn_policy, web):
    other = TransactionTokenPolicy.objects.create(client=web.client, accept_txn_tokens=True, enabled=False)
    other.scopes.set(ApiScope.objects.filter(name="eventcatalog.read"))

    def found(query: str) -> set[int]:
        response = admin_client.get(POLICIES + query)
        assert response.status_code == 200, query
        return {policy.pk for policy in response.context["cl"].result_list}

    assert found("?q=basket") == {basket_txn_policy.pk}
    assert found(f"?q={web.client.client_id}") == {other.pk}
    assert found("?enabled__exact=0") == {other.pk}
    assert found("?accept_txn_tokens__exact=0") == {basket_txn_policy.pk}
    # Nothing the page does not offer (default deny), let alone a client's secret.
    assert admin_client.get(POLICIES + "?client__client_secret__startswith=a").status_code == 400
    assert admin_client.get(POLICIES + "?request_details_keys__contains=action").status_code == 400


def test_saving_a_policy_for_a_client_without_the_exchange_grant_warns(admin_client, apis, make_client):
    client = make_client("job", scopes=["eventcatalog.read"], resource="shoppingbasket").client
    response = admin_client.post(f"{POLICIES}add/", policy_form(client), follow=True)
    assert TransactionTokenPolicy.objects.filter(client=client).exists()
    warnings = [str(m.message) for m in response.context["messages"] if m.level_tag == "warning"]
    assert warnings == [
        "job has a transaction-token policy but not the token-exchange grant. "
        f'<a href="/admin/oauth/application/{client.pk}/change/">Fix it</a>'
    ]


# --- the management API's powers: a superuser's to grant ---------------------------------------

READ, WRITE = "idp.admin.read", "idp.admin.write"


@pytest.fixture
def manager(db) -> Client:
    user = get_user_model().objects.create_user("manager", password="manager-password-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Client manager"))
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.fixture
def idp_admin(db) -> ApiResource:
    return ApiResource.objects.get(audience=MANAGEMENT_API_AUDIENCE)


def offered(response, field: str) -> set[int]:
    return set(response.context["adminform"].form.fields[field].queryset.values_list("pk", flat=True))


def test_a_client_manager_runs_ordinary_policies(manager, basket, basket_txn_policy):
    form = policy_form(basket.client, request_details_keys="action amount", max_lifetime="30")
    assert manager.post(f"{POLICIES}{basket_txn_policy.pk}/change/", form).status_code == 302
    basket_txn_policy.refresh_from_db()
    assert (basket_txn_policy.request_details_keys, basket_txn_policy.max_lifetime) == ("action amount", 30)


def test_a_client_manager_is_offered_no_privileged_scope_or_audience(manager, admin_client, apis, idp_admin):
    privileged = set(idp_admin.scopes.values_list("pk", flat=True))
    page = manager.get(f"{POLICIES}add/")
    assert not privileged & offered(page, "scopes")
    assert idp_admin.pk not in offered(page, "subject_audiences")
    assert apis["shoppingbasket"].pk in offered(page, "subject_audiences")
    page = admin_client.get(f"{POLICIES}add/")
    assert privileged <= offered(page, "scopes") and idp_admin.pk in offered(page, "subject_audiences")


@pytest.mark.parametrize(
    "changes",
    [
        {"scopes": ["WRITE"]},
        {"subject_audiences": ["IDP_ADMIN"]},
    ],
)
def test_a_privileged_choice_posted_by_a_client_manager_is_a_form_error(manager, basket, idp_admin, changes):
    values = {"WRITE": scope_pk(WRITE), "IDP_ADMIN": idp_admin.pk}
    ((field, names),) = changes.items()
    response = manager.post(f"{POLICIES}add/", policy_form(basket.client, **{field: [values[n] for n in names]}))
    errors = form_errors(response)
    assert list(errors) == [field]
    assert "granted by a superuser only" in errors[field][0]
    assert not TransactionTokenPolicy.objects.exists()


@pytest.mark.parametrize("holds", ["scope", "subject audience"])
def test_a_client_manager_cannot_change_or_delete_a_privileged_policy(manager, admin_client, basket, idp_admin, holds):
    policy = TransactionTokenPolicy.objects.create(client=basket.client)
    policy.scopes.set(ApiScope.objects.filter(name=READ if holds == "scope" else "shoppingbasket.fullaccess"))
    if holds == "subject audience":
        policy.subject_audiences.set([idp_admin])
    before = rows()
    page = manager.get(f"{POLICIES}{policy.pk}/change/")
    assert page.status_code == 200 and not page.context["has_change_permission"]
    assert manager.post(f"{POLICIES}{policy.pk}/change/", policy_form(basket.client)).status_code == 403
    assert manager.post(f"{POLICIES}{policy.pk}/delete/", {"post": "yes"}).status_code == 403
    manager.post(POLICIES, {"action": "delete_selected", "_selected_action": [policy.pk], "post": "yes"})
    assert rows() == before
    # A superuser may.
    assert admin_client.post(f"{POLICIES}{policy.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not TransactionTokenPolicy.objects.exists()
