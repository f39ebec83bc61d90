"""Tenancy: whoever is not the owner of an object is refused it, for every operation of
the public schema, with every component in its own process.

The matrix is generated from `gateway/schema.graphql`: every Query and Mutation field
needs an entry in CASES (how to call it against an object someone else owns) or in
PUBLIC (why it names nothing of anyone else's), so a new operation without an entry
fails here. Each entry is tried by every role that is not the owner, and once by the
owner, which proves the call reaches the object and that the refusal is about who asks.
"""

import asyncio
import functools
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from graphql import (
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    get_named_type,
)

from assent.client import AssentClient
from assent.protocol import canonical_json
from gateway.export_schema import SCHEMA_FILE
from tests.e2e.marketplace import (
    COMPLETE,
    CREATE_BUNDLE,
    QUOTE,
    REGISTER,
    TRAINING,
    buy,
    consent_input,
    create_work,
    delivered,
    funded_buyer,
    listed_work,
    quote_for,
    register,
    upload_single,
)
from tests.e2e.notifications import notified
from tests.e2e.payouts import confirmed_payout_account, payout_run
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.smtp import MailServer
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

INVOICES = "{ invoices { ... on InvoiceList { items { id } } } }"
INVITATIONS = "{ invitations { ... on InvitationList { items { id } } } }"


class Role(StrEnum):
    OTHER_BUYER = "other buyer"
    OTHER_CREATOR = "other creator"
    # The other side of the owner's sale: the creator whose work a buyer licensed, the
    # buyer who licensed a creator's work (and, for an admin's operation, that buyer).
    COUNTERPARTY = "counterparty"
    ANONYMOUS = "anonymous"
    REVOKED = "revoked key"


class Owner(StrEnum):
    CREATOR = "creator"
    BUYER = "buyer"
    # Operations on the whole marketplace: only admins (and for some, auditors) own them.
    ADMIN = "admin"


REFUSALS = frozenset({"NotFound", "Forbidden"})
NOT_REACHED = REFUSALS | {"Unauthenticated"}


@dataclass(frozen=True)
class Scenario:
    ids: dict[str, str]
    owners: dict[Owner, str]
    revoked: dict[Owner, str]
    strangers: dict[Role, str]
    # What only the owners' own answers may show: their names, the unlisted title.
    private: tuple[str, ...]
    manifest: str
    download_path: str

    def key(self, role: Role, owner: Owner) -> str | None:
        if role is Role.ANONYMOUS:
            return None
        if role is Role.REVOKED:
            return self.revoked[owner]
        if role is Role.COUNTERPARTY:
            return self.owners[Owner.BUYER if owner is not Owner.BUYER else Owner.CREATOR]
        return self.strangers[role]


Variables = Callable[[Scenario], dict[str, Any]]


def _none(_scenario: Scenario) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Case:
    field: str
    owner: Owner
    document: str
    variables: Variables = _none
    # A list anyone signed in may read: the stranger is answered, without this object.
    hides: str | None = None
    # What the resolver documents for a caller without a key, when not Unauthenticated.
    anonymous: str = "Unauthenticated"
    # Changes the owner's object: its owner check runs after every other.
    destructive: bool = False
    # Roles the resolver documents as answered with a narrower view: not in the matrix.
    answered: frozenset[Role] = frozenset()


# Every signed-in caller, each answered about themselves.
SIGNED_IN = frozenset({Role.OTHER_BUYER, Role.OTHER_CREATOR, Role.COUNTERPARTY})


def _ids(**names: str) -> Variables:
    return lambda scenario: {variable: scenario.ids[name] for variable, name in names.items()}


def _offer(scenario: Scenario) -> dict[str, Any]:
    terms = {
        "uses": TRAINING,
        "commercialUse": True,
        "attributionRequired": True,
        "durationDays": 365,
    }
    return {
        "id": scenario.ids["work"],
        "input": {"priceMinor": 1_200, "currency": "EUR", "terms": terms},
    }


def _consent(scenario: Scenario) -> dict[str, Any]:
    return {"id": scenario.ids["work"], "input": consent_input(TRAINING)}


def _file(scenario: Scenario) -> dict[str, Any]:
    file = {"fileName": "harbour-v2.raw", "size": 1_024, "sha256": "ab" * 32}
    return {"id": scenario.ids["work"], "file": file}


def _parts(scenario: Scenario) -> dict[str, Any]:
    return {"id": scenario.ids["pending"], "parts": [{"partNumber": 1, "sha256": "cd" * 32}]}


def _purchase(scenario: Scenario) -> dict[str, Any]:
    return {"quote": scenario.ids["openQuote"], "key": f"tenancy-{uuid.uuid4()}"}


def _money(owner: str) -> Variables:
    return lambda scenario: {
        "owner": scenario.ids[owner],
        "reference": f"tenancy-{uuid.uuid4().hex[:8]}",
    }


def _admin_registration(_scenario: Scenario) -> dict[str, Any]:
    email = f"operator-{uuid.uuid4().hex[:6]}@example.org"
    return {"input": {"name": "Would-be Operator", "email": email, "role": "ADMIN"}}


def _manifest(scenario: Scenario) -> dict[str, Any]:
    return {"manifest": scenario.manifest}


