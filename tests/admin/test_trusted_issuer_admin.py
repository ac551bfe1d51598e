"""Operators manage trusted issuers in the admin, their mappings inline: what the models
refuse is a form error under its field, never a 500; a view-only operator changes nothing;
and since whoever holds an issuer's keys acts as the identities it maps to, a mapping to a
privileged client or an operator's account is a superuser's, and one to a person's account
needs the permission to change users (apps/console/issuer_mappings.py)."""

import json
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.forms import CheckboxSelectMultiple
from django.test import Client

from apps.audit.models import AuditEvent
from apps.audit.services import ADMIN_CHANGE
from apps.oauth.models import ExchangePolicy, IssuerMapping, TrustedIssuer
from apps.resources.models import ApiResource, ApiScope
from apps.resources.privileged import MANAGEMENT_API_AUDIENCE
from tests.support.admin import permissions
from tests.support.service_keys import jwks_of, signer_for

ISSUERS = "/admin/oauth/trustedissuer/"
POLICIES = "/admin/oauth/exchangepolicy/"
K8S = "https://kubernetes.example"
BASKET_SA = {"sub": "system:serviceaccount:shop:basket"}
READ, WRITE = "idp.admin.read", "idp.admin.write"


def mapping_rows(*rows: dict, initial: int = 0) -> dict:
    """The inline formset's fields: ``rows`` as dicts of claims (a mapping or raw text),
    client, username, id and DELETE."""
    data = {
        "mappings-TOTAL_FORMS": str(len(rows)),
        "mappings-INITIAL_FORMS": str(initial),
        "mappings-MIN_NUM_FORMS": "0",
        "mappings-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        claims = row.get("claims", "")
        data[f"mappings-{index}-claims"] = claims if isinstance(claims, str) else json.dumps(claims)
        data[f"mappings-{index}-client"] = str(row.get("client", ""))
        data[f"mappings-{index}-username"] = row.get("username", "")
        data[f"mappings-{index}-id"] = str(row.get("id", ""))
        if row.get("DELETE"):
            data[f"mappings-{index}-DELETE"] = "on"
    return data


def issuer_form(*rows: dict, initial: int = 0, **overrides) -> dict:
    data = {
        "name": "kubernetes",
        "issuer": K8S,
        "jwks_uri": f"{K8S}/openid/v1/jwks",
        "jwks": "",
        "algorithms": "RS256 ES256",
        "audience": "",
        "enabled": "on",
    }
    data.update(overrides)
    return {**data, **mapping_rows(*rows, initial=initial)}


def existing_rows(issuer: TrustedIssuer, **changes) -> list[dict]:
    """The issuer's mappings as its change form posts them back."""
    return [
        {
            "id": m.pk,
            "claims": m.claims,
            "client": m.client_id or "",
            "username": m.user.username if m.user else "",
            **changes,
        }
        for m in issuer.mappings.order_by("pk")
    ]


def form_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200  # the form again, not a 500 nor a redirect
    return {field: list(errors) for field, errors in response.context["adminform"].form.errors.items()}


def mapping_errors(response) -> list[dict[str, list[str]]]:
    assert response.status_code == 200
    (formset,) = [f.formset for f in response.context["inline_admin_formsets"]]
    return [{field: list(errors) for field, errors in form_errors.items()} for form_errors in formset.errors]


def rows() -> list[tuple]:
    """Every issuer and mapping, as stored."""
    return sorted(
        (
            i.name,
            i.issuer,
            i.jwks_uri,
            json.dumps(i.jwks, sort_keys=True),
            i.algorithms,
            i.audience,
            i.enabled,
            tuple((json.dumps(m.claims, sort_keys=True), m.client_id, m.user_id) for m in i.mappings.order_by("pk")),
        )
        for i in TrustedIssuer.objects.all()
    )


@pytest.fixture
def k8s(basket) -> TrustedIssuer:
    issuer = TrustedIssuer.objects.create(name="kubernetes", issuer=K8S, jwks_uri=f"{K8S}/openid/v1/jwks")
    IssuerMapping.objects.create(issuer=issuer, claims=BASKET_SA, client=basket.client)
    return issuer


@pytest.fixture
def automation(make_client):
    """A client a superuser granted the management API's scopes."""
    return make_client("automation", scopes=[READ, WRITE]).client


@pytest.fixture
def manager(db) -> Client:
    user = get_user_model().objects.create_user("manager", password="manager-password-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Client manager"))
    browser = Client()
    browser.force_login(user)
    return browser


