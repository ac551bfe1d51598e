"""Configurations that save but cannot work (apps/console/consistency.py): listed for the
dashboard, and a warning where they are made (the client and policy admin forms)."""

from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.test import RequestFactory

from apps.console.consistency import configuration_problems, problems_involving, visible_configuration_problems
from apps.oauth.models import Application, ExchangePolicy, IssuerMapping, TransactionTokenPolicy, TrustedIssuer
from apps.resources.models import ApiScope
from tests.support.admin import permissions
from tests.support.service_keys import signer_for
from tests.support.tokens import TOKEN_EXCHANGE


def messages_of(client: Application) -> list[str]:
    return [problem.message for problem in problems_involving(client)]


def test_a_sound_configuration_has_no_problem(basket, basket_policy, web, make_client):
    make_client("introspector", grants=[], resource="discount")  # an API that only introspects
    assert configuration_problems() == []


def test_a_policy_for_a_client_without_the_exchange_grant(make_client, make_policy):
    client = make_client(
        "basket", grants=["client_credentials"], scopes=["discount.fullaccess"], resource="shoppingbasket"
    )
    policy = make_policy(client.client, "discount")
    [problem] = configuration_problems()
    assert problem.message == "basket has an exchange policy into discount but not the token-exchange grant."
    assert problem.fix_url == f"/admin/oauth/application/{client.client.pk}/change/"
    assert problem.involves_object(policy) and problem.involves_object(client.client)

    policy.enabled = False  # a disabled policy does nothing either way
    policy.save()
    assert configuration_problems() == []


def test_a_client_with_no_grant_type_unless_it_is_an_api_that_introspects(apis, make_client):
    lost = make_client("lost", grants=[], scopes=["eventcatalog.read"]).client
    make_client("introspector", grants=[], resource="discount")
    assert [p.message for p in configuration_problems()] == ["lost has no grant type: it can get no token."]
    lost.is_active = False  # a disabled client is no problem: it is meant to do nothing
    lost.save()
    assert configuration_problems() == []


def test_an_exchange_client_without_an_api_of_its_own(make_client, make_policy, apis):
    client = make_client("relay", grants=[TOKEN_EXCHANGE]).client
    policy = make_policy(client, "discount")
    assert messages_of(client) == [
        "relay has the token-exchange grant but no API of its own: no token is for it to exchange."
    ]
    policy.subject_audiences.set([apis["shoppingbasket"]])  # tokens for another API: it can work
    assert configuration_problems() == []


def test_an_exchange_client_without_a_policy(basket):
    assert messages_of(basket.client) == ["basket has the token-exchange grant but no enabled exchange policy."]


def make_txn_policy(client: Application, **fields) -> TransactionTokenPolicy:
    policy = TransactionTokenPolicy.objects.create(client=client, **fields)
    policy.scopes.set(ApiScope.objects.filter(name="shoppingbasket.fullaccess"))
    return policy


def test_a_transaction_token_policy_for_a_client_without_the_exchange_grant(make_client, apis):
    client = make_client(
        "basket", grants=["client_credentials"], scopes=["discount.fullaccess"], resource="shoppingbasket"
    )
    policy = make_txn_policy(client.client)
    [problem] = configuration_problems()
    assert problem.message == "basket has a transaction-token policy but not the token-exchange grant."
    assert problem.fix_url == f"/admin/oauth/application/{client.client.pk}/change/"
    assert problem.involves_object(policy) and problem.involves_object(client.client)

    policy.enabled = False  # a disabled policy does nothing either way
    policy.save()
    assert configuration_problems() == []


def test_a_transaction_token_policy_is_a_policy_for_the_exchange_grant(basket):
    """A workload that only asks for Txn-Tokens (with the token-exchange grant) needs no
    exchange policy; a disabled transaction-token policy does not count."""
    policy = make_txn_policy(basket.client)
    assert messages_of(basket.client) == []
    policy.enabled = False
    policy.save()
    assert messages_of(basket.client) == ["basket has the token-exchange grant but no enabled exchange policy."]


def test_a_transaction_token_policys_subject_audiences_give_a_client_tokens_to_exchange(make_client, apis):
    client = make_client("relay", grants=[TOKEN_EXCHANGE]).client
    policy = make_txn_policy(client)
    assert messages_of(client) == [
        "relay has the token-exchange grant but no API of its own: no token is for it to exchange."
    ]
    policy.subject_audiences.set([apis["shoppingbasket"]])
    assert configuration_problems() == []


# --- trusted issuers -------------------------------------------------------------------------------

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def make_issuer(name: str = "kubernetes", **fields) -> TrustedIssuer:
    return TrustedIssuer.objects.create(
        name=name, issuer=f"https://{name}.example", jwks_uri=f"https://{name}.example/jwks", **fields
    )