CASES: dict[str, Case] = {
    "systemStatus": Case("systemStatus", Owner.ADMIN, "{ systemStatus { __typename } }"),
    # A listed work is public to anyone signed in; an unlisted one only to its owner.
    "work (unlisted)": Case(
        "work",
        Owner.CREATOR,
        "query($id: ID!) { work(id: $id) { __typename } }",
        _ids(id="pending"),
    ),
    # Why a work is not for sale names who it waits for: its members read it, a stranger
    # is not told the work exists. The creator is the duet's invited co-creator.
    "work (a co-created work's saleStatus)": Case(
        "work",
        Owner.CREATOR,
        """query($id: ID!) { work(id: $id) { __typename
          ... on Work { saleStatus { code detail creator { id name } } } } }""",
        _ids(id="duet"),
    ),
    "works (another creator's, every state)": Case(
        "works",
        Owner.CREATOR,
        """query($creator: ID!) { works(filter: {creatorId: $creator, mine: true}) {
          __typename ... on WorkConnection { items { id title } } } }""",
        _ids(creator="creator"),
        hides="pending",
    ),
    "uploadTarget": Case(
        "uploadTarget",
        Owner.CREATOR,
        "query($id: ID!) { uploadTarget(workId: $id) { __typename } }",
        _ids(id="pending"),
    ),
    "bundle": Case(
        "bundle",
        Owner.BUYER,
        "query($id: ID!) { bundle(id: $id) { __typename } }",
        _ids(id="bundle"),
    ),
    "bundles": Case(
        "bundles",
        Owner.BUYER,
        "{ bundles(first: 100) { __typename ... on BundleConnection { items { id } } } }",
        hides="bundle",
    ),
    "quote": Case(
        "quote",
        Owner.BUYER,
        "query($id: ID!) { quote(id: $id) { __typename } }",
        _ids(id="quote"),
    ),
    "licence": Case(
        "licence",
        Owner.BUYER,
        "query($id: ID!) { licence(id: $id) { __typename } }",
        _ids(id="licence"),
    ),
    "licences": Case(
        "licences",
        Owner.BUYER,
        "{ licences(first: 100) { __typename ... on LicenceConnection { items { id } } } }",
        hides="licence",
    ),
    "balances": Case(
        "balances",
        Owner.BUYER,
        "query($owner: ID) { balances(ownerId: $owner) { __typename } }",
        _ids(owner="buyer"),
    ),
    "ledgerCheck": Case("ledgerCheck", Owner.ADMIN, "{ ledgerCheck { __typename } }"),
    "earnings": Case(
        "earnings",
        Owner.CREATOR,
        "query($creator: ID) { earnings(creatorId: $creator) { __typename } }",
        _ids(creator="creator"),
    ),
    "delivery": Case(
        "delivery",
        Owner.BUYER,
        "query($id: ID!) { delivery(id: $id) { __typename } }",
        _ids(id="delivery"),
    ),
    # Only the licence's buyer has its delivery sharded; an admin, who may see the
    # delivery, is Forbidden (test_only_the_buyer_has_a_delivery_sharded).
    "requestShards": Case(
        "requestShards",
        Owner.BUYER,
        "mutation($id: ID!) { requestShards(deliveryId: $id) { __typename } }",
        _ids(id="delivery"),
    ),
    # A work's buyers read its chain with their own licences only (the audit service's
    # tests hold the narrowing: tests/services/audit/test_chains.py).
    "licenceChain (of a work)": Case(
        "licenceChain",
        Owner.CREATOR,
        "query($id: ID) { licenceChain(workId: $id) { __typename } }",
        _ids(id="work"),
        answered=frozenset({Role.COUNTERPARTY}),
    ),
    "licenceChain (of a licence)": Case(
        "licenceChain",
        Owner.BUYER,
        "query($id: ID) { licenceChain(licenceId: $id) { __typename } }",
        _ids(id="licence"),
    ),
    # Anyone may open a creator or a buyer account; only an admin an admin's or auditor's.
    "register (an admin)": Case(
        "register",
        Owner.ADMIN,
        """mutation($input: RegisterInput!) { register(input: $input) { __typename } }""",
        _admin_registration,
        anonymous="Forbidden",
    ),
    "revokeApiKey": Case(
        "revokeApiKey",
        Owner.BUYER,
        "mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }",
        _ids(id="spareKey"),
        destructive=True,
    ),
    "grantRole": Case(
        "grantRole",
        Owner.ADMIN,
        """mutation($id: ID!) { grantRole(accountId: $id, role: AUDITOR) { __typename } }""",
        _ids(id="bystander"),
    ),
    "verifyOrganisation": Case(
        "verifyOrganisation",
        Owner.ADMIN,
        """mutation($id: ID!) { verifyOrganisation(accountId: $id, name: "Bystander Ltd") {
          __typename } }""",
        _ids(id="bystander"),
    ),
    "presignUploadParts": Case(
        "presignUploadParts",
        Owner.CREATOR,
        """mutation($id: ID!, $parts: [PartInput!]!) {
          presignUploadParts(workId: $id, parts: $parts) { __typename } }""",
        _parts,
    ),
    "completeUpload": Case(
        "completeUpload",
        Owner.CREATOR,
        "mutation($id: ID!) { completeUpload(workId: $id) { __typename } }",
        _ids(id="pending"),
        destructive=True,
    ),
    "replaceWorkFile": Case(
        "replaceWorkFile",
        Owner.CREATOR,
        """mutation($id: ID!, $file: FileInput!) {
          replaceWorkFile(workId: $id, file: $file) { __typename } }""",
        _file,
    ),
    "giveConsent": Case(
        "giveConsent",
        Owner.CREATOR,
        """mutation($id: ID!, $input: ConsentInput!) {
          giveConsent(workId: $id, input: $input) { __typename } }""",
        _consent,
    ),
    "withdrawConsent": Case(
        "withdrawConsent",
        Owner.CREATOR,
        """mutation($id: ID!) { withdrawConsent(workId: $id, statementId: "withdrawal",
          statementVersion: "1") { __typename } }""",
        _ids(id="spareWork"),
        destructive=True,
    ),
    "setOffer": Case(
        "setOffer",
        Owner.CREATOR,
        """mutation($id: ID!, $input: OfferInput!) {
          setOffer(workId: $id, input: $input) { __typename } }""",
        _offer,
    ),
    "updateWork": Case(
        "updateWork",
        Owner.CREATOR,
        """mutation($id: ID!) {
          updateWork(workId: $id, input: {title: "Harbour at dusk"}) { __typename } }""",
        _ids(id="work"),
    ),
    "withdrawWork": Case(
        "withdrawWork",
        Owner.CREATOR,
        "mutation($id: ID!) { withdrawWork(workId: $id) { __typename } }",
        _ids(id="spareWork"),
        destructive=True,
    ),
    "changeShares": Case(
        "changeShares",
        Owner.CREATOR,
        """mutation($id: ID!, $shares: [ShareInput!]!) {
          changeShares(workId: $id, shares: $shares) { __typename } }""",
        lambda scenario: {
            "id": scenario.ids["pending"],
            "shares": [{"creatorId": scenario.ids["creator"], "basisPoints": 10_000}],
        },
    ),
    "inviteCoCreator": Case(
        "inviteCoCreator",
        Owner.CREATOR,
        """mutation($id: ID!) {
          inviteCoCreator(workId: $id, email: "ren@example.org", basisPoints: 1) {
            __typename } }""",
        _ids(id="pending"),
    ),
    "invitations": Case(
        "invitations",
        Owner.CREATOR,
        "{ invitations { __typename ... on InvitationList { items { id } } } }",
        hides="invitation",
    ),
    "acceptInvitation": Case(
        "acceptInvitation",
        Owner.CREATOR,
        "mutation($id: ID!) { acceptInvitation(id: $id) { __typename } }",
        _ids(id="invitation"),
        destructive=True,
    ),
    "declineInvitation": Case(
        "declineInvitation",
        Owner.CREATOR,
        "mutation($id: ID!) { declineInvitation(id: $id) { __typename } }",
        _ids(id="invitation"),
        destructive=True,
    ),
    # Everyone signed in has notifications and mail choices: a stranger is answered with
    # their own.
    "notifications": Case(
        "notifications",
        Owner.CREATOR,
        "{ notifications { __typename ... on NotificationList { items { id } } } }",
        hides="notification",
    ),
    "markNotificationsRead": Case(
        "markNotificationsRead",
        Owner.CREATOR,
        """mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) { __typename
          ... on NotificationList { items { id } } } }""",
        lambda scenario: {"ids": [scenario.ids["notification"]]},
        hides="notification",
    ),
    "notificationSettings": Case(
        "notificationSettings",
        Owner.CREATOR,
        "{ notificationSettings { __typename } }",
        answered=SIGNED_IN,
    ),
    "setNotificationSettings": Case(
        "setNotificationSettings",
        Owner.CREATOR,
        "mutation { setNotificationSettings(mailed: [SALE]) { __typename } }",
        answered=SIGNED_IN,
    ),
    "reviewQueue": Case(
        "reviewQueue",
        Owner.ADMIN,
        "{ reviewQueue { __typename ... on ReviewQueue { items { work { id } } } } }",
    ),
    "reviewWork": Case(
        "reviewWork",
        Owner.ADMIN,
        """mutation($id: ID!) { reviewWork(workId: $id, accept: true) { __typename } }""",
        _ids(id="flagged"),
    ),
    "quoteBundle": Case(
        "quoteBundle",
        Owner.BUYER,
        "mutation($id: ID!) { quoteBundle(bundleId: $id) { __typename } }",
        _ids(id="bundle"),
    ),
    "purchase": Case(
        "purchase",
        Owner.BUYER,
        """mutation($quote: ID!, $key: String!) {
          purchase(quoteId: $quote, idempotencyKey: $key) { __typename } }""",
        _purchase,
        destructive=True,
    ),
    "refundLicence": Case(
        "refundLicence",
        Owner.ADMIN,
        """mutation($id: ID!) { refundLicence(licenceId: $id, reason: "tenancy check") {
          __typename } }""",
        _ids(id="licence"),
        destructive=True,
    ),
    "topUp": Case(
        "topUp",
        Owner.ADMIN,
        """mutation($owner: ID!, $reference: String!) { topUp(buyerId: $owner, amountMinor: 100,
          currency: "EUR", reference: $reference) { __typename } }""",
        _money("buyer"),
    ),
    "recordPayout": Case(
        "recordPayout",
        Owner.ADMIN,
        """mutation($owner: ID!, $reference: String!) { recordPayout(creatorId: $owner,
          amountMinor: 1, currency: "EUR", reference: $reference) { __typename } }""",
        _money("creator"),
    ),
    # Names the buyer a manifest was issued to: auditors and admins only.
    "traceManifest": Case(
        "traceManifest",
        Owner.ADMIN,
        "mutation($manifest: String!) { traceManifest(manifest: $manifest) { __typename } }",
        _manifest,
    ),
    # Names the licence a file was delivered under: the buyer (their own files), auditors
    # and admins. Another buyer handing in a file of someone else's delivery is not found
    # (tests/services/delivery/test_provenance.py); handing in one that names no licence
    # (this scenario's file, random bytes, carries no C2PA manifest) is answered with
    # NO_PROVENANCE, which names nothing.
    "traceFile": Case(
        "traceFile",
        Owner.BUYER,
        "mutation($content: String!) { traceFile(contentBase64: $content) { __typename } }",
        lambda _scenario: {"content": "QXNzZW50"},
        answered=frozenset({Role.OTHER_BUYER}),
    ),
    "revokeLicence": Case(
        "revokeLicence",
        Owner.ADMIN,
        """mutation($id: ID!) { revokeLicence(licenceId: $id, reason: "tenancy check") {
          __typename } }""",
        _ids(id="licence"),
        destructive=True,
    ),
    "webhookEndpoints": Case(
        "webhookEndpoints",
        Owner.BUYER,
        "{ webhookEndpoints { __typename ... on WebhookEndpointList { items { id } } } }",
        hides="webhookEndpoint",
    ),
    # Before the deletion below: the owner rotates the endpoint's secret, then deletes it.
    "rotateWebhookSecret": Case(
        "rotateWebhookSecret",
        Owner.BUYER,
        "mutation($id: ID!) { rotateWebhookSecret(id: $id) { __typename } }",
        _ids(id="webhookEndpoint"),
        destructive=True,
    ),
    "deleteWebhookEndpoint": Case(
        "deleteWebhookEndpoint",
        Owner.BUYER,
        "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { __typename } }",
        _ids(id="webhookEndpoint"),
        destructive=True,
    ),
    "trainingKeys": Case(
        "trainingKeys",
        Owner.BUYER,
        "{ trainingKeys { __typename ... on TrainingKeyList { items { keyId } } } }",
        hides="trainingKey",
    ),
    "trainingRuns": Case(
        "trainingRuns",
        Owner.BUYER,
        "{ trainingRuns { __typename ... on TrainingRunList { items { id } } } }",
        hides="trainingRun",
    ),
    "trainingRun": Case(
        "trainingRun",
        Owner.BUYER,
        "query($id: ID!) { trainingRun(id: $id) { __typename } }",
        _ids(id="trainingRun"),
    ),
    # The owner's statement, signed with the owner's key: anyone else sending it is told
    # a lab records only its own runs; the owner records it again (the same receipt).
    "recordTrainingRun": Case(
        "recordTrainingRun",
        Owner.BUYER,
        """mutation($statement: String!, $keyId: String!, $signature: String!) {
          recordTrainingRun(statement: $statement, keyId: $keyId, signature: $signature) {
          __typename } }""",
        _ids(statement="trainingStatement", keyId="trainingKey", signature="trainingSignature"),
    ),
    "revokeTrainingKey": Case(
        "revokeTrainingKey",
        Owner.BUYER,
        "mutation($id: String!) { revokeTrainingKey(keyId: $id) { __typename } }",
        _ids(id="trainingKey"),
        destructive=True,
    ),
    # Which lab trained which model on a work: its creators see it, anyone else is
    # answered with their own works' (none of this one).
    "trainedModels": Case(
        "trainedModels",
        Owner.CREATOR,
        """query($id: ID!) { trainedModels(workIds: [$id]) { __typename
          ... on TrainedModelList { items { workId modelName } } } }""",
        _ids(id="work"),
        hides="trainingModel",
    ),
    # A creator's payout accounts and transfers: anyone else is answered with their own.
    "payoutAccounts": Case(
        "payoutAccounts",
        Owner.CREATOR,
        "{ payoutAccounts { __typename ... on PayoutAccountList { items { id } } } }",
        hides="payoutAccount",
    ),
    "payouts": Case(
        "payouts",
        Owner.CREATOR,
        """query($creator: ID!) { payouts(creatorId: $creator) { __typename
          ... on PayoutPaymentList { items { creatorId } } } }""",
        _ids(creator="creator"),
        hides="creator",
    ),
    "confirmPayoutAccount": Case(
        "confirmPayoutAccount",
        Owner.CREATOR,
        """mutation($id: ID!) { confirmPayoutAccount(accountId: $id, code: "AAAAAAAA") {
          __typename } }""",
        _ids(id="payoutAccount"),
    ),
    "payoutRun": Case(
        "payoutRun",
        Owner.ADMIN,
        "query($id: ID!) { payoutRun(id: $id) { __typename } }",
        _ids(id="payoutRun"),
    ),
    "startPayoutRun": Case(
        "startPayoutRun", Owner.ADMIN, "mutation { startPayoutRun { __typename } }"
    ),
    # A lab's invoices: another lab is answered with its own, or told there is none.
    "invoices": Case(
        "invoices",
        Owner.BUYER,
        """query($buyer: ID!) { invoices(buyerId: $buyer) { __typename
          ... on InvoiceList { items { id } } } }""",
        _ids(buyer="buyer"),
        hides="invoice",
    ),
    "invoice": Case(
        "invoice",
        Owner.BUYER,
        "query($id: ID!) { invoice(id: $id) { __typename } }",
        _ids(id="invoice"),
    ),
    "importBankStatement": Case(
        "importBankStatement",
        Owner.ADMIN,
        """mutation { importBankStatement(format: CSV, content: "entry_reference") {
          __typename } }""",
    ),
}

