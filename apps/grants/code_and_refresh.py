"""The grants that redeem what the browser flow produced: authorization codes and refresh
tokens. oauthlib and DOT do what they do well here (code, PKCE and redirect URI checks,
refresh token reuse detection and rotation, ID tokens); our pipeline does the rest.

Each request gets its own :class:`TokenGrantValidator`, which knows the authenticated client,
the code being redeemed and the access token we signed: nothing is handed between steps on
the oauthlib request, where a client-supplied parameter of the same name could stand in.
"""

import hmac
import json
import secrets
import uuid
from typing import Any, ClassVar

from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import set_token_value
from oauthlib.common import Request as OAuthlibRequest
from oauthlib.openid.connect.core.grant_types import AuthorizationCodeGrant as OIDCAuthorizationCodeGrant
from oauthlib.openid.connect.core.grant_types import RefreshTokenGrant as OIDCRefreshTokenGrant

from apps.grants.base import Decision, Grant, TokenRequest
from apps.oauth.models import AccessToken, Application, GrantType, RefreshToken
from apps.oauth.models import Grant as AuthorizationCode
from apps.protocol.errors import InvalidGrant
from apps.provider.validators import OAuth2Validator, revoke_tokens_from_code
from apps.resources.services import TokenPlan, plan_token
from apps.tokens.issuance import IssuedAccessToken, bearer_token_response, store_access_token
from apps.tokens.sign_in import SignIn, require_strength


def require_code_verifier(request: OAuthlibRequest) -> None:
    """RFC 7636 section 4.5: every code here was issued with a challenge (PKCE is required),
    so a token request without ``code_verifier`` can never redeem one."""
    if not request.code_verifier:
        raise InvalidGrant(description="code_verifier is required (PKCE).", request=request)


