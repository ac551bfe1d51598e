"""Exporting the configuration as a document, and importing one: created or updated by
natural key (an API's audience, a scope's name, a client's client_id, a trusted issuer's name,
an exchange policy's client and target, a transaction-token policy's client, a group's name),
all or nothing.

An import checks every entry with the model's own validation (``full_clean``: what the admin
and ``save_client`` run) against the database as the file would leave it, inside one
transaction: one wrong entry and nothing is kept. Entries equal to what is stored are not
saved at all, so importing the same file twice changes no row (and no configuration
generation: no process reloads its clients for nothing).
"""

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from apps.audit import services as audit
from apps.clients.secrets import generate_client_secret
from apps.clients.services import client_id_validator
from apps.configuration.document import (
    FORMAT_VERSION,
    ConfigurationError,
    Document,
    api_entry,
    client_entry,
    group_entry,
    mapping_entry,
    policy_entry,
    policy_key,
    read_document,
    transaction_token_policy_entry,
    trusted_issuer_entry,
)
from apps.oauth.models import Application, ExchangePolicy, IssuerMapping, TransactionTokenPolicy, TrustedIssuer
from apps.resources.models import ApiResource, ApiScope
from apps.resources.privileged import PRIVILEGED_AUDIENCES

CONFIG_IMPORTED = "config.imported"
KINDS = ("apis", "scopes", "clients", "trusted_issuers", "exchange_policies", "transaction_token_policies", "groups")

# RFC 6749 appendix A.1: a client_id is printable ASCII; a space would not survive the
# space-separated lists it appears in (audit events, logs).
CLIENT_ID = re.compile(r"[\x21-\x7E]+")
# Model field names in validation messages, as the file names them.
FILE_NAMES = {"allowed_grant_types": "grant_types", "allowed_scopes": "scopes", "is_active": "enabled"}

__all__ = ["CONFIG_IMPORTED", "ConfigurationError", "Report", "export_configuration", "import_configuration"]


# --- export --------------------------------------------------------------------------------


def export_configuration() -> dict[str, Any]:
    """The configuration as a version-1 document: every list sorted by natural key, no secret."""
    api_scopes: dict[int, list[ApiScope]] = defaultdict(list)
    identity_scopes: list[ApiScope] = []
    for scope in ApiScope.objects.all():
        if scope.resource_id is None:
            identity_scopes.append(scope)
        else:
            api_scopes[scope.resource_id].append(scope)
    clients = Application.objects.prefetch_related("allowed_scopes")
    policies = ExchangePolicy.objects.select_related("client", "target").prefetch_related(
        "subject_audiences", "trusted_issuers", "scopes"
    )
    trusted_issuers = TrustedIssuer.objects.prefetch_related(
        models.Prefetch("mappings", queryset=IssuerMapping.objects.select_related("client", "user"))
    )
    transaction_token_policies = TransactionTokenPolicy.objects.select_related("client").prefetch_related(
        "subject_audiences", "scopes"
    )
    groups = Group.objects.prefetch_related(
        models.Prefetch("permissions", queryset=Permission.objects.select_related("content_type"))
    )
    return {
        "version": FORMAT_VERSION,
        "apis": _by(
            "audience", [api_entry(resource, api_scopes[resource.pk]) for resource in ApiResource.objects.all()]
        ),
        "identity_scopes": _by("name", [{"name": s.name, "description": s.description} for s in identity_scopes]),
        "clients": _by(
            "client_id", [client_entry(c, [scope.name for scope in c.allowed_scopes.all()]) for c in clients]
        ),
        "trusted_issuers": _by(
            "name", [trusted_issuer_entry(issuer, _mapping_entries(issuer)) for issuer in trusted_issuers]
        ),
        "exchange_policies": sorted(
            (
                policy_entry(
                    policy,
                    client_id=policy.client.client_id,
                    target=policy.target.audience,
                    subject_audiences=[resource.audience for resource in policy.subject_audiences.all()],
                    scopes=[scope.name for scope in policy.scopes.all()],
                    trusted_issuers=[issuer.name for issuer in policy.trusted_issuers.all()],
                )
                for policy in policies
            ),
            key=lambda entry: (entry["client"], entry["target"]),
        ),
        "transaction_token_policies": _by(
            "client",
            [
                transaction_token_policy_entry(
                    policy,
                    client_id=policy.client.client_id,
                    subject_audiences=[resource.audience for resource in policy.subject_audiences.all()],
                    scopes=[scope.name for scope in policy.scopes.all()],
                )
                for policy in transaction_token_policies
            ],
        ),
        "groups": _by(
            "name",
            [group_entry(g, [f"{p.content_type.app_label}.{p.codename}" for p in g.permissions.all()]) for g in groups],
        ),
    }