# --- a superuser ---------------------------------------------------------------------------------


def test_a_superuser_adds_an_issuer_with_its_mappings_and_the_list_summarises_it(admin_client, basket, alice):
    form = issuer_form(
        {"claims": BASKET_SA, "client": basket.client.pk},
        {"claims": {"sub": "alice@partner.example", "tid": "partner"}, "username": "alice"},
        audience="https://idp.test/federation",
    )
    response = admin_client.post(f"{ISSUERS}add/", form)
    assert response.status_code == 302, form_errors(response)
    issuer = TrustedIssuer.objects.get()
    assert rows() == [
        (
            "kubernetes",
            K8S,
            f"{K8S}/openid/v1/jwks",
            "null",
            "RS256 ES256",
            "https://idp.test/federation",
            True,
            (
                (json.dumps(BASKET_SA), basket.client.pk, None),
                ('{"sub": "alice@partner.example", "tid": "partner"}', None, alice.pk),
            ),
        )
    ]
    listing = admin_client.get(ISSUERS)
    assert listing.status_code == 200
    (row,) = listing.context["cl"].result_list
    assert row.mapping_total == 2
    html = listing.content.decode()
    assert (f"kubernetes: {K8S}, keys {K8S}/openid/v1/jwks, RS256 ES256, aud https://idp.test/federation") in html
    # The addition and its mappings are in the audit trail, as every admin change is.
    event = AuditEvent.objects.filter(event_type=ADMIN_CHANGE, details__model="oauth.trustedissuer").get()
    assert event.details["object_id"] == issuer.pk
    assert event.details["values"]["issuer"] == {"before": None, "after": K8S}
    assert "Added issuer mapping" in event.details["change"]


def test_the_change_page_shows_created_read_only_and_the_mappings_username(admin_client, k8s, alice):
    IssuerMapping.objects.create(issuer=k8s, claims={"sub": "alice"}, user=alice)
    page = admin_client.get(f"{ISSUERS}{k8s.pk}/change/")
    assert page.status_code == 200
    assert "created" not in page.context["adminform"].form.fields
    assert "created" in page.context["adminform"].readonly_fields
    (formset,) = [f.formset for f in page.context["inline_admin_formsets"]]
    assert [form.initial.get("username") for form in formset.forms[:2]] == [None, "alice"]


def test_a_superuser_changes_and_deletes_mappings(admin_client, k8s, basket, web, alice):
    IssuerMapping.objects.create(issuer=k8s, claims={"sub": "alice"}, user=alice)
    first, second = existing_rows(k8s)
    form = issuer_form(
        {**first, "client": web.client.pk},
        {**second, "DELETE": True},
        {"claims": {"sub": "bob"}, "client": basket.client.pk},
        initial=2,
    )
    response = admin_client.post(f"{ISSUERS}{k8s.pk}/change/", form)
    assert response.status_code == 302, mapping_errors(response)
    assert [(m.claims, m.client_id, m.user_id) for m in k8s.mappings.order_by("pk")] == [
        (BASKET_SA, web.client.pk, None),
        ({"sub": "bob"}, basket.client.pk, None),
    ]


def test_an_inline_jwks_is_checked_and_kept(admin_client, basket):
    keys = jwks_of(signer_for("kubernetes"))
    form = issuer_form({"claims": BASKET_SA, "client": basket.client.pk}, jwks_uri="", jwks=json.dumps(keys))
    assert admin_client.post(f"{ISSUERS}add/", form).status_code == 302
    assert TrustedIssuer.objects.get().jwks == keys


