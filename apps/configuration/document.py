"""The configuration document, version 1: how each stored object reads as an entry, and how
an entry read from a file is checked and completed.

Every list is in a fixed order (entries by natural key, sets of names sorted, redirect URIs
as registered, since the first one may be a client's default), and every entry lists all its
fields, so two exports of the same configuration are byte-identical and a diff between two
files shows exactly what changed. Sorting is done here, in Python, not by the database: the
order must not depend on a database's collation.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Model

from apps.oauth.models import Application, ExchangePolicy, TransactionTokenPolicy, TrustedIssuer
from apps.oauth.models.transaction_token_policy import member_names
from apps.resources.models import ApiResource, ApiScope

FORMAT_VERSION = 1
SECTIONS = (
    "apis",
    "identity_scopes",
    "clients",
    "trusted_issuers",
    "exchange_policies",
    "transaction_token_policies",
    "groups",
)
# Sections added to version 1 after its first files were written: a file without one says
# nothing about what it holds (nothing there is created, changed or pruned), so files written
# before it still import as they did. Every other section must be present. (A file cut short
# loses "groups" too, which is required: it is still refused.) Without "trusted_issuers", an
# exchange policy's "trusted_issuers" left out means "as they are" too, not "none".
OPTIONAL_SECTIONS = frozenset({"trusted_issuers", "transaction_token_policies"})


class ConfigurationError(Exception):
    """The configuration cannot be imported; ``messages`` name each wrong entry."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


# --- stored objects as entries -------------------------------------------------------------


def scope_entry(scope: ApiScope) -> dict[str, Any]:
    return {"name": scope.name, "description": scope.description}


def api_entry(resource: ApiResource, scopes: Iterable[ApiScope]) -> dict[str, Any]:
    return {
        "audience": resource.audience,
        "name": resource.name,
        "resource_uri": resource.resource_uri,
        "enabled": resource.enabled,
        "access_token_lifetime": resource.access_token_lifetime,
        "signing_algorithm": resource.signing_algorithm,
        "user_claims": sorted(resource.user_claims or []),
        "store_tokens": resource.store_tokens,
        "require_second_factor": resource.require_second_factor,
        "require_dpop": resource.require_dpop,
        "scopes": sorted((scope_entry(scope) for scope in scopes), key=lambda entry: entry["name"]),
    }


