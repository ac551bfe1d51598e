"""Trusted issuers: CRUD by name with their mappings nested, checked by the models' clean()
(400 on the field), audited; a mapping to an operator's account or to a client holding the
management API's powers, and any change to an issuer that has one, is a superuser's in the
admin (403, audited). Exchange policies name the issuers they accept."""

import pytest
from django.contrib.auth import get_user_model

from apps.audit.models import AuditEvent, Outcome
from apps.management_api.authentication import READ_SCOPE, WRITE_SCOPE
from apps.management_api.services import MANAGEMENT_API_CHANGE
from apps.oauth.models import ExchangePolicy, IssuerMapping, TrustedIssuer
from apps.resources.models import ApiScope
from apps.resources.privileged import MANAGEMENT_API_AUDIENCE
from tests.management_api.test_privileged_scopes import REFUSED as REFUSED_SCOPES
from tests.support.service_keys import jwks_of, signer_for

pytestmark = pytest.mark.django_db

PATH = "trusted-issuers/"
K8S = "https://kubernetes.example"
BASKET_SA = "system:serviceaccount:shop:basket"
REFUSED = {
    "detail": "A mapping to an operator's account (staff or superuser) or to a client holding the idp-admin API's "
    "powers is made by a superuser, in the admin: the management API neither makes, changes nor deletes one, nor "
    "changes or deletes an issuer that has one."
}


def body(**changes) -> dict:
    return {
        "name": "kubernetes",
        "issuer": K8S,
        "jwks_uri": f"{K8S}/openid/v1/jwks",
        "algorithms": ["RS256", "ES256"],
        "mappings": [{"claims": {"sub": BASKET_SA}, "client": "basket"}],
        **changes,
    }


def rows() -> list[tuple]:
    return [
        (
            i.name,
            i.issuer,
            i.jwks_uri,
            i.jwks,
            i.algorithms,
            i.audience,
            i.enabled,
            tuple(
                (m.pk, m.claims, m.client.client_id if m.client else None, m.user.username if m.user else None)
                for m in i.mappings.select_related("client", "user").order_by("pk")
            ),
        )
        for i in TrustedIssuer.objects.order_by("pk")
    ]


def changes() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=MANAGEMENT_API_CHANGE).order_by("pk"))


def test_crud_round_trip(api, basket, web, alice):
    created = api("post", PATH, body())
    assert created.status_code == 201, created.json()
    issuer = created.json()
    assert {k: v for k, v in issuer.items() if k != "created"} == {
        "name": "kubernetes",
        "issuer": K8S,
        "jwks_uri": f"{K8S}/openid/v1/jwks",
        "jwks": None,
        "algorithms": ["RS256", "ES256"],
        "audience": "",
        "enabled": True,
        "mappings": [{"claims": {"sub": BASKET_SA}, "client": "basket", "user": None}],
        "summary": f"kubernetes: {K8S}, keys {K8S}/openid/v1/jwks, RS256 ES256, aud https://idp.test",
    }
    assert api("get", f"{PATH}kubernetes/").json() == issuer
    assert [i["name"] for i in api("get", PATH).json()["results"]] == ["kubernetes"]
    (kept,) = IssuerMapping.objects.values_list("pk", flat=True)

    # The mappings given replace the issuer's: those listed again are kept as they are.
    mappings = [
        {"claims": {"sub": BASKET_SA}, "client": "basket"},
        {"claims": {"sub": "partner|alice-1", "tid": "partner"}, "user": "alice"},
    ]
    changed = api("patch", f"{PATH}kubernetes/", {"mappings": mappings, "enabled": False, "audience": f"{K8S}/aud"})
    assert changed.status_code == 200, changed.json()
    assert changed.json()["summary"].endswith(f"aud {K8S}/aud (disabled)")
    assert rows() == [
        (
            "kubernetes",
            K8S,
            f"{K8S}/openid/v1/jwks",
            None,
            "RS256 ES256",
            f"{K8S}/aud",
            False,
            (
                (kept, {"sub": BASKET_SA}, "basket", None),
                (kept + 1, {"sub": "partner|alice-1", "tid": "partner"}, None, "alice"),
            ),
        )
    ]
    # Left out of a PATCH, they stay.
    assert api("patch", f"{PATH}kubernetes/", {"enabled": True}).status_code == 200
    assert IssuerMapping.objects.count() == 2

    keys = jwks_of(signer_for("kubernetes"))
    replaced = api("put", f"{PATH}kubernetes/", body(jwks_uri="", jwks=keys, mappings=[]))
    assert replaced.status_code == 200, replaced.json()
    assert replaced.json()["jwks"] == keys and replaced.json()["mappings"] == []
    assert not IssuerMapping.objects.exists()

    assert api("delete", f"{PATH}kubernetes/").status_code == 204
    assert api("get", f"{PATH}kubernetes/").status_code == 404
    assert not TrustedIssuer.objects.exists()