def issuer_messages(issuer: TrustedIssuer) -> list[str]:
    return [problem.message for problem in problems_involving(issuer)]


def test_a_trusted_issuer_without_a_mapping(db):
    issuer = make_issuer()
    [problem] = configuration_problems()
    assert problem.message == "Trusted issuer kubernetes has no mapping: none of its tokens is accepted."
    assert problem.fix_url == f"/admin/oauth/trustedissuer/{issuer.pk}/change/"
    assert problem.involves_object(issuer)
    issuer.enabled = False  # a disabled issuer accepts nothing, on purpose
    issuer.save()
    assert configuration_problems() == []


def test_a_trusted_issuer_accepted_nowhere(basket, web, make_policy):
    issuer = make_issuer()
    IssuerMapping.objects.create(issuer=issuer, claims={"sub": "basket"}, client=basket.client)
    IssuerMapping.objects.create(issuer=issuer, claims={"sub": "web"}, client=web.client)
    accepted_nowhere = (
        "Trusted issuer kubernetes is accepted nowhere: no enabled exchange policy names it and no client it "
        "maps to has the JWT bearer grant."
    )
    [problem] = problems_involving(issuer)
    assert problem.message == accepted_nowhere
    assert problem.fix_url == f"/admin/oauth/trustedissuer/{issuer.pk}/change/"
    # Saving a client it maps to shows it too: giving it the grant is a fix.
    assert problem.involves_object(basket.client) and problem.involves_object(web.client)

    # An enabled exchange policy naming it: its tokens are exchanged there.
    policy = make_policy(basket.client, "discount")
    policy.trusted_issuers.set([issuer])
    assert issuer_messages(issuer) == []
    policy.enabled = False
    policy.save()
    assert issuer_messages(issuer) == [accepted_nowhere]

    # A client it maps to with the JWT bearer grant: its tokens are assertions for that client.
    web.client.allowed_grant_types = [*web.client.allowed_grant_types, JWT_BEARER]
    web.client.save()
    assert issuer_messages(issuer) == []
    web.client.is_active = False  # a disabled client gets no token
    web.client.save()
    assert issuer_messages(issuer) == [accepted_nowhere]


def test_an_issuer_mapped_to_people_only_needs_an_exchange_policy(basket, alice, make_policy):
    issuer = make_issuer()
    IssuerMapping.objects.create(issuer=issuer, claims={"sub": "alice"}, user=alice)
    assert len(issuer_messages(issuer)) == 1
    make_policy(basket.client, "discount").trusted_issuers.set([issuer])
    assert configuration_problems() == []


def test_an_exchange_policy_naming_a_disabled_issuer(basket, make_policy):
    issuer = make_issuer(enabled=False)
    IssuerMapping.objects.create(issuer=issuer, claims={"sub": "basket"}, client=basket.client)
    policy = make_policy(basket.client, "discount")
    policy.trusted_issuers.set([issuer, make_issuer("github")])
    IssuerMapping.objects.create(
        issuer=TrustedIssuer.objects.get(name="github"), claims={"sub": "x"}, client=basket.client
    )
    [problem] = configuration_problems()
    assert problem.message == (
        "The exchange policy basket -> discount names trusted issuer kubernetes, which is disabled."
    )
    assert problem.fix_url == f"/admin/oauth/trustedissuer/{issuer.pk}/change/"
    assert (
        problem.involves_object(policy) and problem.involves_object(issuer) and problem.involves_object(basket.client)
    )
    issuer.enabled = True
    issuer.save()
    assert configuration_problems() == []


def test_trusted_issuers_give_an_exchange_client_without_an_api_tokens_to_exchange(make_client, make_policy):
    client = make_client("relay", grants=[TOKEN_EXCHANGE]).client
    policy = make_policy(client, "discount")
    assert messages_of(client) == [
        "relay has the token-exchange grant but no API of its own: no token is for it to exchange."
    ]
    issuer = make_issuer()
    IssuerMapping.objects.create(issuer=issuer, claims={"sub": "relay"}, client=client)
    policy.trusted_issuers.set([issuer])
    assert configuration_problems() == []


def test_client_credentials_without_a_scope_of_an_api(apis, make_client):
    client = make_client("job", grants=["client_credentials"], scopes=["openid"]).client
    assert messages_of(client) == ["job has the client-credentials grant but no scope of an API."]


def test_a_client_whose_every_api_is_disabled(make_client, apis):
    client = make_client("job", scopes=["eventcatalog.read", "discount.fullaccess"]).client
    apis["eventcatalog"].enabled = False
    apis["eventcatalog"].save()
    assert configuration_problems() == []  # discount still works
    apis["discount"].enabled = False
    apis["discount"].save()
    assert messages_of(client) == ["Every API job has scopes of is disabled: discount, eventcatalog."]