def client_entry(client: Application, scope_names: Iterable[str]) -> dict[str, Any]:
    """A client as an operator configures it: never its secret, nor the hint of one. Its
    public keys (private_key_jwt) are configuration: nothing in them is secret."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "client_type": client.client_type,
        "enabled": client.is_active,
        "grant_types": sorted(client.allowed_grant_types or []),
        "scopes": sorted(scope_names),
        "redirect_uris": client.redirect_uris.split(),
        "post_logout_redirect_uris": client.post_logout_redirect_uris.split(),
        "resource": client.resource.audience if client.resource else None,
        "skip_authorization": client.skip_authorization,
        "one_token_per_audience": client.one_token_per_audience,
        "require_second_factor": client.require_second_factor,
        "jwks": client.jwks,
        "jwks_uri": client.jwks_uri,
        "require_pushed_authorization_requests": client.require_pushed_authorization_requests,
        "dpop_bound_access_tokens": client.dpop_bound_access_tokens,
    }


def policy_entry(
    policy: ExchangePolicy,
    *,
    client_id: str,
    target: str,
    subject_audiences: Iterable[str],
    scopes: Iterable[str],
    trusted_issuers: Iterable[str],
) -> dict[str, Any]:
    return {
        "client": client_id,
        "target": target,
        "subject_audiences": sorted(subject_audiences),
        "trusted_issuers": sorted(trusted_issuers),
        "scopes": sorted(scopes),
        "mode": policy.mode,
        "max_depth": policy.max_depth,
        "max_lifetime": policy.max_lifetime,
        "accept_id_token": policy.accept_id_token,
        "enabled": policy.enabled,
    }


def transaction_token_policy_entry(
    policy: TransactionTokenPolicy, *, client_id: str, subject_audiences: Iterable[str], scopes: Iterable[str]
) -> dict[str, Any]:
    """Member names as sorted lists (stored space-separated), the context with its keys sorted
    at every level: the same export whichever order the database keeps a JSON object in."""
    return {
        "client": client_id,
        "subject_audiences": sorted(subject_audiences),
        "scopes": sorted(scopes),
        "request_context_keys": sorted(member_names(policy.request_context_keys)),
        "request_details_keys": sorted(member_names(policy.request_details_keys)),
        "transaction_context": sorted_json(policy.transaction_context),
        "max_lifetime": policy.max_lifetime,
        "accept_txn_tokens": policy.accept_txn_tokens,
        "enabled": policy.enabled,
    }


def sorted_json(value: Any) -> Any:
    """``value`` with the keys of every object sorted: the same export whichever order the
    database keeps a JSON object in."""
    return json.loads(json.dumps(value, sort_keys=True))


def mapping_entry(claims: Any, *, client_id: str | None, username: str | None) -> dict[str, Any]:
    return {"claims": sorted_json(claims), "client": client_id, "user": username}


def mapping_order(entry: Mapping[str, Any]) -> tuple[str, str, str]:
    return (json.dumps(entry["claims"], sort_keys=True), entry["client"] or "", entry["user"] or "")


def trusted_issuer_entry(issuer: TrustedIssuer, mappings: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Its algorithms as a sorted list (stored space-separated), its inline keys and each
    mapping's claims with sorted keys, its mappings sorted by their claims: a client by its
    client_id, a person by their username (one of the two, the other null)."""
    return {
        "name": issuer.name,
        "issuer": issuer.issuer,
        "jwks_uri": issuer.jwks_uri,
        "jwks": sorted_json(issuer.jwks),
        "algorithms": sorted(issuer.algorithm_names),
        "audience": issuer.audience,
        "enabled": issuer.enabled,
        "mappings": sorted(mappings, key=mapping_order),
    }


def group_entry(group: Group, permissions: Iterable[str]) -> dict[str, Any]:
    return {"name": group.name, "permissions": sorted(permissions)}


def policy_key(client_id: str, target: str) -> str:
    """How reports and messages name a policy (as ``ExchangePolicy.__str__`` does)."""
    return f"{client_id} -> {target}"


# --- entries read from a file --------------------------------------------------------------

REQUIRED = object()


@dataclass(frozen=True)
class Field:
    """One field of an entry: its type (``str``, ``int``, ``bool``, ``names`` (a set of strings,
    sorted), ``uris`` (a list of strings, in order), ``optional_str`` (a name or null),
    ``scopes`` (an API's scope entries), ``json_object`` (a mapping, as a JWKS, or null),
    ``object`` (a JSON object, never null), ``mappings`` (a trusted issuer's mapping
    entries)), and its default."""

    type: str
    default: Any = REQUIRED


def model_default(model: type[Model], name: str) -> Any:
    # The model's own default, so a field left out of a file means what it means in the admin.
    model_field = model._meta.get_field(name)
    assert isinstance(model_field, models.Field)  # a column, not a relation's reverse side
    return model_field.get_default()