def _by(key: str, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda entry: entry[key])


def _mapping_entries(issuer: TrustedIssuer) -> list[dict[str, Any]]:
    return [
        mapping_entry(
            mapping.claims,
            client_id=mapping.client.client_id if mapping.client is not None else None,
            username=mapping.user.get_username() if mapping.user is not None else None,
        )
        for mapping in issuer.mappings.all()
    ]


# --- import --------------------------------------------------------------------------------


@dataclass
class Changes:
    """The natural keys of one kind of entry, by what the import did (or would do) to them."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "deleted": len(self.deleted),
        }


@dataclass
class Report:
    dry_run: bool
    prune: bool
    changes: dict[str, Changes] = field(default_factory=lambda: {kind: Changes() for kind in KINDS})
    # client_id -> plaintext secret of each new confidential client: shown once, never stored.
    client_secrets: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, dict[str, int]]:
        return {kind: changes.counts() for kind, changes in self.changes.items()}

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated or c.deleted for c in self.changes.values())


def import_configuration(data: Any, *, dry_run: bool = False, prune: bool = False) -> Report:
    """Create or update everything the document names; with ``prune``, also delete the APIs,
    scopes, clients, trusted issuers, exchange and transaction-token policies it does not name
    (groups are never deleted; a file without the ``transaction_token_policies`` section
    deletes only those of the clients it deletes; one without ``trusted_issuers`` deletes no
    issuer, only the mappings to the clients it deletes).

    Raises :class:`ConfigurationError` listing every wrong entry; then nothing is changed.
    With ``dry_run`` the report says what would change and nothing is kept. An import that
    is kept writes one ``config.imported`` audit event with the counts.
    """
    importer = _Importer(read_document(data), Report(dry_run=dry_run, prune=prune))
    try:
        with transaction.atomic():
            importer.apply()
            if importer.errors:
                raise ConfigurationError(importer.errors)  # rolls every change back
            if dry_run:
                transaction.set_rollback(True)
                importer.report.client_secrets.clear()  # those clients were never kept
            else:
                audit.record(
                    event_type=CONFIG_IMPORTED,
                    granted=True,
                    details={"counts": importer.report.counts(), "prune": prune},
                )
    except IntegrityError as exc:
        # Every entry passed full_clean(), so only a change made meanwhile by someone else
        # (the admin, another import) can collide with this one.
        raise ConfigurationError([f"The configuration changed during the import ({exc}); run it again."]) from exc
    return importer.report


T = TypeVar("T")


class _Importer:
    def __init__(self, document: Document, report: Report) -> None:
        self.document = document
        self.report = report
        self.errors: list[str] = []
        # What the file names. A reference to a name the file has but the database lacks
        # points at an entry that failed its own check (reported there), not at an unknown one.
        self.named_apis = {api["audience"] for api in document.apis}
        self.named_scopes = {scope["name"] for api in document.apis for scope in api["scopes"]} | {
            scope["name"] for scope in document.identity_scopes
        }
        self.named_clients = {client["client_id"] for client in document.clients}
        # Without the section, every stored issuer stays: each is as good as named.
        self.named_issuers = (
            {issuer["name"] for issuer in document.trusted_issuers}
            if document.trusted_issuers is not None
            else set(TrustedIssuer.objects.values_list("name", flat=True))
        )

    def apply(self) -> None:
        self.apis()
        self.scopes()
        self.clients()
        self.trusted_issuers()
        self.exchange_policies()
        self.transaction_token_policies()
        self.groups()
        if self.report.prune and not self.errors:
            self.delete_absent()

    # --- checks shared by every kind

    def valid(self, instance: models.Model, where: str, exclude: Sequence[str] = ()) -> bool:
        try:
            instance.full_clean(exclude=list(exclude))
        except ValidationError as exc:
            self.errors.extend(f"{where}: {message}" for message in _messages(exc))
            return False
        return True

    def lookup(
        self, where: str, what: str, names: Sequence[str], found: dict[str, T], named: set[str]
    ) -> list[T] | None:
        """The objects ``names`` refer to, or None (and an error for each unknown name). With
        prune, only what the file names counts: anything else is about to be deleted."""
        prune = self.report.prune
        missing = [name for name in names if name not in found or (prune and name not in named)]
        unknown = [name for name in missing if name not in named]
        if unknown:
            hint = " (not in the file, so --prune would delete it)" if prune and set(unknown) & set(found) else ""
            self.errors.append(f"{where}: unknown {what}: {', '.join(unknown)}{hint}.")
        return None if missing else [found[name] for name in names]

    def outcome(self, kind: str, key: str, *, created: bool) -> None:
        changes = self.report.changes[kind]
        (changes.created if created else changes.updated).append(key)

    # --- each kind, in the order their references need

    def apis(self) -> None:
        for entry in self.document.apis:
            fields = {name: value for name, value in entry.items() if name != "scopes"}
            resource = ApiResource.objects.filter(audience=entry["audience"]).first()
            if resource is not None and _without_scopes(api_entry(resource, [])) == fields:
                self.report.changes["apis"].unchanged.append(entry["audience"])
                continue
            created = resource is None
            resource = resource or ApiResource()
            for name, value in fields.items():
                setattr(resource, name, value)
            if self.valid(resource, f"API {entry['audience']!r}"):
                resource.save()
                self.outcome("apis", entry["audience"], created=created)

    def scopes(self) -> None:
        entries = [(scope, api["audience"]) for api in self.document.apis for scope in api["scopes"]]
        entries += [(scope, None) for scope in self.document.identity_scopes]
        resources = {r.audience: r for r in ApiResource.objects.filter(audience__in=self.named_apis)}
        for entry, audience in sorted(entries, key=lambda item: item[0]["name"]):
            if audience is not None and audience not in resources:
                continue  # its API failed its check (reported)
            resource = resources[audience] if audience is not None else None
            scope = ApiScope.objects.filter(name=entry["name"]).first()
            if (
                scope is not None
                and scope.resource_id == (resource.pk if resource else None)
                and scope.description == entry["description"]
            ):
                self.report.changes["scopes"].unchanged.append(entry["name"])
                continue
            created = scope is None
            scope = scope or ApiScope(name=entry["name"])
            scope.resource = resource
            scope.description = entry["description"]
            if self.valid(scope, f"scope {entry['name']!r}"):
                scope.save()
                self.outcome("scopes", entry["name"], created=created)

    def clients(self) -> None:
        for entry in self.document.clients:
            client_id = entry["client_id"]
            where = f"client {client_id!r}"
            if not CLIENT_ID.fullmatch(client_id):
                self.errors.append(f"{where}: a client_id is printable ASCII without spaces.")
                continue
            scopes = self.lookup(where, "scope(s)", entry["scopes"], _scopes(entry["scopes"]), self.named_scopes)
            resources = self.lookup(
                where, "API", [entry["resource"]] if entry["resource"] else [],
                _resources([entry["resource"]] if entry["resource"] else []), self.named_apis,
            )  # fmt: skip
            if scopes is None or resources is None:
                continue
            client = Application.objects.filter(client_id=client_id).first()
            if client is not None:
                if client_entry(client, client.allowed_scopes.values_list("name", flat=True)) == entry:
                    self.report.changes["clients"].unchanged.append(client_id)
                    continue
                if client.client_type != entry["client_type"]:
                    # A secret is issued (or not) when a client is registered, as in the admin
                    # and the management API: a changed type is a new client.
                    self.errors.append(
                        f"{where}: the client type cannot change ({client.client_type} to "
                        f"{entry['client_type']}): register a new client instead."
                    )
                    continue
            created = client is None
            secret = ""
            if client is None:
                try:
                    # A new client's id follows the console's rule (it holds a letter, so it is
                    # never a user's sub); existing clients keep theirs.
                    client_id_validator(client_id)
                except ValidationError as error:
                    self.errors.append(f"{where}: {' '.join(error.messages)}")
                    continue
                client = Application(client_id=client_id, algorithm=Application.RS256_ALGORITHM)
                # A client registering keys authenticates with them (private_key_jwt): it is
                # given no secret that nobody asked for. One can be rotated in later.
                registers_keys = bool(entry["jwks"] or entry["jwks_uri"])
                if entry["client_type"] == Application.CLIENT_CONFIDENTIAL and not registers_keys:
                    secret = generate_client_secret()
                client.client_secret = secret
            client.name = entry["name"]
            client.client_type = entry["client_type"]
            client.is_active = entry["enabled"]
            client.allowed_grant_types = entry["grant_types"]
            client.redirect_uris = " ".join(entry["redirect_uris"])
            client.post_logout_redirect_uris = " ".join(entry["post_logout_redirect_uris"])
            client.resource = resources[0] if resources else None
            client.skip_authorization = entry["skip_authorization"]
            client.one_token_per_audience = entry["one_token_per_audience"]
            client.require_second_factor = entry["require_second_factor"]
            client.jwks = entry["jwks"]
            client.jwks_uri = entry["jwks_uri"]
            client.require_pushed_authorization_requests = entry["require_pushed_authorization_requests"]
            client.dpop_bound_access_tokens = entry["dpop_bound_access_tokens"]
            if not self.valid(client, where, exclude=["client_secret"]):
                continue
            client.save()
            client.allowed_scopes.set(scopes)
            self.outcome("clients", client_id, created=created)
            if secret:
                self.report.client_secrets[client_id] = secret

    def trusted_issuers(self) -> None:
        """By name; the models' clean() checks each issuer and each mapping, as the admin does.
        An issuer's mappings are the file's: those it no longer lists are deleted, the others
        kept as they are (the audit trail names a mapping by its id)."""
        for entry in self.document.trusted_issuers or []:
            name = entry["name"]
            where = f"trusted issuer {name!r}"
            identities = self.mapping_identities(entry["mappings"], where)
            if identities is None:
                continue
            issuer = TrustedIssuer.objects.filter(name=name).first()
            if issuer is not None and trusted_issuer_entry(issuer, _mapping_entries(issuer)) == entry:
                self.report.changes["trusted_issuers"].unchanged.append(name)
                continue
            created = issuer is None
            issuer = issuer or TrustedIssuer(name=name)
            for field_name in ("issuer", "jwks_uri", "jwks", "audience", "enabled"):
                setattr(issuer, field_name, entry[field_name])
            issuer.algorithms = " ".join(entry["algorithms"])
            if not self.valid(issuer, where):
                continue
            issuer.save()
            if self.replace_mappings(issuer, entry["mappings"], identities, where):
                self.outcome("trusted_issuers", name, created=created)

    def mapping_identities(
        self, mappings: list[dict[str, Any]], where: str
    ) -> list[tuple[Application | None, Any]] | None:
        """The client or user each mapping names (clients by client_id, people by username),
        or None (and an error for each unknown one). People are not configuration: they are
        looked up, never created or pruned."""
        client_ids = [m["client"] for m in mappings if m["client"] is not None]
        usernames = [m["user"] for m in mappings if m["user"] is not None]
        found_clients = {c.client_id: c for c in Application.objects.filter(client_id__in=client_ids)}
        clients = self.lookup(where, "client(s)", client_ids, found_clients, self.named_clients)
        user_model = get_user_model()
        found_users = {
            user.get_username(): user
            for user in user_model.objects.filter(**{f"{user_model.USERNAME_FIELD}__in": usernames})
        }
        unknown_users = sorted({name for name in usernames if name not in found_users})
        if unknown_users:
            self.errors.append(f"{where}: unknown user(s): {', '.join(unknown_users)}.")
        if clients is None or unknown_users:
            return None
        return [
            (
                found_clients[m["client"]] if m["client"] is not None else None,
                found_users[m["user"]] if m["user"] is not None else None,
            )
            for m in mappings
        ]

    def replace_mappings(
        self,
        issuer: TrustedIssuer,
        mappings: list[dict[str, Any]],
        identities: list[tuple[Application | None, Any]],
        where: str,
    ) -> bool:
        """The issuer's mappings become ``mappings``: the stored ones the file lists stay, the
        others go, then the new ones are checked and made. False after an error."""
        wanted = [
            (json.dumps(m["claims"], sort_keys=True), client.pk if client else None, user.pk if user else None)
            for m, (client, user) in zip(mappings, identities, strict=True)
        ]
        kept: set[tuple[str, int | None, int | None]] = set()
        for stored in issuer.mappings.all():
            key = (json.dumps(stored.claims, sort_keys=True), stored.client_id, stored.user_id)
            if key in wanted and key not in kept:
                kept.add(key)
            else:
                stored.delete()
        valid = True
        for key, m, (client, user) in zip(wanted, mappings, identities, strict=True):
            if key in kept:
                continue
            mapping = IssuerMapping(issuer=issuer, claims=m["claims"], client=client, user=user)
            if self.valid(mapping, f"{where}: mapping {key[0]}"):
                mapping.save()
            else:
                valid = False
        return valid

    def exchange_policies(self) -> None:
        for entry in self.document.exchange_policies:
            key = policy_key(entry["client"], entry["target"])
            where = f"exchange policy {key!r}"
            found_clients = {c.client_id: c for c in Application.objects.filter(client_id=entry["client"])}
            clients = self.lookup(where, "client", [entry["client"]], found_clients, self.named_clients)
            targets = self.lookup(where, "API", [entry["target"]], _resources([entry["target"]]), self.named_apis)
            subjects = self.lookup(
                where, "API(s)", entry["subject_audiences"], _resources(entry["subject_audiences"]), self.named_apis
            )
            scopes = self.lookup(where, "scope(s)", entry["scopes"], _scopes(entry["scopes"]), self.named_scopes)
            # None: a file without a trusted_issuers section left it out; the policy keeps its own.
            issuer_names = entry["trusted_issuers"]
            issuers = (
                self.lookup(where, "trusted issuer(s)", issuer_names, _issuers(issuer_names), self.named_issuers)
                if issuer_names is not None
                else []
            )
            if clients is None or targets is None or subjects is None or scopes is None or issuers is None:
                continue
            client, target = clients[0], targets[0]
            if not scopes:
                self.errors.append(f"{where}: scopes: at least one scope of {target} is required.")
                continue
            # As the admin form and the management API: a policy grants scopes of its target only.
            foreign = sorted(scope.name for scope in scopes if scope.resource_id != target.pk)
            if foreign:
                self.errors.append(f"{where}: scopes: Not scopes of {target}: {', '.join(foreign)}.")
                continue
            policy = ExchangePolicy.objects.filter(client=client, target=target).first()
            if policy is not None:
                stored = policy_entry(
                    policy,
                    client_id=client.client_id,
                    target=target.audience,
                    subject_audiences=policy.subject_audiences.values_list("audience", flat=True),
                    scopes=policy.scopes.values_list("name", flat=True),
                    trusted_issuers=policy.trusted_issuers.values_list("name", flat=True),
                )
                if issuer_names is None:
                    stored["trusted_issuers"] = None
                if entry == stored:
                    self.report.changes["exchange_policies"].unchanged.append(key)
                    continue
            created = policy is None
            policy = policy or ExchangePolicy(client=client, target=target)
            for name in ("mode", "max_depth", "max_lifetime", "accept_id_token", "enabled"):
                setattr(policy, name, entry[name])
            if not self.valid(policy, where):
                continue
            policy.save()
            policy.subject_audiences.set(subjects)
            policy.scopes.set(scopes)
            if issuer_names is not None:
                policy.trusted_issuers.set(issuers)
            self.outcome("exchange_policies", key, created=created)

    def transaction_token_policies(self) -> None:
        """One per client, by its client_id; the model's clean() checks the member names and
        the context, as the admin does."""
        for entry in self.document.transaction_token_policies or []:
            client_id = entry["client"]
            where = f"transaction-token policy {client_id!r}"
            found_clients = {c.client_id: c for c in Application.objects.filter(client_id=client_id)}
            clients = self.lookup(where, "client", [client_id], found_clients, self.named_clients)
            subjects = self.lookup(
                where, "API(s)", entry["subject_audiences"], _resources(entry["subject_audiences"]), self.named_apis
            )
            scopes = self.lookup(where, "scope(s)", entry["scopes"], _scopes(entry["scopes"]), self.named_scopes)
            if clients is None or subjects is None or scopes is None:
                continue
            client = clients[0]
            if not scopes:
                # As the admin form and the management API: a policy that allows no scope allows nothing.
                self.errors.append(f"{where}: scopes: at least one scope is required.")
                continue
            policy = TransactionTokenPolicy.objects.filter(client=client).first()
            if policy is not None and entry == transaction_token_policy_entry(
                policy,
                client_id=client_id,
                subject_audiences=policy.subject_audiences.values_list("audience", flat=True),
                scopes=policy.scopes.values_list("name", flat=True),
            ):
                self.report.changes["transaction_token_policies"].unchanged.append(client_id)
                continue
            created = policy is None
            policy = policy or TransactionTokenPolicy(client=client)
            policy.request_context_keys = " ".join(entry["request_context_keys"])
            policy.request_details_keys = " ".join(entry["request_details_keys"])
            for name in ("transaction_context", "max_lifetime", "accept_txn_tokens", "enabled"):
                setattr(policy, name, entry[name])
            if not self.valid(policy, where):
                continue
            policy.save()
            policy.subject_audiences.set(subjects)
            policy.scopes.set(scopes)
            self.outcome("transaction_token_policies", client_id, created=created)

    def groups(self) -> None:
        permissions = {
            f"{p.content_type.app_label}.{p.codename}": p for p in Permission.objects.select_related("content_type")
        }
        for entry in self.document.groups:
            where = f"group {entry['name']!r}"
            unknown = [name for name in entry["permissions"] if name not in permissions]
            if unknown:
                self.errors.append(f"{where}: unknown permission(s): {', '.join(unknown)}.")
                continue
            group = Group.objects.filter(name=entry["name"]).first()
            if group is not None:
                current = [f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()]
                if group_entry(group, current) == entry:
                    self.report.changes["groups"].unchanged.append(entry["name"])
                    continue
            created = group is None
            group = group or Group(name=entry["name"])
            if not self.valid(group, where):
                continue
            group.save()
            group.permissions.set([permissions[name] for name in entry["permissions"]])
            self.outcome("groups", entry["name"], created=created)

    def delete_absent(self) -> None:
        """--prune: what the file does not name goes, dependants first. Groups stay: deleting
        one would take its permissions from the people in it, which is not configuration."""
        if self.document.trusted_issuers is not None:
            for issuer in TrustedIssuer.objects.exclude(name__in=self.named_issuers).order_by("name"):
                issuer.delete()  # with its mappings, and from the policies naming it
                self.report.changes["trusted_issuers"].deleted.append(issuer.name)
        else:
            # The issuers stay; a mapping to a client about to be deleted goes with it (reported).
            gone = IssuerMapping.objects.exclude(client__isnull=True).exclude(client__client_id__in=self.named_clients)
            self.report.changes["trusted_issuers"].updated.extend(
                sorted(set(gone.values_list("issuer__name", flat=True)))
            )
        named_policies = {policy_key(p["client"], p["target"]) for p in self.document.exchange_policies}
        for policy in ExchangePolicy.objects.select_related("client", "target"):
            key = policy_key(policy.client.client_id, policy.target.audience)
            if key not in named_policies:
                policy.delete()
                self.report.changes["exchange_policies"].deleted.append(key)
        # Those the file's section does not name; without the section, those of the clients
        # about to be deleted (reported, rather than gone unsaid with their client).
        named_transaction_token_policies = (
            {p["client"] for p in self.document.transaction_token_policies}
            if self.document.transaction_token_policies is not None
            else self.named_clients
        )
        for txn_policy in TransactionTokenPolicy.objects.select_related("client"):
            if txn_policy.client.client_id not in named_transaction_token_policies:
                txn_policy.delete()
                self.report.changes["transaction_token_policies"].deleted.append(txn_policy.client.client_id)
        # The management API's own API and scopes are never pruned: a file that leaves them out
        # would lock every automation client out, and no migration brings them back.
        absent: list[tuple[str, models.QuerySet[Any], str]] = [
            ("clients", Application.objects.exclude(client_id__in=self.named_clients), "client_id"),
            (
                "scopes",
                ApiScope.objects.exclude(name__in=self.named_scopes).exclude(
                    resource__audience__in=PRIVILEGED_AUDIENCES
                ),
                "name",
            ),
            (
                "apis",
                ApiResource.objects.exclude(audience__in=self.named_apis).exclude(audience__in=PRIVILEGED_AUDIENCES),
                "audience",
            ),
        ]
        for kind, queryset, key_field in absent:
            keys = sorted(queryset.values_list(key_field, flat=True))
            # One by one, as the admin does, so every delete sends its signals (the
            # configuration generation, the cascade to a client's tokens).
            for instance in queryset:
                instance.delete()
            self.report.changes[kind].deleted.extend(keys)
        self.report.changes["exchange_policies"].deleted.sort()
        self.report.changes["transaction_token_policies"].deleted.sort()


def _resources(audiences: Sequence[str]) -> dict[str, ApiResource]:
    return {resource.audience: resource for resource in ApiResource.objects.filter(audience__in=audiences)}


def _issuers(names: Sequence[str]) -> dict[str, TrustedIssuer]:
    return {issuer.name: issuer for issuer in TrustedIssuer.objects.filter(name__in=names)}


def _scopes(names: Sequence[str]) -> dict[str, ApiScope]:
    return {scope.name: scope for scope in ApiScope.objects.filter(name__in=names)}


def _without_scopes(entry: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in entry.items() if name != "scopes"}


def _messages(exc: ValidationError) -> list[str]:
    if not hasattr(exc, "error_dict"):
        return list(exc.messages)
    return [
        message if name == "__all__" else f"{FILE_NAMES.get(name, name)}: {message}"
        for name, messages in exc.message_dict.items()
        for message in messages
    ]