def test_every_change_is_audited_with_its_values_and_mappings(api, basket):
    api("post", PATH, body())
    api("patch", f"{PATH}kubernetes/", {"mappings": [{"claims": {"sub": "other"}, "client": "basket"}]})
    api("patch", f"{PATH}kubernetes/", {"algorithms": ["ES256"]})
    api("delete", f"{PATH}kubernetes/")
    added, remapped, changed, deleted = changes()
    assert [e.details["action"] for e in (added, remapped, changed, deleted)] == [
        "added",
        "changed",
        "changed",
        "deleted",
    ]
    assert {e.details["model"] for e in (added, remapped, changed, deleted)} == {"oauth.trustedissuer"}
    assert {e.client_id for e in (added, remapped, changed, deleted)} == {"automation"}
    assert added.details["values"]["issuer"] == {"before": None, "after": K8S}
    assert added.details["values"]["mappings"] == {"before": None, "after": [f"sub = {BASKET_SA} -> client basket"]}
    assert remapped.details["changed"] == ["mappings"]
    assert remapped.details["values"] == {
        "mappings": {"before": [f"sub = {BASKET_SA} -> client basket"], "after": ["sub = other -> client basket"]}
    }
    assert changed.details["values"] == {"algorithms": {"before": "RS256 ES256", "after": "ES256"}}
    assert deleted.details["values"]["mappings"] == {"before": ["sub = other -> client basket"], "after": None}
    assert deleted.details["deleted"] == {"oauth.IssuerMapping": 1, "oauth.TrustedIssuer": 1}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"issuer": "http://kubernetes.example"}, "issuer", "Use https (http only for loopback hosts)."),
        ({"issuer": "https://idp.test"}, "issuer", "This is this IdP's own issuer."),
        ({"jwks_uri": ""}, "jwks_uri", "Give a JWKS URL or inline keys, one of the two."),
        ({"jwks": {"keys": [{"kty": "EC"}]}}, "jwks_uri", "Give a JWKS URL or inline keys, one of the two."),
        ({"jwks_uri": "", "jwks": {"keys": []}}, "jwks", 'A JWKS is a JSON object with a non-empty "keys" list.'),
        ({"algorithms": ["HS256"]}, "algorithms", "Choose from: ES256 PS256 RS256."),
        ({"algorithms": "RS256"}, "algorithms", 'Expected a list of items but got type "str".'),
        ({"algorithms": []}, "algorithms", "Choose from: ES256 PS256 RS256."),
        ({"name": "kube rnetes"}, "name", None),
        ({"mappings": {"sub": "x"}}, "mappings", None),
    ],
)
def test_an_invalid_issuer_is_400_on_the_field(api, basket, changes, field, message):
    response = api("post", PATH, body(**changes))
    assert response.status_code == 400, response.json()
    assert list(response.json()) == [field]
    if message is not None:
        assert response.json()[field] == [message]
    assert not TrustedIssuer.objects.exists()
    # A change to the same effect is refused the same way.
    assert api("post", PATH, body()).status_code == 201
    before = rows()
    response = api("patch", f"{PATH}kubernetes/", changes)
    assert (response.status_code, list(response.json())) == (400, [field])
    assert rows() == before