class TokenGrantValidator(OAuth2Validator):
    """The validator oauthlib's code and refresh grants run with, for one token request."""

    def __init__(self, client: Application, jkt: str | None = None) -> None:
        super().__init__()
        self.client = client
        # The key of the request's DPoP proof (RFC 9449): its tokens are bound to it.
        self.jkt = jkt
        self.code: AuthorizationCode | None = None
        self.refresh_token: RefreshToken | None = None
        self.issued: IssuedAccessToken | None = None
        self.stored: AccessToken | None = None

    # The pipeline authenticated the client already (apps/clients/authentication.py).
    def client_authentication_required(self, request, *args, **kwargs) -> bool:
        return True

    def authenticate_client(self, request, *args, **kwargs) -> bool:
        request.client = self.client
        return True

    # --- authorization codes: single use (RFC 6749 sections 4.1.2 and 10.5) ---------------

    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        grant = AuthorizationCode.objects.select_related("user").filter(code=code, application=client).first()
        if grant is None or grant.is_expired() or not grant.user.is_active:
            return False
        if grant.redeemed_at is not None:
            # A replayed code: whoever holds it may have stolen it, so the tokens issued
            # from it are revoked too.
            revoke_tokens_from_code(grant)
            return False
        self.code = grant
        request.scopes = grant.scope.split()
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        return True

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, *args, **kwargs) -> bool:
        """RFC 6749 section 4.1.3: the redirect_uri must be the one the code was issued for;
        a mismatch is invalid_grant (section 5.2), not oauthlib's invalid_request."""
        if self.code is None or not self.code.redirect_uri_allowed(redirect_uri):
            raise InvalidGrant(description="redirect_uri does not match the authorization request.")
        return True

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs) -> None:
        # Nothing left to do: the code is claimed when its tokens are saved.
        return None

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        # A disabled user's sessions end: no new tokens from old refresh tokens.
        valid = super().validate_refresh_token(refresh_token, client, request, *args, **kwargs) and (
            request.user is not None and request.user.is_active
        )
        if valid:
            self.refresh_token = request.refresh_token_instance
        return valid

    def sign_in(self) -> SignIn | None:
        """How the user signed in to the session that approved the code being redeemed, or
        the one the refresh token's family came from (None before either is validated)."""
        row = self.code or self.refresh_token
        return SignIn.recorded(amr=row.amr, auth_time=row.auth_time) if row is not None else None

    def get_id_token_dictionary(self, token, token_handler, request):
        claims, expiration_time = super().get_id_token_dictionary(token, token_handler, request)
        # auth_time: when this browser session signed in, not the user's last sign-in anywhere;
        # after a refresh still that sign-in's (OpenID Connect Core 12.2). amr and acr: how.
        # (A family from before its sign-in time was recorded keeps DOT's, the last login.)
        if (sign_in := self.sign_in()) is not None:
            claims.update(sign_in.id_token_claims())
        return claims, expiration_time

    # --- storage ------------------------------------------------------------------------------

    def save_bearer_token(self, token, request, *args, **kwargs) -> None:
        if self.code is not None:
            return self._redeem_code_and_save(self.code, token, request)
        return super().save_bearer_token(token, request, *args, **kwargs)

    def _redeem_code_and_save(self, code: AuthorizationCode, token, request) -> None:
        """Claim the code and store its tokens in one transaction; of two concurrent
        redemptions exactly one claims it (the UPDATE's WHERE is re-checked under the row lock)."""
        with transaction.atomic():
            claimed = AuthorizationCode.objects.filter(pk=code.pk, redeemed_at__isnull=True).update(
                redeemed_at=timezone.now()
            )
            if claimed:
                self._save_bearer_token(token, request)
                family = RefreshToken.objects.filter(access_token=self.stored).values_list("token_family", flat=True)
                AuthorizationCode.objects.filter(pk=code.pk).update(
                    access_token=self.stored, token_family=family.first()
                )
                return
        revoke_tokens_from_code(AuthorizationCode.objects.get(pk=code.pk))
        raise InvalidGrant(description="The authorization code has already been used.", request=request)

    def _save_bearer_token(self, token, request, *args, **kwargs) -> None:
        if request.grant_type == "refresh_token":
            # Two concurrent refreshes both pass validation; the row lock lets one rotate
            # the token and the other, once it gets the lock, finds it already revoked.
            current = request.refresh_token_instance
            if not RefreshToken.objects.select_for_update().filter(pk=current.pk, revoked__isnull=True).exists():
                raise InvalidGrant(description="The refresh token has already been used.", request=request)
        return super()._save_bearer_token(token, request, *args, **kwargs)

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token) -> RefreshToken:
        """DOT's, plus the browser session the family came from and how it signed in: the
        code's, then each rotation's predecessor's (so ending that session revokes the whole
        family, and every refresh is judged and described by the original sign-in)."""
        refresh_token = RefreshToken(
            user=request.user,
            application=request.client,
            access_token=access_token,
            token_family=previous_refresh_token.token_family if previous_refresh_token else uuid.uuid4(),
            resource=[],  # RFC 8707 resources are resolved by our plan, not DOT (see the validator)
            jkt=refresh_token_key(self.client, self.jkt),
            **_sign_in_fields(previous_refresh_token or self.code),
        )
        set_token_value(refresh_token, refresh_token_code)
        refresh_token.save()
        return refresh_token

    def _create_access_token(self, expires, request, token, source_refresh_token=None) -> AccessToken:
        # DOT's ``expires`` is recomputed from ``expires_in``; the JWT's own exp is the truth.
        id_token = token.get("id_token")
        assert self.issued is not None  # _persist sets it before saving
        self.stored = store_access_token(
            issued=self.issued,
            application=self.client,
            user=request.user,
            id_token=self._load_id_token(id_token) if id_token else None,
            source_refresh_token=source_refresh_token,
        )
        return self.stored


def refresh_token_key(client: Application, jkt: str | None) -> str:
    """The key a new refresh token is bound to (RFC 9449 section 5): a public client's, to the
    key of the proof it sent (it has no other way to prove the token is its own); a
    confidential client's to none, since its client authentication already sender-constrains
    the token (and lets it rotate its DPoP key without losing the grant)."""
    return (jkt or "") if client.client_type == Application.CLIENT_PUBLIC else ""


def check_key_binding(*, bound_to: str, jkt: str | None, what: str) -> None:
    """A code bound by the authorization request's ``dpop_jkt`` (RFC 9449 section 10), or a
    public client's bound refresh token (section 5), is redeemed only with a proof of that
    key. Either refusal is ``invalid_grant``: the grant presented is not this presenter's to
    use (as node-oidc-provider answers), while the proof itself may be sound."""
    if not bound_to:
        return
    if jkt is None:
        raise InvalidGrant(description=f"The {what} is bound to a DPoP key: send a DPoP proof signed with it.")
    if not hmac.compare_digest(jkt, bound_to):
        raise InvalidGrant(description=f"The DPoP proof's key is not the one the {what} is bound to.")


def _sign_in_fields(source: AuthorizationCode | RefreshToken | None) -> dict[str, Any]:
    if source is None:
        return {"session_ref": "", "auth_time": None, "amr": ""}
    return {"session_ref": source.session_ref, "auth_time": source.auth_time, "amr": source.amr}