INVALID = {
    "an issuer over http": (
        {"issuer": "http://kubernetes.example"},
        "issuer",
        "Use https (http only for loopback hosts).",
    ),
    "this IdP itself": ({"issuer": "https://idp.test"}, "issuer", "This is this IdP's own issuer."),
    "an issuer with a query": ({"issuer": f"{K8S}/?tenant=1"}, "issuer", "No query."),
    "no keys": ({"jwks_uri": ""}, "jwks_uri", "Give a JWKS URL or inline keys, one of the two."),
    "keys twice": (
        {"jwks": json.dumps({"keys": [{"kty": "EC"}]})},
        "jwks_uri",
        "Give a JWKS URL or inline keys, one of the two.",
    ),
    "a JWKS URL over http": (
        {"jwks_uri": "http://k8s.example/jwks"},
        "jwks_uri",
        "Use https (http only for loopback hosts).",
    ),
    "inline keys that are no JWKS": (
        {"jwks_uri": "", "jwks": '{"keys": []}'},
        "jwks",
        'A JWKS is a JSON object with a non-empty "keys" list.',
    ),
    "inline keys holding NaN": (
        {"jwks_uri": "", "jwks": '{"keys": [{"kty": "EC"}], "x": NaN}'},
        "jwks",
        "NaN and Infinity are not JSON values.",
    ),
    "an algorithm not offered": ({"algorithms": "RS256 HS256"}, "algorithms", "Choose from: ES256 PS256 RS256."),
    "no algorithm": ({"algorithms": " "}, "algorithms", "This field is required."),
    "a name that is no slug": (
        {"name": "kube rnetes"},
        "name",
        "Enter a valid “slug” consisting of letters, numbers, underscores or hyphens.",
    ),
}


@pytest.mark.parametrize("case", INVALID)
def test_invalid_input_is_a_form_error_on_its_field(case, admin_client, k8s, basket):
    changes, field, message = INVALID[case]
    before = rows()
    add = admin_client.post(f"{ISSUERS}add/", issuer_form(**{"name": "other", "issuer": f"{K8S}/other", **changes}))
    assert message in form_errors(add).get(field, []), form_errors(add)
    change = admin_client.post(f"{ISSUERS}{k8s.pk}/change/", issuer_form(*existing_rows(k8s), initial=1, **changes))
    assert form_errors(change) == {field: [message]}
    assert rows() == before


INVALID_MAPPINGS = {
    "claims that are a list": (
        {"claims": '["sub"]'},
        "claims",
        "A JSON object of 1 to 5 claims, each an exact string value.",
    ),
    "no claims": ({"claims": "{}"}, "claims", "This field is required."),
    "too many claims": (
        {"claims": {f"c{i}": "x" for i in range(6)}},
        "claims",
        "A JSON object of 1 to 5 claims, each an exact string value.",
    ),
    "claims that are no JSON": ({"claims": "{sub: x"}, "claims", "Enter a valid JSON."),
    "a claim every token is checked for": (
        {"claims": {"aud": "x"}},
        "claims",
        "Checked for every token, not a mapping: aud.",
    ),
    "a value that is no string": (
        {"claims": {"sub": 5}},
        "claims",
        "Each value a non-empty string of at most 255 characters: sub.",
    ),
    "a value holding NaN": ({"claims": '{"sub": NaN}'}, "claims", "NaN and Infinity are not JSON values."),
    "a client and a user": (
        {"claims": {"sub": "x"}, "username": "alice"},
        "client",
        "Map to a client or to a user, one of the two.",
    ),
    "neither client nor user": (
        {"claims": {"sub": "x"}, "client": ""},
        "client",
        "Map to a client or to a user, one of the two.",
    ),
    "an unknown username": (
        {"claims": {"sub": "x"}, "client": "", "username": "nobody"},
        "username",
        "No user has this username.",
    ),
}


@pytest.mark.parametrize("case", INVALID_MAPPINGS)
def test_an_invalid_mapping_is_an_error_on_its_field(case, admin_client, basket, alice):
    changes, field, message = INVALID_MAPPINGS[case]
    row = {"claims": {"sub": "x"}, "client": basket.client.pk, **changes}
    response = admin_client.post(f"{ISSUERS}add/", issuer_form(row))
    assert mapping_errors(response) == [{field: [message]}]
    assert not TrustedIssuer.objects.exists() and not IssuerMapping.objects.exists()


