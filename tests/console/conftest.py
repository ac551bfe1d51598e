"""One object of every model the admin shows, with known secrets, and operators holding
exactly the permissions a test names (tests/support/admin.py finds them)."""

from collections.abc import Callable, Iterable
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import set_token_value

from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.consent.services import remember_consent
from apps.keys.services import get_signing_key
from apps.oauth.models import (
    ExchangePolicy,
    Grant,
    IDToken,
    IssuerMapping,
    RefreshToken,
    SigningKey,
    TransactionTokenPolicy,
    TrustedIssuer,
)
from apps.tokens.issuance import issue_user_token

User = get_user_model()
# What django-axes records of a sign-in, in each of its three models.
SIGN_IN = {"username": "alice", "ip_address": "10.0.0.9", "user_agent": "test", "http_accept": "*/*", "path_info": "/"}


@pytest.fixture
def every_record(apis, make_client) -> dict[str, object]:
    """An object of each registered model, by label; secret values are real ones."""
    alice = User.objects.create_user("alice", "alice@example.test", "alice-password-1")
    web = make_client(
        "web",
        grants=["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange"],
        scopes=["openid", "eventcatalog.read"],
        redirect_uris=["https://web.test/callback"],
        resource="shoppingbasket",
    ).client
    issue_user_token(client=web, user=alice, scopes=["eventcatalog.read"])
    refresh = RefreshToken(user=alice, application=web, access_token=web.accesstoken_set.get())
    set_token_value(refresh, "refresh-secret-0123456789abcdefghij")
    refresh.save()
    get_signing_key("RS256")
    policy = ExchangePolicy.objects.create(client=web, target=apis["discount"])
    policy.scopes.set(apis["discount"].scopes.all())
    txn_policy = TransactionTokenPolicy.objects.create(
        client=web, request_details_keys="action amount", transaction_context={"channel": "web"}
    )
    txn_policy.scopes.set(apis["shoppingbasket"].scopes.all())
    issuer = TrustedIssuer.objects.create(
        name="kubernetes", issuer="https://kubernetes.example", jwks_uri="https://kubernetes.example/jwks"
    )
    IssuerMapping.objects.create(issuer=issuer, claims={"sub": "system:serviceaccount:shop:web"}, client=web)
    IssuerMapping.objects.create(issuer=issuer, claims={"sub": "alice@partner.example"}, user=alice)
    policy.trusted_issuers.set([issuer])
    objects = {
        "auth.user": alice,
        "auth.group": Group.objects.create(name="helpdesk"),
        "oauth.application": web,
        "oauth.exchangepolicy": policy,
        "oauth.transactiontokenpolicy": txn_policy,
        "oauth.trustedissuer": issuer,
        "resources.apiresource": apis["eventcatalog"],
        "resources.apiscope": apis["eventcatalog"].scopes.first(),
        "oauth.accesstoken": web.accesstoken_set.get(),
        "oauth.refreshtoken": refresh,
        "oauth.grant": Grant.objects.create(
            user=alice,
            application=web,
            code="live-authorization-code-0123456789abcdef",
            expires=timezone.now() + timedelta(minutes=1),
            redirect_uri="https://web.test/callback",
            scope="openid",
            code_challenge="x" * 43,
            code_challenge_method="S256",
        ),
        "oauth.idtoken": IDToken.objects.create(
            user=alice, application=web, expires=timezone.now() + timedelta(minutes=5), scope="openid"
        ),
        "oauth.signingkey": SigningKey.objects.get(algorithm="RS256", state="active"),
        "consent.consent": remember_consent(user=alice, application=web, scopes=["openid"]),
        "axes.accessattempt": AccessAttempt.objects.create(
            **SIGN_IN,
            get_data="next=/o/authorize/%3Fcode_challenge%3Dsecret-get-data",
            post_data="username=alice&password=secret-post-data",
            failures_since_start=5,
        ),
        "axes.accessfailurelog": AccessFailureLog.objects.create(**SIGN_IN, locked_out=True),
        "axes.accesslog": AccessLog.objects.create(
            **SIGN_IN,
            session_hash="session-hash-secret-0123456789abcdef",
        ),
    }
    audit.record(event_type=audit.EXCHANGE, granted=True, client_id=web.client_id)

    objects["audit.auditevent"] = AuditEvent.objects.get(event_type=audit.EXCHANGE)
    return objects


@pytest.fixture
def operator_client(db) -> Callable[..., Client]:
    """A browser signed in as a staff user (not a superuser) holding exactly ``granted``."""

    def make(granted: Iterable[Permission], username: str = "operator") -> Client:
        user = User.objects.create_user(username, password="operator-password-1", is_staff=True)
        user.user_permissions.set(list(granted))
        browser = Client()
        browser.force_login(user)
        return browser

    return make