class _OAuthlibGrant(Grant):
    """A grant validated by oauthlib's (OpenID Connect) grant class, stored through DOT."""

    OAUTHLIB_GRANT: type
    # The parameters oauthlib is given, and only these: its Request answers any attribute it
    # does not have from the request's parameters, and DOT reads some as state (e.g.
    # refresh_token_instance, nonce, scope), so nothing else of the client's may reach it.
    # Client authentication was done by the pipeline; resource is read by decide().
    PARAMETERS: ClassVar[frozenset[str]]
    # Public clients too (RFC 6749 section 2.1): PKCE binds the code to the client that asked.
    CONFIDENTIAL_ONLY = False
    # Not audited yet: the sign-in and consent that lead to these tokens are the events the
    # people-side audit trail records (issue 18); refusals here are logged by oauthlib.
    AUDITED = False

    def _validated(self, request: TokenRequest) -> tuple[TokenGrantValidator, Any, OAuthlibRequest]:
        validator = TokenGrantValidator(request.client, request.jkt)
        grant = self.OAUTHLIB_GRANT(request_validator=validator)
        self.prepare(grant)
        body = [(key, value) for key, value in request.params.items() if key in self.PARAMETERS]
        oauthlib_request = OAuthlibRequest(request.http.path, http_method="POST", body=body)
        grant.validate_token_request(oauthlib_request)
        return validator, grant, oauthlib_request

    def prepare(self, grant: Any) -> None:
        return None

    def decide(self, request: TokenRequest) -> Decision:
        validator, grant, oauthlib_request = self._validated(request)
        if validator.code is not None:
            check_key_binding(bound_to=validator.code.dpop_jkt, jkt=request.jkt, what="authorization code")
        if validator.refresh_token is not None:
            check_key_binding(bound_to=validator.refresh_token.jkt, jkt=request.jkt, what="refresh token")
        # RFC 8707 section 2.2: ``resource`` narrows the APIs; without one, a code's token is
        # for every API it was authorized for. The scopes are what the code or refresh token
        # was granted, so plan_token's own rule (each resource needs one of them) refuses a
        # resource beyond them with invalid_target, as at the authorization endpoint.
        resources = request.params.getlist("resource")
        if not resources and validator.code is not None:
            resources = list(validator.code.resource)
        plan = plan_token(
            allowed_scopes=request.client.allowed_scope_objects(),
            requested_scopes=oauthlib_request.scopes or [],
            resource_uris=resources,
            one_token_per_audience=False,
        )
        # The scopes granted now, for the ID token and the stored rows.
        oauthlib_request.scopes = list(plan.scopes)
        sign_in = validator.sign_in()
        assert sign_in is not None  # oauthlib validated the code or the refresh token
        # The client or an API may require a second factor since the code was approved (or
        # since the family's sign-in): judged now, against the sign-in the tokens stem from.
        require_strength(acr=sign_in.acr, client=request.client, resources=plan.resources)

        def persist(issued: IssuedAccessToken) -> dict[str, Any]:
            return _persist(validator, grant, oauthlib_request, plan, issued)

        return Decision(
            plan=plan, user=oauthlib_request.user, extra_claims=sign_in.access_token_claims(), persist=persist
        )


def _persist(
    validator: TokenGrantValidator,
    grant: Any,
    oauthlib_request: OAuthlibRequest,
    plan: TokenPlan,
    issued: IssuedAccessToken,
) -> dict[str, Any]:
    """Mint the refresh token (opaque, 256 random bits) and the ID token (with ``openid``),
    and store all three through DOT; the response, which DOT may rewrite (it re-answers a
    rotation it already made)."""
    validator.issued = issued
    token: dict[str, Any] = {**bearer_token_response(issued, plan), "refresh_token": secrets.token_urlsafe(32)}
    token = grant.add_id_token(token, None, oauthlib_request)
    validator.save_bearer_token(token, oauthlib_request)
    return dict(token)


class AuthorizationCodeGrant(_OAuthlibGrant):
    GRANT_TYPE = GrantType.AUTHORIZATION_CODE.value
    SECRET_PARAMETERS = frozenset({"code", "code_verifier"})
    PARAMETERS = frozenset({"grant_type", "code", "redirect_uri", "code_verifier"})
    OAUTHLIB_GRANT = OIDCAuthorizationCodeGrant

    def prepare(self, grant: Any) -> None:
        grant.custom_validators.pre_token.append(require_code_verifier)


class RefreshTokenGrant(_OAuthlibGrant):
    GRANT_TYPE = GrantType.REFRESH_TOKEN.value
    SECRET_PARAMETERS = frozenset({"refresh_token"})
    PARAMETERS = frozenset({"grant_type", "refresh_token", "scope"})
    OAUTHLIB_GRANT = OIDCRefreshTokenGrant