# Operations that name nothing owned by someone else, and why.
PUBLIC: dict[str, str] = {
    "me": "answers with the caller's own account only",
    "createApiKey": "makes a key for the caller's own account only",
    "createWork": "makes a work owned by the caller; co-creators are named, never read",
    "createBundle": "makes a bundle owned by the caller; its works are read through `work`",
    "auditCheckpoint": "the signed tree head is public by design: it names no subject",
    "consentStatements": "the platform's published statements, the same words for everyone",
    "createWebhookEndpoint": "makes an endpoint for the caller's own account only",
    "registerTrainingKey": "registers a key to the caller's own account; one registered to "
    "another account is refused",
    "createCardCheckout": "a checkout paying into the caller's own balance only",
    "setPayoutAccount": "asks for the caller's own payout account only",
    "bankTransferReference": "answers the caller's own reference only; it takes no id",
    "billingDetails": "answers the caller's own billing details only; it takes no id",
    "setBillingDetails": "sets the caller's own billing details only",
}

# Object types that public operations reach, and why each may be shown that way. A new
# field that makes an owned type reachable from them fails the test below.
REACHABLE_IN_PUBLIC: dict[str, str] = {
    "Account": "`me` and `register`: the caller's own account",
    "ApiKey": "the caller's own keys",
    "ApiKeyPage": "the caller's own keys",
    "ApiKeyCreated": "the caller's new key",
    "CreatedApiKey": "the caller's new key, shown once",
    "Registered": "the caller's new account",
    "AuditCheckpoint": "public tree head",
    "ConsistencyProof": "public proof between two tree heads",
    "WorkCreated": "the caller's new work",
    "UploadTarget": "where the caller uploads their new work",
    "PresignedUpload": "where the caller uploads their new work",
    "UploadedPart": "parts of the caller's new work",
    "HttpHeader": "headers of the caller's upload",
    "BundleCreated": "the caller's new bundle",
    "Bundle": "the caller's new bundle",
    "Work": "listed works are public; unlisted ones are covered by `work` and `works`",
    "WorkVersion": "as `Work`",
    "Preview": "as `WorkVersion`: what buyers see of a listed work's file",
    "WorkDetailsVersion": "as `Work`: a listed work's details and who changed them",
    "Consent": "a listed work's opt-in is public: buyers check it",
    "RightsAttestation": "as `Consent`: the rights its creator attested to with it",
    "ConsentStatement": "the platform's published statements",
    "Offer": "a listed work's price and terms are public",
    "Terms": "as `Offer`",
    "Money": "a listed work's price",
    "Share": "co-creator credits of a listed work are public",
    "SaleReason": "empty on a listed work; an unlisted work's reasons reach its members only "
    "(the `work (a co-created work's saleStatus)` case)",
    "Creator": "the public name of a work's creator",
    "OwnSiteKit": "links only: the own-site routes check who may fetch an unlisted work's kit",
    "WebhookEndpointCreated": "the caller's new endpoint and its secret, shown once",
    "WebhookEndpoint": "the caller's new endpoint",
    "WebhookMessage": "messages to the caller's own endpoint",
    "WebhookAttempt": "attempts to reach the caller's own endpoint",
    "TrainingKey": "the caller's own receipt key",
    "CardCheckout": "the caller's own checkout page",
    "PayoutAccount": "the caller's own new payout account, its IBAN masked",
    "BankTransferReference": "the caller's own reference and the platform's bank account",
    "BillingDetails": "the caller's own billing details",
}


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(SCHEMA_FILE.read_text())