def test_the_dashboard_list_only_for_those_who_may_view_clients_and_policies(basket):
    viewer = get_user_model().objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.set(permissions("oauth.view_application"))
    request = RequestFactory().get("/admin/")
    request.user = viewer
    assert visible_configuration_problems(request) == []
    viewer.user_permissions.add(*permissions("oauth.view_exchangepolicy"))
    request.user = get_user_model().objects.get(pk=viewer.pk)  # permissions are cached per instance
    assert [p.message for p in visible_configuration_problems(request)] == [
        "basket has the token-exchange grant but no enabled exchange policy."
    ]


def test_the_template_lists_each_problem_with_its_link(basket):
    html = render_to_string(
        "admin/console/configuration_problems.html", {"configuration_problems": configuration_problems()}
    )
    assert "basket has the token-exchange grant but no enabled exchange policy." in html
    assert f'href="/admin/oauth/application/{basket.client.pk}/change/"' in html
    assert render_to_string("admin/console/configuration_problems.html", {"configuration_problems": []}).strip() == ""


def test_the_dashboard_shows_the_problems_and_the_way_to_register_a_service(basket, admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert 'id="configuration-problems"' in html
    assert "basket has the token-exchange grant but no enabled exchange policy." in html
    assert 'href="/admin/register-service/"' in html


def test_the_dashboard_shows_no_problems_to_an_operator_who_may_not_view_clients(basket, client):
    viewer = get_user_model().objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.set(permissions("audit.view_auditevent"))
    client.force_login(viewer)
    html = client.get("/admin/").content.decode()
    assert "configuration-problems" not in html and "register-service" not in html


# --- warnings where the configuration is made -------------------------------------------------------


def client_form(**overrides) -> dict:
    data = {
        "name": "relay",
        "client_id": "",
        "client_type": "confidential",
        "is_active": "on",
        "allowed_grant_types": [TOKEN_EXCHANGE],
        "allowed_scopes": [],
        "resource": "",
        "redirect_uris": "",
        "post_logout_redirect_uris": "",
    }
    data.update(overrides)
    return data


def warnings(response) -> list[str]:
    return [str(m.message) for m in response.context["messages"] if m.level_tag == "warning"]


def test_saving_a_client_that_cannot_work_warns(admin_client, apis):
    response = admin_client.post("/admin/oauth/application/add/", client_form(), follow=True)
    client = Application.objects.get(name="relay")
    assert warnings(response) == [
        "relay has the token-exchange grant but no API of its own: no token is for it to exchange. "
        f'<a href="/admin/oauth/application/{client.pk}/change/">Fix it</a>',
        "relay has the token-exchange grant but no enabled exchange policy. "
        f'<a href="/admin/oauth/application/{client.pk}/change/">Fix it</a>',
    ]


def test_saving_a_sound_client_does_not_warn(admin_client, apis):
    scope = ApiScope.objects.get(name="eventcatalog.read")
    form = client_form(allowed_grant_types=["client_credentials"], allowed_scopes=[scope.pk])
    response = admin_client.post("/admin/oauth/application/add/", form, follow=True)
    assert warnings(response) == []


def test_saving_a_policy_for_a_client_without_the_grant_warns(admin_client, apis, make_client):
    client = make_client("job", scopes=["eventcatalog.read"], resource="shoppingbasket").client
    scope = ApiScope.objects.get(name="discount.fullaccess")
    form = {
        "client": client.pk,
        "target": apis["discount"].pk,
        "scopes": [scope.pk],
        "mode": "delegation",
        "max_depth": "1",
        "max_lifetime": "300",
        "enabled": "on",
    }
    response = admin_client.post("/admin/oauth/exchangepolicy/add/", form, follow=True)
    assert ExchangePolicy.objects.filter(client=client).exists()
    assert warnings(response) == [
        "job has an exchange policy into discount but not the token-exchange grant. "
        f'<a href="/admin/oauth/application/{client.pk}/change/">Fix it</a>'
    ]


def test_a_confidential_client_with_neither_secret_nor_keys(apis, make_client):
    jwks = {"keys": [signer_for("job").public_jwk()]}
    client = make_client("job", scopes=["eventcatalog.read"], jwks=jwks, with_secret=False).client
    assert messages_of(client) == []  # its keys authenticate it
    Application.objects.filter(pk=client.pk).update(jwks=None)
    assert messages_of(Application.objects.get(pk=client.pk)) == [
        "job has neither a secret nor public keys: it cannot authenticate."
    ]