SCOPE_FIELDS = {"name": Field("str"), "description": Field("str", "")}
API_FIELDS = {
    "audience": Field("str"),
    "name": Field("str"),
    "resource_uri": Field("str"),
    "enabled": Field("bool", model_default(ApiResource, "enabled")),
    "access_token_lifetime": Field("int", model_default(ApiResource, "access_token_lifetime")),
    "signing_algorithm": Field("str", model_default(ApiResource, "signing_algorithm")),
    "user_claims": Field("names", []),
    "store_tokens": Field("bool", model_default(ApiResource, "store_tokens")),
    "require_second_factor": Field("bool", model_default(ApiResource, "require_second_factor")),
    "require_dpop": Field("bool", model_default(ApiResource, "require_dpop")),
    "scopes": Field("scopes", []),
}
CLIENT_FIELDS = {
    "client_id": Field("str"),
    "name": Field("str"),
    "client_type": Field("str"),
    "enabled": Field("bool", model_default(Application, "is_active")),
    "grant_types": Field("names", []),
    "scopes": Field("names", []),
    "redirect_uris": Field("uris", []),
    "post_logout_redirect_uris": Field("uris", []),
    "resource": Field("optional_str", None),
    "skip_authorization": Field("bool", model_default(Application, "skip_authorization")),
    "one_token_per_audience": Field("bool", model_default(Application, "one_token_per_audience")),
    "require_second_factor": Field("bool", model_default(Application, "require_second_factor")),
    # What the keys hold is the model's to check (Application.clean(), as in the admin).
    "jwks": Field("json_object", None),
    "jwks_uri": Field("str", model_default(Application, "jwks_uri")),
    "require_pushed_authorization_requests": Field(
        "bool", model_default(Application, "require_pushed_authorization_requests")
    ),
    "dpop_bound_access_tokens": Field("bool", model_default(Application, "dpop_bound_access_tokens")),
}
POLICY_FIELDS = {
    "client": Field("str"),
    "target": Field("str"),
    "subject_audiences": Field("names", []),
    # Left out: none, in a file with a trusted_issuers section; as they are in one without.
    "trusted_issuers": Field("names", None),
    "scopes": Field("names"),
    "mode": Field("str", model_default(ExchangePolicy, "mode")),
    "max_depth": Field("int", model_default(ExchangePolicy, "max_depth")),
    "max_lifetime": Field("int", model_default(ExchangePolicy, "max_lifetime")),
    "accept_id_token": Field("bool", model_default(ExchangePolicy, "accept_id_token")),
    "enabled": Field("bool", model_default(ExchangePolicy, "enabled")),
}
TRANSACTION_TOKEN_POLICY_FIELDS = {
    "client": Field("str"),
    "subject_audiences": Field("names", []),
    "scopes": Field("names"),
    # What the names and the context may be is the model's to check (its clean(), as in the admin).
    "request_context_keys": Field("names", []),
    "request_details_keys": Field("names", []),
    "transaction_context": Field("object", {}),
    "max_lifetime": Field("int", model_default(TransactionTokenPolicy, "max_lifetime")),
    "accept_txn_tokens": Field("bool", model_default(TransactionTokenPolicy, "accept_txn_tokens")),
    "enabled": Field("bool", model_default(TransactionTokenPolicy, "enabled")),
}
MAPPING_FIELDS = {
    # What the claims may be, and that one of client and user is given, is the model's to check.
    "claims": Field("object"),
    "client": Field("optional_str", None),
    "user": Field("optional_str", None),
}
TRUSTED_ISSUER_FIELDS = {
    "name": Field("str"),
    "issuer": Field("str"),
    # The keys, algorithms and URLs are the model's to check (its clean(), as in the admin).
    "jwks_uri": Field("str", model_default(TrustedIssuer, "jwks_uri")),
    "jwks": Field("json_object", None),
    "algorithms": Field("names", sorted(model_default(TrustedIssuer, "algorithms").split())),
    "audience": Field("str", model_default(TrustedIssuer, "audience")),
    "enabled": Field("bool", model_default(TrustedIssuer, "enabled")),
    "mappings": Field("mappings", []),
}
GROUP_FIELDS = {"name": Field("str"), "permissions": Field("names", [])}


def is_json_object(value: Any) -> bool:
    """A mapping that is JSON as it stands: string keys, and no value JSON lacks (a YAML
    date, NaN, infinity) nor one it would silently change (an integer key)."""
    if not isinstance(value, dict):
        return False
    try:
        return bool(json.loads(json.dumps(value, allow_nan=False)) == value)
    except (TypeError, ValueError, RecursionError):
        return False