def _operations(schema: GraphQLSchema) -> dict[str, GraphQLField]:
    """Every Query and Mutation field by name (no name is both, or the merge would hide
    one)."""
    assert schema.query_type is not None
    assert schema.mutation_type is not None
    assert not set(schema.query_type.fields) & set(schema.mutation_type.fields)
    return {**schema.query_type.fields, **schema.mutation_type.fields}


def _reachable(schema: GraphQLSchema, start: GraphQLNamedType) -> set[str]:
    """Object types reachable from `start` through fields and union members; expected
    failures (members of `Error`) carry no one's data and are left out."""
    error = schema.get_type("Error")
    seen: set[str] = set()
    todo: list[GraphQLNamedType] = [start]
    while todo:
        current = todo.pop()
        if current.name in seen:
            continue
        if isinstance(current, GraphQLUnionType):
            todo.extend(current.types)
        elif isinstance(current, GraphQLObjectType) and error not in current.interfaces:
            seen.add(current.name)
            todo.extend(get_named_type(f.type) for f in current.fields.values())
    return seen


def test_the_matrix_covers_every_operation_of_the_schema(schema: GraphQLSchema) -> None:
    covered = {case.field for case in CASES.values()}

    assert not covered & set(PUBLIC), "an operation is both in the matrix and public"
    operations = set(_operations(schema))
    missing = operations - covered - set(PUBLIC)
    assert not missing, f"add a tenancy case (or a public reason) for: {sorted(missing)}"
    assert not (covered | set(PUBLIC)) - operations, "the table names a lost field"


