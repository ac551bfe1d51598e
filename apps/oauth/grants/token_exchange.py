"""OAuth 2.0 Token Exchange, RFC 8693, at /o/token/.

A service holding a user's token (issued for the service's own API) exchanges it for a
narrower token to call the next API on the user's behalf. The decision is made by
apps/oauth/services/exchange.py; this module parses the request, authenticates the client,
issues the token and writes the audit event, granted or refused.
"""

import json

from django.db import transaction
from oauthlib.oauth2.rfc6749.grant_types.base import GrantTypeBase

from apps.audit import services as audit
from apps.oauth.errors import InvalidClient, OAuth2Error
from apps.oauth.models import Application, GrantType
from apps.oauth.request_state import internal
from apps.oauth.services.exchange import ExchangeRequest, evaluate_exchange
from apps.oauth.validators import request_value, request_values

GRANT_TYPE = GrantType.TOKEN_EXCHANGE.value

# RFC 8693 section 2.1 (``resource`` is RFC 8707's): read in exchange_request below.


class TokenExchangeGrant(GrantTypeBase):
    grant_type = GRANT_TYPE

    def exchange_request(self, request) -> ExchangeRequest:
        """The exchange parameters of an oauthlib request."""
        return ExchangeRequest(
            subject_token=request_value(request, "subject_token"),
            subject_token_type=request_value(request, "subject_token_type"),
            actor_token=request_value(request, "actor_token"),
            actor_token_type=request_value(request, "actor_token_type"),
            requested_token_type=request_value(request, "requested_token_type"),
            audiences=tuple(request_values(request, "audience")),
            resources=tuple(request_values(request, "resource")),
            scopes=tuple(request.scopes or ()),
        )

    def validate_token_request(self, request) -> None:
        for validator in self.custom_validators.pre_token:
            validator(request)
        # RFC 8693 section 2.1: the client authenticates; a public client cannot.
        if not self.request_validator.authenticate_client(request):
            raise InvalidClient(request=request)
        request.client_id = request.client.client_id
        self.validate_grant_type(request)
        exchange = evaluate_exchange(client=request.client, params=self.exchange_request(request))
        request.exchange = exchange
        # What the token generator and save_bearer_token read (apps/oauth/tokens.py, validators.py).
        request.token_plan = exchange.plan
        request.scopes = list(exchange.plan.scopes)
        request.user = exchange.user
        request.token_subject = exchange.subject
        request.extra_claims = {"act": exchange.act} if exchange.act else None
        request.parent_token = exchange.subject_row

    def create_token_response(self, request, token_handler) -> tuple[dict[str, str], str, int]:
        headers = self._get_default_headers()
        request_id = audit.request_id_from(request.headers)
        try:
            self.validate_token_request(request)
        except OAuth2Error as error:
            self._audit(request, request_id, error=error)
            headers.update(error.headers)
            return headers, error.json, error.status_code
        # The exchanged token, its lineage row and the audit event land together or not at all.
        with transaction.atomic():
            token = token_handler.create_token(request, refresh_token=False)
            self.request_validator.save_token(token, request)
            self._audit(request, request_id)
        return headers, json.dumps(self.response_body(token, request)), 200

    def response_body(self, token, request) -> dict:
        """RFC 8693 section 2.2.1."""
        return {**token, "issued_token_type": request.exchange.issued_token_type}

    def _audit(self, request, request_id: str, error: OAuth2Error | None = None) -> None:
        exchange = internal(request, "exchange")
        client = request.client if isinstance(request.client, Application) else None
        audit.record(
            event_type=audit.EXCHANGE,
            granted=error is None,
            client_id=client.client_id if client else str(request.client_id or ""),
            subject=exchange.subject if exchange else "",
            audience=exchange.plan.audience if exchange else [],
            scopes=exchange.plan.scopes if exchange else [],
            reason=f"{error.error}: {error.description}" if error else "",
            request_id=request_id,
            details={
                "grant_type": str(request.grant_type),
                "act": exchange.act if exchange else None,
                "policy": exchange.policy.pk if exchange else None,
            },
        )