@pytest.mark.parametrize(
    ("mapping", "errors"),
    [
        ({"claims": {"aud": "x"}, "client": "basket"}, {"claims": ["Checked for every token, not a mapping: aud."]}),
        (
            {"claims": {"sub": 5}, "client": "basket"},
            {"claims": ["Each value a non-empty string of at most 255 characters: sub."]},
        ),
        (
            {"claims": ["sub"], "client": "basket"},
            {"claims": ["A JSON object of 1 to 5 claims, each an exact string value."]},
        ),
        ({"claims": {"sub": "x"}}, {"client": ["Map to a client or to a user, one of the two."]}),
        (
            {"claims": {"sub": "x"}, "client": "basket", "user": "alice"},
            {"client": ["Map to a client or to a user, one of the two."]},
        ),
        ({"claims": {"sub": "x"}, "client": "nobody"}, {"client": ["Object with client_id=nobody does not exist."]}),
        ({"claims": {"sub": "x"}, "user": "nobody"}, {"user": ["Object with username=nobody does not exist."]}),
        ({"client": "basket"}, {"claims": ["This field is required."]}),
    ],
)
def test_an_invalid_mapping_is_400_on_its_field(api, basket, alice, mapping, errors):
    response = api("post", PATH, body(mappings=[{"claims": {"sub": "ok"}, "client": "basket"}, mapping]))
    assert (response.status_code, response.json()) == (400, {"mappings": {"1": errors}})  # the second one
    assert not TrustedIssuer.objects.exists()
    # Refused the same way in a change (a PATCH requires no field of a mapping: the model's
    # clean() then says what is missing).
    assert api("post", PATH, body()).status_code == 201
    before = rows()
    response = api(
        "patch", f"{PATH}kubernetes/", {"mappings": [{"claims": {"sub": "ok"}, "client": "basket"}, mapping]}
    )
    assert (response.status_code, list(response.json()), list(response.json()["mappings"])) == (
        400,
        ["mappings"],
        ["1"],
    )
    assert rows() == before


def test_the_same_claims_twice_are_400(api, basket, web):
    twice = [{"claims": {"sub": "x"}, "client": "basket"}, {"claims": {"sub": "x"}, "client": "web"}]
    response = api("post", PATH, body(mappings=twice))
    assert (response.status_code, response.json()) == (
        400,
        {"mappings": ['Two mappings have the claims {"sub": "x"}.']},
    )


def test_a_name_or_issuer_twice_is_400(api, basket):
    assert api("post", PATH, body()).status_code == 201
    response = api("post", PATH, body(issuer=f"{K8S}/other"))
    assert (response.status_code, list(response.json())) == (400, ["name"])
    response = api("post", PATH, body(name="other"))
    assert (response.status_code, list(response.json())) == (400, ["issuer"])


def test_a_read_token_reads_and_changes_nothing(api, basket, read_token):
    api("post", PATH, body())
    assert api("get", f"{PATH}kubernetes/", token=read_token).status_code == 200
    before = rows()
    response = api("patch", f"{PATH}kubernetes/", {"enabled": False}, token=read_token)
    assert (response.status_code, response.json()["error"]) == (403, "insufficient_scope")
    assert api("delete", f"{PATH}kubernetes/", token=read_token).status_code == 403
    assert api("post", PATH, body(name="other", issuer=f"{K8S}/o"), token=read_token).status_code == 403
    assert rows() == before


# --- a mapping is as strong as what it maps to -------------------------------------------------


@pytest.fixture
def operator_account(db):
    return get_user_model().objects.create_user("colleague", is_staff=True)


@pytest.fixture
def privileged_issuers(basket, automation, admin_user, operator_account) -> None:
    """Issuers a superuser made, each with a mapping the API may not make."""
    for name, identity in (
        ("to-automation", {"client": automation.client}),
        ("to-superuser", {"user": admin_user}),
        ("to-staff", {"user": operator_account}),
    ):
        issuer = TrustedIssuer.objects.create(name=name, issuer=f"https://{name}.example", jwks_uri=f"{K8S}/jwks")
        IssuerMapping.objects.create(issuer=issuer, claims={"sub": "ordinary"}, client=basket.client)
        IssuerMapping.objects.create(issuer=issuer, claims={"sub": "strong"}, **identity)


STRONG = {"automation": {"client": "automation"}, "superuser": {"user": "admin"}, "staff": {"user": "colleague"}}


def strong_mapping(identity: str) -> list[dict]:
    return [{"claims": {"sub": "x"}, **STRONG[identity]}]


PRIVILEGED_PATHS = {
    **{
        f"POST mapping to {identity}": (
            "post",
            PATH,
            body(name="new", issuer=f"{K8S}/new", mappings=strong_mapping(identity)),
        )
        for identity in STRONG
    },
    **{
        f"PATCH new mapping to {identity}": ("patch", f"{PATH}kubernetes/", {"mappings": strong_mapping(identity)})
        for identity in STRONG
    },
    "PATCH keys of an issuer mapping to automation": ("patch", f"{PATH}to-automation/", {"jwks_uri": f"{K8S}/mine"}),
    "PATCH issuer of an issuer mapping to the superuser": ("patch", f"{PATH}to-superuser/", {"issuer": f"{K8S}/mine"}),
    "PATCH dropping the staff mapping": (
        "patch",
        f"{PATH}to-staff/",
        {"mappings": [{"claims": {"sub": "ordinary"}, "client": "basket"}]},
    ),
    "PUT an issuer mapping to the superuser": (
        "put",
        f"{PATH}to-superuser/",
        body(name="to-superuser", issuer="https://to-superuser.example", mappings=[]),
    ),
    "DELETE an issuer mapping to automation": ("delete", f"{PATH}to-automation/", None),
    "DELETE an issuer mapping to staff": ("delete", f"{PATH}to-staff/", None),
}