def test_public_operations_reach_only_types_that_may_be_public(schema: GraphQLSchema) -> None:
    operations = _operations(schema)
    reachable: set[str] = set()
    # `register` is in the matrix for admins, and open to anyone for creators and buyers.
    for name in [*PUBLIC, "register"]:
        reachable |= _reachable(schema, get_named_type(operations[name].type))

    unexplained = reachable - set(REACHABLE_IN_PUBLIC)
    assert not unexplained, f"owned types reachable from public operations: {unexplained}"
    assert not set(REACHABLE_IN_PUBLIC) - reachable, "the table names a type no longer reached"


# ---- the shared scenario -------------------------------------------------------------

KEYS = """mutation($name: String!) { createApiKey(name: $name) {
  ... on ApiKeyCreated { apiKey { secret key { id } } } } }"""
REVOKE = """mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }"""
DELIVERY_FILES = """query($id: ID!) { delivery(id: $id) { ... on Delivery {
  manifest files { items { path } } } } }"""


async def _new_key(gateway: GraphQLClient, key: str, name: str) -> tuple[str, str]:
    created = (await gateway.execute(KEYS, {"name": name}, key=key))["createApiKey"]["apiKey"]
    return created["secret"], created["key"]["id"]


async def _bundle_and_quote(
    gateway: GraphQLClient, key: str, work_ids: list[str]
) -> tuple[str, str]:
    created = await gateway.execute(
        CREATE_BUNDLE,
        {"input": {"name": "tenancy", "uses": TRAINING, "workIds": work_ids}},
        key=key,
    )
    bundle_id: str = created["createBundle"]["bundle"]["id"]
    quoted = await gateway.execute(QUOTE, {"id": bundle_id}, key=key)
    return bundle_id, quoted["quoteBundle"]["quote"]["id"]