def test_the_same_claims_twice_are_refused(admin_client, k8s, basket, web):
    # In one submission (the issuer being added: nothing stored to compare with) ...
    twice = issuer_form(
        {"claims": BASKET_SA, "client": basket.client.pk},
        {"claims": BASKET_SA, "client": web.client.pk},
        name="other",
        issuer=f"{K8S}/other",
    )
    errors = mapping_errors(admin_client.post(f"{ISSUERS}add/", twice))
    assert errors == [{}, {"claims": ["This issuer already has a mapping for exactly these claims."]}]
    # ... and against a stored mapping.
    again = issuer_form(*existing_rows(k8s), {"claims": BASKET_SA, "client": web.client.pk}, initial=1)
    errors = mapping_errors(admin_client.post(f"{ISSUERS}{k8s.pk}/change/", again))
    assert errors[1] == {"claims": ["This issuer already has a mapping for exactly these claims."]}
    assert k8s.mappings.count() == 1


def test_saving_an_issuer_without_a_mapping_warns(admin_client):
    response = admin_client.post(f"{ISSUERS}add/", issuer_form(), follow=True)
    issuer = TrustedIssuer.objects.get()
    warnings = [str(m.message) for m in response.context["messages"] if m.level_tag == "warning"]
    assert warnings == [
        "Trusted issuer kubernetes has no mapping: none of its tokens is accepted. "
        f'<a href="/admin/oauth/trustedissuer/{issuer.pk}/change/">Fix it</a>'
    ]


def test_saving_an_issuer_accepted_nowhere_warns(admin_client, basket):
    response = admin_client.post(
        f"{ISSUERS}add/", issuer_form({"claims": BASKET_SA, "client": basket.client.pk}), follow=True
    )
    warnings = [str(m.message) for m in response.context["messages"] if m.level_tag == "warning"]
    assert [w.split(" <a ")[0] for w in warnings] == [
        "Trusted issuer kubernetes is accepted nowhere: no enabled exchange policy names it and no client it "
        "maps to has the JWT bearer grant."
    ]


# --- who sees and changes what -------------------------------------------------------------------


def test_a_view_only_operator_sees_but_changes_nothing(k8s, basket):
    user = get_user_model().objects.create_user("viewer", password="viewer-password-1", is_staff=True)
    user.user_permissions.set(permissions("oauth.view_trustedissuer", "oauth.view_issuermapping"))
    viewer = Client()
    viewer.force_login(user)
    before = rows()
    listing = viewer.get(ISSUERS)
    assert listing.status_code == 200 and f"kubernetes: {K8S}" in listing.content.decode()
    assert listing.context["action_form"] is None  # no action offered, "delete selected" included
    page = viewer.get(f"{ISSUERS}{k8s.pk}/change/")
    assert page.status_code == 200
    assert not page.context["has_change_permission"] and 'name="_save"' not in page.content.decode()
    assert "system:serviceaccount:shop:basket" in page.content.decode()  # the mapping, read only
    form = issuer_form(*existing_rows(k8s, claims={"sub": "anything"}), initial=1, algorithms="ES256")
    assert viewer.post(f"{ISSUERS}{k8s.pk}/change/", form).status_code == 403
    assert viewer.get(f"{ISSUERS}add/").status_code == 403
    assert viewer.post(f"{ISSUERS}add/", issuer_form(name="other", issuer=f"{K8S}/other")).status_code == 403
    assert viewer.post(f"{ISSUERS}{k8s.pk}/delete/", {"post": "yes"}).status_code == 403
    viewer.post(ISSUERS, {"action": "delete_selected", "_selected_action": [k8s.pk], "post": "yes"})
    assert rows() == before


def test_an_operator_who_may_change_issuers_but_not_mappings_changes_no_mapping(k8s, basket, web):
    user = get_user_model().objects.create_user("half", password="half-password-1", is_staff=True)
    user.user_permissions.set(
        permissions("oauth.view_trustedissuer", "oauth.change_trustedissuer", "oauth.view_issuermapping")
    )
    half = Client()
    half.force_login(user)
    form = issuer_form(*existing_rows(k8s, client=web.client.pk), {"claims": {"sub": "new"}, "client": web.client.pk})
    form["mappings-INITIAL_FORMS"] = "1"
    response = half.post(f"{ISSUERS}{k8s.pk}/change/", {**form, "algorithms": "ES256"})
    assert response.status_code == 302
    k8s.refresh_from_db()
    assert k8s.algorithms == "ES256"  # the issuer's own fields, as permitted
    assert [(m.claims, m.client_id) for m in k8s.mappings.all()] == [(BASKET_SA, basket.client.pk)]