@pytest.mark.parametrize("path", PRIVILEGED_PATHS)
def test_mapping_to_a_privileged_identity_or_touching_an_issuer_that_has_one_is_403(
    api, basket, alice, privileged_issuers, path
):
    assert api("post", PATH, body()).status_code == 201  # an ordinary issuer, to change
    (_added,) = changes()
    before = rows()
    method, url, data = PRIVILEGED_PATHS[path]
    response = api(method, url, data)
    assert (response.status_code, response.json()) == (403, REFUSED)
    assert rows() == before
    (_added, event) = changes()
    assert (event.outcome, event.reason, event.client_id) == (Outcome.REFUSED, "privileged", "automation")
    assert event.details["model"] == "oauth.trustedissuer"


def test_ordinary_clients_and_people_are_mapped_and_privileged_issuers_still_read(
    api, basket, alice, privileged_issuers
):
    mappings = [{"claims": {"sub": "a"}, "client": "basket"}, {"claims": {"sub": "b"}, "user": "alice"}]
    assert api("post", PATH, body(mappings=mappings)).status_code == 201
    strong = api("get", f"{PATH}to-superuser/")
    assert strong.status_code == 200
    assert {"claims": {"sub": "strong"}, "client": None, "user": "admin"} in strong.json()["mappings"]


# --- exchange policies name the issuers they accept ----------------------------------------------


def policy_body(**changes) -> dict:
    return {"client": "basket", "target": "discount", "scopes": ["discount.fullaccess"], **changes}


def test_an_exchange_policy_names_trusted_issuers(api, basket):
    api("post", PATH, body())
    api("post", PATH, body(name="ci", issuer="https://ci.example"))
    created = api("post", "exchange-policies/", policy_body(trusted_issuers=["kubernetes", "ci"]))
    assert created.status_code == 201, created.json()
    policy = created.json()
    assert policy["trusted_issuers"] == ["ci", "kubernetes"]
    assert "issuer ci, issuer kubernetes into discount" in policy["summary"]
    assert api("patch", f"exchange-policies/{policy['id']}/", {"trusted_issuers": []}).json()["trusted_issuers"] == []
    assert not ExchangePolicy.objects.get().trusted_issuers.exists()
    unknown = api("patch", f"exchange-policies/{policy['id']}/", {"trusted_issuers": ["ghost"]})
    assert (unknown.status_code, unknown.json()) == (
        400,
        {"trusted_issuers": ["Object with name=ghost does not exist."]},
    )
    # Left out, they stay; and a policy made without them names none.
    api("patch", f"exchange-policies/{policy['id']}/", {"trusted_issuers": ["ci"]})
    assert api("patch", f"exchange-policies/{policy['id']}/", {"max_lifetime": 60}).json()["trusted_issuers"] == ["ci"]


def test_an_exchange_policy_into_the_management_api_naming_an_issuer_is_still_403(api, basket):
    """The existing rule decides by the policy's target and scopes, whatever tokens it takes."""
    api("post", PATH, body())
    body_ = policy_body(target=MANAGEMENT_API_AUDIENCE, scopes=[READ_SCOPE], trusted_issuers=["kubernetes"])
    response = api("post", "exchange-policies/", body_)
    assert (response.status_code, response.json()) == (403, REFUSED_SCOPES)
    assert not ExchangePolicy.objects.exists()
    # Made by a superuser, it is not changed through the API either, issuers included.
    policy = ExchangePolicy.objects.create(client=basket.client, target=ApiScope.objects.get(name=WRITE_SCOPE).resource)
    policy.scopes.set(ApiScope.objects.filter(name=WRITE_SCOPE))
    response = api("patch", f"exchange-policies/{policy.pk}/", {"trusted_issuers": ["kubernetes"]})
    assert (response.status_code, response.json()) == (403, REFUSED_SCOPES)
    assert not policy.trusted_issuers.exists()