async def _uploaded(gateway: GraphQLClient, key: str, content: bytes, title: str) -> str:
    created = await create_work(gateway, key, content, title=title)
    await upload_single(created, content)
    work_id: str = created["work"]["id"]
    completed = await gateway.execute(COMPLETE, {"id": work_id}, key=key)
    assert completed["completeUpload"]["__typename"] == "UploadCompleted", completed
    return work_id


WEBHOOK = """mutation($url: String!) { createWebhookEndpoint(url: $url) {
  ... on WebhookEndpointCreated { endpoint { id } } } }"""


async def _trained(
    running_stack: RunningStack, buyer: str, licence_id: str, work_id: str
) -> dict[str, str]:
    """The buyer's receipt key, a run recorded with it, and that run's signed statement
    (which only the buyer may send)."""
    key = Ed25519PrivateKey.generate()
    with AssentClient(running_stack.stack.gateway_url, buyer) as client:
        registered = await asyncio.to_thread(client.training.register_key, key)
        now = datetime.now(UTC)
        run = await asyncio.to_thread(
            functools.partial(
                client.training.record,
                key,
                model_name="Tenancy-1",
                model_version="1",
                declared_use="training",
                started_at=now - timedelta(hours=1),
                ended_at=now,
                records={licence_id: [work_id]},
            )
        )
    return {
        "trainingKey": registered.key_id,
        "trainingRun": str(run.id),
        "trainingModel": "Tenancy-1",
        "trainingStatement": canonical_json(run.statement.model_dump(mode="json")).decode(),
        "trainingSignature": run.lab_signature,
    }


async def _revoked_key(gateway: GraphQLClient, key: str) -> str:
    secret, key_id = await _new_key(gateway, key, "to revoke")
    revoked = await gateway.execute(REVOKE, {"id": key_id}, key=key)
    assert revoked["revokeApiKey"]["__typename"] == "ApiKeyRevoked"
    return secret