def test_the_changelist_searches_and_filters(admin_client, k8s, basket, web, alice):
    other = TrustedIssuer.objects.create(
        name="github", issuer="https://token.actions.githubusercontent.com", jwks_uri=f"{K8S}/gh", enabled=False
    )
    IssuerMapping.objects.create(issuer=other, claims={"repository": "shop/web"}, client=web.client)
    IssuerMapping.objects.create(issuer=other, claims={"repository": "shop/ops"}, user=alice)

    def found(query: str) -> set[int]:
        response = admin_client.get(ISSUERS + query)
        assert response.status_code == 200, query
        return {issuer.pk for issuer in response.context["cl"].result_list}

    assert found("?q=kubernetes") == {k8s.pk}
    assert found("?q=actions.githubusercontent") == {other.pk}
    assert found(f"?q={basket.client.client_id}") == {k8s.pk}
    assert found("?q=alice") == {other.pk}
    assert found("?enabled__exact=0") == {other.pk}
    assert found(f"?mappings__client__id__exact={web.client.pk}") == {other.pk}
    # The client filter offers the mapped clients only, and counts each issuer once.
    listing = admin_client.get(ISSUERS)
    (client_filter,) = [spec for spec in listing.context["cl"].filter_specs if spec.title == "client"]
    assert {label for _pk, label in client_filter.lookup_choices} == {str(basket.client), str(web.client)}
    assert {i.pk: i.mapping_total for i in listing.context["cl"].result_list} == {k8s.pk: 1, other.pk: 2}
    # Nothing the page does not offer (default deny), let alone a client's secret.
    assert admin_client.get(ISSUERS + "?mappings__client__client_secret__startswith=a").status_code == 400
    assert admin_client.get(ISSUERS + "?mappings__user__password__startswith=p").status_code == 400
    assert admin_client.get(ISSUERS + "?jwks_uri__contains=k8s").status_code == 400
    assert admin_client.get(ISSUERS + "?mappings__claims__contains=shop").status_code == 400


# --- a mapping is as strong as what it maps to -------------------------------------------------


def offered_clients(response) -> set[int]:
    (formset,) = [f.formset for f in response.context["inline_admin_formsets"]]
    return set(formset.forms[0].fields["client"].queryset.values_list("pk", flat=True))


def test_a_client_manager_runs_issuers_of_ordinary_clients(manager, k8s, basket, web):
    form = issuer_form(*existing_rows(k8s), {"claims": {"sub": "web"}, "client": web.client.pk}, initial=1)
    response = manager.post(f"{ISSUERS}{k8s.pk}/change/", {**form, "algorithms": "ES256"})
    assert response.status_code == 302, mapping_errors(response)
    assert k8s.mappings.count() == 2
    response = manager.post(
        f"{ISSUERS}add/", issuer_form({"claims": BASKET_SA, "client": basket.client.pk}, name="ci", issuer=f"{K8S}/ci")
    )
    assert response.status_code == 302
    assert manager.post(f"{ISSUERS}{k8s.pk}/delete/", {"post": "yes"}).status_code == 302
    assert list(TrustedIssuer.objects.values_list("name", flat=True)) == ["ci"]


def test_a_client_manager_is_offered_no_privileged_client(manager, admin_client, basket, automation):
    assert automation.pk not in offered_clients(manager.get(f"{ISSUERS}add/"))
    assert basket.client.pk in offered_clients(manager.get(f"{ISSUERS}add/"))
    assert automation.pk in offered_clients(admin_client.get(f"{ISSUERS}add/"))


