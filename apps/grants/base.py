"""What a grant is to the token endpoint: a class that reads its parameters and decides.

A grant never authenticates the client, signs, stores, audits, counts or renders: the one
pipeline (apps/grants/pipeline.py) does that for every grant, in the same order. A
grant's :meth:`Grant.decide` gets an authenticated client that may use the grant and
returns a :class:`Decision` (what to issue) or raises one typed OAuth error.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.http import HttpRequest, QueryDict

from apps.clients.authentication import authenticate_client
from apps.oauth.models import AccessToken, Application
from apps.resources.services import TokenPlan
from apps.tokens.issuance import IssuedAccessToken, IssuedTransactionToken

# What a grant that stores its tokens itself returns: the response's extra members
# (refresh_token, id_token).
Persist = Callable[[IssuedAccessToken], dict[str, Any]]


@dataclass(frozen=True)
class Authenticated:
    """Who a token request is for, once authenticated: the client, and what the grant's own
    credential established when the grant authenticates it (RFC 7523: the verified
    assertion), handed to :meth:`Grant.decide` in :attr:`TokenRequest.credential`."""

    client: Application
    credential: Any = None


@dataclass(frozen=True)
class TokenRequest:
    """One token request, after the pipeline's checks: the form, the HTTP request it came in
    (for headers), the client it authenticated, and the thumbprint of the key of its verified
    DPoP proof (RFC 9449 section 5; None without one): the key the token will be bound to."""

    params: QueryDict
    http: HttpRequest
    client: Application
    jkt: str | None = None
    credential: Any = None  # Authenticated.credential


@dataclass
class Decision:
    """What a grant decided to issue: one access token under ``plan``."""

    plan: TokenPlan
    user: Any = None
    # The token's sub when it is not the user's or the client's own (an exchange keeps its
    # subject token's).
    subject: str | None = None
    extra_claims: dict[str, Any] | None = None
    # The token this one derives from (lineage): revoking it revokes this one. If it is
    # revoked while this one is being issued, the insert fails and the request is refused.
    parent: AccessToken | None = None
    # Members added to the RFC 6749 section 5.1 response (e.g. RFC 8693's issued_token_type).
    response: dict[str, Any] = field(default_factory=dict)
    # Grants whose tokens DOT stores (codes, refresh rotation) persist them themselves; the
    # others' rows are written by the pipeline, together with the audit event.
    persist: Persist | None = None
    # A token that is not an access token, signed by the grant and never stored (a
    # Txn-Token): the pipeline answers ``response`` alone and audits it, nothing more.
    transaction_token: IssuedTransactionToken | None = None
    # The audit event's subject and details (no secrets: they are stored and exported).
    audit_subject: str = ""
    audit_details: dict[str, Any] = field(default_factory=dict)

    @property
    def audience(self) -> list[str]:
        """Who the issued token is for: its APIs, or a Txn-Token's trust domain."""
        if self.transaction_token is not None:
            return self.transaction_token.audience
        return self.plan.audience


class Grant(ABC):
    """Base of every grant served at /o/token/. A subclass sets the class attributes and
    implements :meth:`decide`; registering it (apps/grants/__init__.py) is all it takes
    to be served, listed in discovery and kept out of error reports."""

    # The grant_type value (RFC 6749 section 4, or an extension URI).
    GRANT_TYPE: ClassVar[str]
    # The grant type a client must be allowed (Application.allowed_grant_types) to use this
    # grant; an alias of another grant names that one.
    PERMISSION: ClassVar[str | None] = None
    # Whether only confidential clients may use it. A grant that opens to public clients
    # (RFC 6749 section 2.1) lets them authenticate by client_id alone (the "none" method).
    CONFIDENTIAL_ONLY: ClassVar[bool] = True
    # Request parameters that carry a credential or a token: hidden from error reports.
    SECRET_PARAMETERS: ClassVar[frozenset[str]] = frozenset()
    # Whether each outcome, granted or refused, is written to the audit trail. On unless a
    # grant says why not.
    AUDITED: ClassVar[bool] = True
    AUDIT_EVENT: ClassVar[str] = "token.issued"
    # Whether outcomes are also counted as token exchanges (idp_token_exchanges).
    EXCHANGE: ClassVar[bool] = False

    @classmethod
    def permission(cls) -> str:
        return cls.PERMISSION or cls.GRANT_TYPE

    def variant(self, params: QueryDict) -> "Grant":
        """The grant this request is: itself, unless one ``grant_type`` is served as more than
        one grant (jwt-bearer: RFC 7523, or on-behalf-of with ``requested_token_use``)."""
        return self

    def authenticate(self, request: HttpRequest) -> Authenticated:
        """The client the request is for, authenticated (``invalid_client`` otherwise). A
        grant whose request is itself a credential (RFC 7523) may identify the client."""
        return Authenticated(authenticate_client(request, allow_public=not self.CONFIDENTIAL_ONLY))

    def audit_request_details(self, params: QueryDict) -> dict[str, Any]:
        """What of the request the audit event records even when it is refused before a
        decision (never a secret parameter)."""
        return {}

    @abstractmethod
    def decide(self, request: TokenRequest) -> Decision:
        """What to issue for this request, or the typed OAuth error that refuses it."""