@pytest.fixture(scope="module")
async def scenario(running_stack: RunningStack, smtp_server: MailServer) -> AsyncIterator[Scenario]:
    """A creator and a buyer who traded, owning one of everything between them; an
    admin's second key; another buyer and another creator. Built once for the matrix."""
    gateway = GraphQLClient(running_stack.graphql_url)
    admin = running_stack.admin_key
    try:
        creator_name, buyer_name = "Tenancy Owner Creator", "Tenancy Owner Lab"
        creator_id, creator = await register(gateway, "CREATOR", creator_name)
        work = await listed_work(gateway, creator, price=700, title="Tenancy harbour")
        spare_work = await listed_work(gateway, creator, price=300, title="Tenancy spare")
        pending = await create_work(gateway, creator, b"unlisted", title="Tenancy unlisted sketch")
        assert pending["__typename"] == "WorkCreated", pending

        # The same bytes as a bystander's work: flagged, it awaits an admin's review.
        bystander_id, bystander = await register(gateway, "CREATOR", "Tenancy Bystander")
        copied = os.urandom(2_000)
        original = await _uploaded(gateway, bystander, copied, "Tenancy original")
        flagged = await _uploaded(gateway, creator, copied, "Tenancy copy")
        # The bystander names the creator as co-creator: the creator's invitation.
        duet_shares = [
            {"creatorId": bystander_id, "basisPoints": 5_000},
            {"creatorId": creator_id, "basisPoints": 5_000},
        ]
        duet = await create_work(
            gateway, bystander, b"duet", title="Tenancy duet", shares=duet_shares
        )
        assert duet["__typename"] == "WorkCreated", duet
        invited = await gateway.execute(INVITATIONS, key=creator)
        [invitation] = invited["invitations"]["items"]
        [notification] = await notified(gateway, creator, "INVITATION")

        buyer_id, buyer = await funded_buyer(gateway, admin, buyer_name, 100_000)
        bought = await quote_for(gateway, buyer, [work])
        licence = await delivered(gateway, buyer, (await buy(gateway, buyer, bought["id"]))["id"])
        bundle, open_quote = await _bundle_and_quote(gateway, buyer, [work])
        files = (
            await gateway.execute(DELIVERY_FILES, {"id": licence["delivery"]["id"]}, key=buyer)
        )["delivery"]
        _, spare_key = await _new_key(gateway, buyer, "spare")
        training = await _trained(running_stack, buyer, licence["id"], work)
        endpoint = await gateway.execute(WEBHOOK, {"url": "http://127.0.0.1:9/tenancy"}, key=buyer)
        payout_account = await confirmed_payout_account(
            gateway, smtp_server, creator, creator_name, "DE02120300000000202051", "BYLADEM1001"
        )
        paid_out = await payout_run(gateway, admin)
        invoices = await gateway.execute(INVOICES, key=buyer)

        # A second admin, whose key can be revoked without touching the suite's.
        email = f"operator-{uuid.uuid4().hex[:6]}@example.org"
        operator = {"name": "Tenancy Operator", "email": email, "role": "ADMIN"}
        registered = await gateway.execute(REGISTER, {"input": operator}, key=admin)
        operator_key = registered["register"]["apiKey"]["secret"]
        _, other_buyer = await funded_buyer(gateway, admin, "Tenancy Other Lab", 100_000)
        _, other_creator = await register(gateway, "CREATOR", "Tenancy Other Creator")

        yield Scenario(
            ids={
                "creator": creator_id,
                "buyer": buyer_id,
                "bystander": bystander_id,
                "work": work,
                "spareWork": spare_work,
                "flagged": flagged,
                "original": original,
                "invitation": invitation["id"],
                "notification": notification["id"],
                "duet": duet["work"]["id"],
                "pending": pending["work"]["id"],
                "bundle": bundle,
                "quote": bought["id"],
                "openQuote": open_quote,
                "licence": licence["id"],
                "delivery": licence["delivery"]["id"],
                "spareKey": spare_key,
                "webhookEndpoint": endpoint["createWebhookEndpoint"]["endpoint"]["id"],
                "payoutAccount": payout_account,
                "payoutRun": paid_out["id"],
                "invoice": invoices["invoices"]["items"][0]["id"],
                **training,
            },
            owners={Owner.CREATOR: creator, Owner.BUYER: buyer, Owner.ADMIN: admin},
            revoked={
                Owner.CREATOR: await _revoked_key(gateway, creator),
                Owner.BUYER: await _revoked_key(gateway, buyer),
                Owner.ADMIN: await _revoked_key(gateway, operator_key),
            },
            strangers={Role.OTHER_BUYER: other_buyer, Role.OTHER_CREATOR: other_creator},
            private=(creator_name, buyer_name, "Tenancy unlisted sketch"),
            manifest=str(files["manifest"]),
            download_path=files["files"]["items"][0]["path"],
        )
    finally:
        await gateway.http.aclose()


# ---- the matrix ----------------------------------------------------------------------

MATRIX = [
    pytest.param(
        name,
        role,
        id=f"{name} / {role}",
    )
    for name, case in CASES.items()
    for role in Role
    if role not in case.answered
]


async def _ask(
    gateway: GraphQLClient, case: Case, scenario: Scenario, key: str | None
) -> httpx.Response:
    return await gateway.post(case.document, case.variables(scenario), key=key)


@pytest.mark.parametrize(("name", "role"), MATRIX)
async def test_a_stranger_is_refused(
    gateway: GraphQLClient, scenario: Scenario, name: str, role: Role
) -> None:
    case = CASES[name]

    response = await _ask(gateway, case, scenario, scenario.key(role, case.owner))

    if role is Role.REVOKED:
        # Answered as a request with no key is: a typed refusal in place (Forbidden where
        # anyone may ask, as for registering an admin).
        assert response.status_code == 200, response.text
        refused = response.json()["data"][case.field]["__typename"]
        assert refused in {"Unauthenticated", "Forbidden"}, response.text
        return
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    answer = body["data"][case.field]
    if role is Role.ANONYMOUS:
        assert answer["__typename"] == case.anonymous, answer
    elif case.hides is not None:
        assert scenario.ids[case.hides] not in response.text, answer
    else:
        assert answer["__typename"] in REFUSALS, answer
    for private in scenario.private:
        assert private not in response.text