@pytest.mark.parametrize(
    ("target", "field", "message"),
    [
        (
            "privileged client",
            "client",
            "{pk} is not one of the choices offered: a client holding the idp-admin API's "
            "powers is mapped by a superuser only (whoever holds the issuer's keys would act as it).",
        ),
        (
            "superuser",
            "username",
            "An operator's account (staff or superuser) is mapped by a superuser only (whoever holds the issuer's "
            "keys would act as it).",
        ),
        (
            "staff user",
            "username",
            "An operator's account (staff or superuser) is mapped by a superuser only (whoever holds the issuer's "
            "keys would act as it).",
        ),
        (
            "person",
            "username",
            "A person's account is mapped by an operator who may change users, or a superuser (whoever holds the "
            "issuer's keys would act as them).",
        ),
    ],
)
def test_a_client_manager_cannot_map_to_a_privileged_identity(
    manager, k8s, automation, admin_user, alice, target, field, message
):
    staff = get_user_model().objects.create_user("colleague", is_staff=True)
    row = {
        "privileged client": {"client": automation.pk},
        "superuser": {"username": admin_user.username},
        "staff user": {"username": staff.username},
        "person": {"username": alice.username},
    }[target]
    before = rows()
    mapping = {"claims": {"sub": "someone"}, **row}
    add = manager.post(f"{ISSUERS}add/", issuer_form(mapping, name="mine", issuer=f"{K8S}/mine"))
    assert mapping_errors(add) == [{field: [message.format(pk=automation.pk)]}]
    change = manager.post(f"{ISSUERS}{k8s.pk}/change/", issuer_form(*existing_rows(k8s), mapping, initial=1))
    assert mapping_errors(change) == [{}, {field: [message.format(pk=automation.pk)]}]
    # Nor by changing an existing mapping's identity.
    (existing,) = existing_rows(k8s)
    change = manager.post(f"{ISSUERS}{k8s.pk}/change/", issuer_form({**existing, "client": "", **row}, initial=1))
    assert mapping_errors(change) == [{field: [message.format(pk=automation.pk)]}]
    assert rows() == before


def test_an_operator_who_may_change_users_maps_people_not_operators(k8s, alice, admin_user):
    user = get_user_model().objects.create_user("people", password="people-password-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Client manager"))
    user.user_permissions.set(permissions("auth.change_user"))
    browser = Client()
    browser.force_login(user)
    existing = existing_rows(k8s)
    ok = browser.post(
        f"{ISSUERS}{k8s.pk}/change/", issuer_form(*existing, {"claims": {"sub": "a"}, "username": "alice"}, initial=1)
    )
    assert ok.status_code == 302, mapping_errors(ok)
    refused = browser.post(
        f"{ISSUERS}{k8s.pk}/change/",
        issuer_form(*existing_rows(k8s), {"claims": {"sub": "b"}, "username": admin_user.username}, initial=2),
    )
    assert mapping_errors(refused)[2] == {
        "username": [
            "An operator's account (staff or superuser) is mapped by a superuser only (whoever holds the "
            "issuer's keys would act as it)."
        ]
    }
    assert [m.user_id for m in k8s.mappings.order_by("pk")] == [None, alice.pk]