@dataclass(frozen=True)
class Document:
    """A checked document: every entry complete, in the order of the export."""

    apis: list[dict[str, Any]]
    identity_scopes: list[dict[str, Any]]
    clients: list[dict[str, Any]]
    # None: the file has no such section (OPTIONAL_SECTIONS), and leaves them as they are.
    trusted_issuers: list[dict[str, Any]] | None
    exchange_policies: list[dict[str, Any]]
    # None: the file has no such section (OPTIONAL_SECTIONS), and leaves them as they are.
    transaction_token_policies: list[dict[str, Any]] | None
    groups: list[dict[str, Any]]


class _Reader:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def value(self, value: Any, field: Field, entry: str, name: str) -> Any:
        where = f"{entry}: {name!r}"
        if field.type == "str":
            # Blank or not is the model's to say (a scope's description may be empty, an
            # API's name may not): full_clean() checks it when the entry is applied.
            if isinstance(value, str):
                return value
            self.errors.append(f"{where}: must be a string.")
        elif field.type == "optional_str":
            if value is None or (isinstance(value, str) and value.strip()):
                return value
            self.errors.append(f"{where}: must be a non-empty string or null.")
        elif field.type == "bool":
            if isinstance(value, bool):
                return value
            self.errors.append(f"{where}: must be true or false.")
        elif field.type == "int":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            self.errors.append(f"{where}: must be a whole number.")
        elif field.type in ("names", "uris"):
            if isinstance(value, list) and all(isinstance(item, str) and item.split() == [item] for item in value):
                unique = list(dict.fromkeys(value))
                return sorted(unique) if field.type == "names" else unique
            self.errors.append(f"{where}: must be a list of strings without spaces.")
        elif field.type == "json_object":
            if value is None or isinstance(value, dict):
                return value
            self.errors.append(f"{where}: must be a mapping or null.")
        elif field.type == "object":
            if is_json_object(value):
                return value
            self.errors.append(
                f"{where}: must be a JSON object (a mapping with string keys and JSON values: "
                "no dates, NaN or infinity)."
            )
        elif field.type == "scopes":
            return self.entries(value, SCOPE_FIELDS, f"{entry}: scope", key=("name",))
        elif field.type == "mappings":
            if isinstance(value, list):
                return self.mappings(value, entry)
            self.errors.append(f"{where}: must be a list.")
        return None

    def mappings(self, raw: list[Any], issuer: str) -> list[dict[str, Any]]:
        """A trusted issuer's mappings, named by their place in the file (they have no name),
        sorted as the export sorts them."""
        entries = [self.entry(item, MAPPING_FIELDS, f"{issuer}: mapping {index + 1}") for index, item in enumerate(raw)]
        return sorted((entry for entry in entries if entry is not None), key=mapping_order)

    def entry(self, raw: Any, fields: Mapping[str, Field], where: str) -> dict[str, Any] | None:
        if not isinstance(raw, dict):
            self.errors.append(f"{where}: must be a mapping of fields.")
            return None
        before = len(self.errors)
        unknown = sorted(str(key) for key in raw if key not in fields)
        if unknown:
            self.errors.append(f"{where}: unknown field(s): {', '.join(unknown)}.")
        entry: dict[str, Any] = {}
        for name, field in fields.items():
            if name in raw:
                entry[name] = self.value(raw[name], field, where, name)
            elif field.default is REQUIRED:
                self.errors.append(f"{where}: {name!r} is required.")
            else:
                entry[name] = list(field.default) if isinstance(field.default, list) else field.default
        return entry if len(self.errors) == before else None

    def entries(
        self, raw: Any, fields: Mapping[str, Field], where: str, *, key: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        """The entries of one list, named in messages by ``key`` (their natural key, as far as
        the entry has it), sorted by it."""
        if not isinstance(raw, list):
            self.errors.append(f"{where}: must be a list.")
            return []
        entries: list[dict[str, Any]] = []
        for index, item in enumerate(raw):
            values = [item.get(part) for part in key] if isinstance(item, dict) else []
            names = [value for value in values if isinstance(value, str)]
            label = f"{where} {' -> '.join(names)!r}" if names else f"{where} entry {index + 1}"
            if (entry := self.entry(item, fields, label)) is not None:
                entries.append(entry)
        return sorted(entries, key=lambda entry: tuple(entry[part] for part in key))

    def duplicates(self, keys: Iterable[str], what: str) -> None:
        seen: set[str] = set()
        for key in keys:
            if key in seen:
                self.errors.append(f"{what} {key!r} appears more than once.")
            seen.add(key)


def read_document(data: Any) -> Document:
    """Check a parsed file against version 1 of the format; raise :class:`ConfigurationError`
    naming every wrong entry. Every section must be present (empty lists are fine), so a
    truncated file is refused rather than read as "no clients"."""
    if not isinstance(data, dict):
        raise ConfigurationError(["The configuration must be a mapping with 'version' and its sections."])
    version = data.get("version")
    if version != FORMAT_VERSION or isinstance(version, bool):  # True == 1 in Python
        raise ConfigurationError([f"Unsupported 'version': {version!r} (this IdP reads version {FORMAT_VERSION})."])
    reader = _Reader()
    unknown = sorted(str(key) for key in data if key not in ("version", *SECTIONS))
    if unknown:
        reader.errors.append(f"Unknown section(s): {', '.join(unknown)}.")
    missing = [section for section in SECTIONS if section not in data and section not in OPTIONAL_SECTIONS]
    if missing:
        reader.errors.append(f"Missing section(s): {', '.join(missing)} (write an empty list for none).")
    document = Document(
        apis=reader.entries(data.get("apis", []), API_FIELDS, "API", key=("audience",)),
        identity_scopes=reader.entries(data.get("identity_scopes", []), SCOPE_FIELDS, "identity scope", key=("name",)),
        clients=reader.entries(data.get("clients", []), CLIENT_FIELDS, "client", key=("client_id",)),
        trusted_issuers=(
            reader.entries(data["trusted_issuers"], TRUSTED_ISSUER_FIELDS, "trusted issuer", key=("name",))
            if "trusted_issuers" in data
            else None
        ),
        exchange_policies=reader.entries(
            data.get("exchange_policies", []), POLICY_FIELDS, "exchange policy", key=("client", "target")
        ),
        transaction_token_policies=(
            reader.entries(
                data["transaction_token_policies"],
                TRANSACTION_TOKEN_POLICY_FIELDS,
                "transaction-token policy",
                key=("client",),
            )
            if "transaction_token_policies" in data
            else None
        ),
        groups=reader.entries(data.get("groups", []), GROUP_FIELDS, "group", key=("name",)),
    )
    reader.duplicates((api["audience"] for api in document.apis), "API")
    scope_names = [scope["name"] for api in document.apis for scope in api["scopes"]]
    reader.duplicates([*scope_names, *(scope["name"] for scope in document.identity_scopes)], "Scope")
    reader.duplicates((client["client_id"] for client in document.clients), "Client")
    reader.duplicates((issuer["name"] for issuer in document.trusted_issuers or []), "Trusted issuer")
    for issuer in document.trusted_issuers or []:
        # The model refuses a second mapping of the same claims; said here, before any is made.
        claims = (json.dumps(mapping["claims"], sort_keys=True) for mapping in issuer["mappings"])
        reader.duplicates(claims, f"Trusted issuer {issuer['name']!r}: a mapping of the claims")
    if document.trusted_issuers is not None:
        for policy in document.exchange_policies:
            if policy["trusted_issuers"] is None:
                policy["trusted_issuers"] = []  # the default, where the file speaks of trusted issuers
    reader.duplicates(
        (policy_key(policy["client"], policy["target"]) for policy in document.exchange_policies), "Exchange policy"
    )
    reader.duplicates(
        (policy["client"] for policy in document.transaction_token_policies or []), "Transaction-token policy for"
    )
    reader.duplicates((group["name"] for group in document.groups), "Group")
    if reader.errors:
        raise ConfigurationError(reader.errors)
    return document