SHARDS = "mutation($id: ID!) { requestShards(deliveryId: $id) { __typename } }"
SALE_STATUS = """query($id: ID!) { work(id: $id) { __typename
  ... on Work { listed saleStatus { code creator { id } } } } }"""


@pytest.mark.parametrize(
    ("role", "refusal"), [(Owner.ADMIN, "Forbidden"), (Role.OTHER_BUYER, "NotFound")]
)
async def test_only_the_buyer_has_a_delivery_sharded(
    gateway: GraphQLClient, scenario: Scenario, role: Owner | Role, refusal: str
) -> None:
    """An admin sees every delivery, so is told the shards are the buyer's to ask for; a
    rival buyer is not told the delivery exists."""
    key = scenario.owners[role] if isinstance(role, Owner) else scenario.strangers[role]

    answer = await gateway.execute(SHARDS, {"id": scenario.ids["delivery"]}, key=key)

    assert answer["requestShards"]["__typename"] == refusal, answer


@pytest.mark.parametrize("reader", [Owner.CREATOR, Owner.ADMIN])
async def test_members_and_admins_read_why_a_co_created_work_is_not_for_sale(
    gateway: GraphQLClient, scenario: Scenario, reader: Owner
) -> None:
    """The creator, invited to the bystander's duet, reads that it waits for them; so does
    an admin, who sees works in every state."""
    answer = await gateway.execute(
        SALE_STATUS, {"id": scenario.ids["duet"]}, key=scenario.owners[reader]
    )

    work = answer["work"]
    assert work["__typename"] == "Work", answer
    assert work["listed"] is False
    waiting = [r["creator"]["id"] for r in work["saleStatus"] if r["code"] == "AWAITING_CO_CREATOR"]
    assert waiting == [scenario.ids["creator"]], work


REVIEW_QUEUE = """{ reviewQueue(first: 100) { __typename ... on ReviewQueue {
  items { work { id } reason matches { kind score work { id title } } } } } }"""


async def test_an_admin_sees_the_held_copy_beside_the_work_it_copies(
    gateway: GraphQLClient, scenario: Scenario
) -> None:
    """Runs before the owner checks, whose reviewWork clears the copy from the queue."""
    answer = await gateway.execute(REVIEW_QUEUE, key=scenario.owners[Owner.ADMIN])
    creator_view = await gateway.execute(
        SALE_STATUS, {"id": scenario.ids["flagged"]}, key=scenario.owners[Owner.CREATOR]
    )

    queue = answer["reviewQueue"]
    assert queue["__typename"] == "ReviewQueue", answer
    [held] = [item for item in queue["items"] if item["work"]["id"] == scenario.ids["flagged"]]
    assert held["reason"] == "the same file is listed by another creator"
    assert held["matches"] == [
        {
            "kind": "EXACT",
            "score": 1.0,
            "work": {"id": scenario.ids["original"], "title": "Tenancy original"},
        }
    ]
    assert creator_view["work"]["listed"] is False
    assert "HELD_FOR_REVIEW" in [reason["code"] for reason in creator_view["work"]["saleStatus"]]


DOWNLOADERS = [
    pytest.param(Role.OTHER_BUYER, (403, 404)),
    pytest.param(Role.OTHER_CREATOR, (403, 404)),
    pytest.param(Role.COUNTERPARTY, (403, 404)),
    pytest.param(Role.ANONYMOUS, (401,)),
    pytest.param(Role.REVOKED, (401,)),
]


@pytest.mark.parametrize(("role", "statuses"), DOWNLOADERS)
async def test_a_stranger_cannot_follow_a_download_link(
    running_stack: RunningStack, scenario: Scenario, role: Role, statuses: tuple[int, ...]
) -> None:
    key = scenario.key(role, Owner.BUYER)
    headers = {"authorization": f"Bearer {key}"} if key else {}

    async with httpx.AsyncClient(base_url=running_stack.stack.gateway_url) as http:
        response = await http.get(scenario.download_path, headers=headers)

    assert response.status_code in statuses, response.text
    assert "location" not in response.headers


async def test_the_owner_follows_the_download_link(
    running_stack: RunningStack, scenario: Scenario
) -> None:
    headers = {"authorization": f"Bearer {scenario.owners[Owner.BUYER]}"}

    async with httpx.AsyncClient(base_url=running_stack.stack.gateway_url) as http:
        response = await http.get(scenario.download_path, headers=headers)

    assert response.status_code == 307, response.text
    assert response.headers["location"]


OWNER_CHECKS = [
    pytest.param(name, id=name) for name in sorted(CASES, key=lambda name: CASES[name].destructive)
]


@pytest.mark.parametrize("name", OWNER_CHECKS)
async def test_the_owner_is_answered(gateway: GraphQLClient, scenario: Scenario, name: str) -> None:
    """The control: the same call by the owner reaches the object. Runs after the
    strangers (file order), destructive calls last."""
    case = CASES[name]

    response = await _ask(gateway, case, scenario, scenario.owners[case.owner])

    assert response.status_code == 200, response.text
    answer = response.json()["data"][case.field]
    assert answer["__typename"] not in NOT_REACHED, answer
    if case.hides is not None:
        assert scenario.ids[case.hides] in response.text