@pytest.mark.parametrize("maps_to", ["privileged client", "superuser", "person"])
def test_a_client_manager_cannot_change_or_delete_an_issuer_of_a_privileged_identity(
    manager, admin_client, k8s, automation, admin_user, alice, maps_to
):
    """Changing its keys would hand the mapping to whoever holds the new ones."""
    identity = {
        "privileged client": {"client": automation},
        "superuser": {"user": admin_user},
        "person": {"user": alice},
    }[maps_to]
    IssuerMapping.objects.create(issuer=k8s, claims={"sub": "strong"}, **identity)
    before = rows()
    page = manager.get(f"{ISSUERS}{k8s.pk}/change/")
    assert page.status_code == 200 and not page.context["has_change_permission"]
    keys = json.dumps(jwks_of(signer_for("mallory")))
    form = issuer_form(*existing_rows(k8s), initial=2, jwks_uri="", jwks=keys)
    assert manager.post(f"{ISSUERS}{k8s.pk}/change/", form).status_code == 403
    assert manager.post(f"{ISSUERS}{k8s.pk}/delete/", {"post": "yes"}).status_code == 403
    manager.post(ISSUERS, {"action": "delete_selected", "_selected_action": [k8s.pk], "post": "yes"})
    assert rows() == before
    # A superuser may.
    assert admin_client.post(f"{ISSUERS}{k8s.pk}/change/", form).status_code == 302
    assert TrustedIssuer.objects.get().jwks is not None
    assert admin_client.post(f"{ISSUERS}{k8s.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not TrustedIssuer.objects.exists() and not IssuerMapping.objects.exists()


# --- exchange policies name issuers --------------------------------------------------------------


def policy_form(client, target: ApiResource, *scopes: str, **overrides) -> dict:
    data = {
        "client": client.pk,
        "subject_audiences": [],
        "trusted_issuers": [],
        "target": target.pk,
        "scopes": [ApiScope.objects.get(name=name).pk for name in scopes],
        "mode": "delegation",
        "max_depth": "1",
        "max_lifetime": "300",
        "enabled": "on",
    }
    data.update(overrides)
    return data


def test_an_exchange_policy_names_trusted_issuers_with_checkboxes(admin_client, k8s, basket, apis):
    page = admin_client.get(f"{POLICIES}add/")
    field = page.context["adminform"].form.fields["trusted_issuers"]
    assert isinstance(field.widget.widget, CheckboxSelectMultiple)  # inside the admin's related-object links
    assert list(field.queryset) == [k8s]
    form = policy_form(basket.client, apis["discount"], "discount.fullaccess", trusted_issuers=[k8s.pk])
    response = admin_client.post(f"{POLICIES}add/", form, follow=True)
    policy = ExchangePolicy.objects.get()
    assert list(policy.trusted_issuers.all()) == [k8s]
    assert "basket may exchange tokens for shoppingbasket, issuer kubernetes into discount" in (
        admin_client.get(POLICIES).content.decode()
    )
    # Named by a policy, the issuer is accepted somewhere: no warning about it.
    assert not [m for m in response.context["messages"] if m.level_tag == "warning"]
    too_large = policy_form(basket.client, apis["discount"], "discount.fullaccess", trusted_issuers=["9" * 30])
    assert "trusted_issuers" in form_errors(admin_client.post(f"{POLICIES}{policy.pk}/change/", too_large))


def test_naming_a_disabled_issuer_warns(admin_client, k8s, basket, apis):
    k8s.enabled = False
    k8s.save()
    form = policy_form(basket.client, apis["discount"], "discount.fullaccess", trusted_issuers=[k8s.pk])
    response = admin_client.post(f"{POLICIES}add/", form, follow=True)
    warnings = [
        unescape(str(m.message)).split(" <a ")[0] for m in response.context["messages"] if m.level_tag == "warning"
    ]
    assert warnings == ["The exchange policy basket -> discount names trusted issuer kubernetes, which is disabled."]


def test_a_policy_into_the_management_api_naming_an_issuer_is_still_a_superusers(manager, admin_client, k8s, basket):
    """The existing rule decides by the policy's target and scopes, whatever subject tokens it
    takes: an issuer named does not change it."""
    idp_admin = ApiResource.objects.get(audience=MANAGEMENT_API_AUDIENCE)
    form = policy_form(basket.client, idp_admin, READ, trusted_issuers=[k8s.pk])
    errors = form_errors(manager.post(f"{POLICIES}add/", form))
    assert sorted(errors) == ["scopes", "target"]
    assert "granted by a superuser only" in errors["target"][0]
    assert not ExchangePolicy.objects.exists()
    assert admin_client.post(f"{POLICIES}add/", form).status_code == 302
    policy = ExchangePolicy.objects.get()
    assert manager.post(f"{POLICIES}{policy.pk}/change/", form).status_code == 403
    assert manager.post(f"{POLICIES}{policy.pk}/delete/", {"post": "yes"}).status_code == 403
    # An ordinary policy naming the issuer is the Client manager's to make.
    ordinary = policy_form(basket.client, ApiResource.objects.get(audience="discount"), "discount.fullaccess")
    assert manager.post(f"{POLICIES}add/", {**ordinary, "trusted_issuers": [k8s.pk]}).status_code == 302
