"""The proof an auditor hands to a court, every component in its own process, beside two
witnesses in processes of their own: an auditor keeps a witnessed checkpoint; a work with
a co-creator is sold, delivered with its provenance embedded, and downloaded; a signing
key is rotated; the work is withdrawn. The chain export then verifies offline with no
flag beyond the file, names the parties and the consent words, fails once any one entry
is removed, and the delivered image, leaked alone, is traced to its licence."""

import base64
import contextlib
import hashlib
import html
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from pydantic import SecretStr

from assent.protocol import Signer, check_chain, generate_seed
from services.audit.witnessing.service import log_verifier
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE, PublicKeyRead
from tests.e2e.marketplace import (
    COMPLETE,
    CONSENT,
    REGISTER_AUDITOR,
    TRAINING,
    WITHDRAW,
    buy,
    cli,
    consent_input,
    create_work,
    delivered,
    funded_buyer,
    list_for_sale,
    proven_chain,
    quote_for,
    register,
    run_cli,
    upload_single,
)
from tests.fixtures.database import fresh_database
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack, launch_stack
from tests.fixtures.storage import S3Server
from tests.fixtures.witness import WitnessProcess, start_witness

pytestmark = pytest.mark.stack

VERIFY_ORGANISATION = """mutation($id: ID!, $name: String!) {
  verifyOrganisation(accountId: $id, name: $name) { __typename } }"""
FILES = """query($id: ID!) { delivery(id: $id) { ... on Delivery {
  files { items { downloadUrl sha256 originalSha256 } } } } }"""
TRACE = """mutation($content: String!) { traceFile(contentBase64: $content) { __typename
  ... on FileTrace { status matchedBy licenceId } ... on Error { message } } }"""
STATEMENTS = "{ consentStatements { id version text } }"
INVITATIONS = """{ invitations { ... on InvitationList { items { id work { id } } } } }"""
ACCEPT = """mutation($id: ID!) { acceptInvitation(id: $id) { __typename } }"""


@pytest.fixture(scope="module")
def witnessed_stack(
    postgres_server: str, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningStack, list[WitnessProcess]]]:
    """A stack whose checkpoints count as published once both witnesses cosigned them."""
    seed = generate_seed()
    log_vkey = log_verifier(Signer(SecretStr(seed), purpose=CHECKPOINT_KEY_PURPOSE)).vkey
    root = tmp_path_factory.mktemp("proof")
    witnesses = [start_witness(root / name, name, [log_vkey]) for name in ("w1.test", "w2.test")]
    settings = {
        "ASSENT_AUDIT_SIGNING_KEY": seed,
        "ASSENT_AUDIT_WITNESSES": json.dumps([{"url": w.url, "vkey": w.vkey} for w in witnesses]),
        "ASSENT_AUDIT_WITNESS_QUORUM": "2",
    }
    try:
        with contextlib.contextmanager(fresh_database)(postgres_server, "proof") as url:
            for running in launch_stack(
                url, s3_server, root / "stack", bucket="assent-proof", settings=settings
            ):
                yield running, witnesses
    finally:
        for witness in witnesses:
            witness.stop()


def _image() -> bytes:
    """A PNG no other test uploads: random pixels, so no near copy is held for review."""
    pixels = Image.frombytes("RGB", (96, 96), os.urandom(96 * 96 * 3))
    out = io.BytesIO()
    pixels.save(out, format="PNG")
    return out.getvalue()


async def _cli(gateway_url: str, key: str, *arguments: str) -> str:
    env = {**os.environ, "ASSENT_API_KEY": key, "ASSENT_GATEWAY_URL": gateway_url}
    done = await run_cli(cli(*arguments), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def _sold_image(
    gateway: GraphQLClient,
    running: RunningStack,
    creator: tuple[str, str],
    co_creator: tuple[str, str],
) -> tuple[str, str, dict[str, Any]]:
    """A PNG work of two creators, both consenting, bought by a verified lab: the work,
    the lab's key and its delivered licence."""
    owner_id, owner = creator
    member_id, member = co_creator
    content = _image()
    shares = [
        {"creatorId": owner_id, "basisPoints": 7_000},
        {"creatorId": member_id, "basisPoints": 3_000},
    ]
    created = await create_work(
        gateway,
        owner,
        content,
        title="Lighthouse study",
        shares=shares,
        file={
            "fileName": "lighthouse.png",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        },
    )
    assert created["__typename"] == "WorkCreated", created
    work_id = created["work"]["id"]
    await upload_single(created, content)
    await gateway.execute(COMPLETE, {"id": work_id}, key=owner)
    await list_for_sale(gateway, owner, work_id, price=12_000, uses=TRAINING)
    invitations = (await gateway.execute(INVITATIONS, key=member))["invitations"]
    [invitation] = [i for i in invitations["items"] if i["work"]["id"] == work_id]
    await gateway.execute(ACCEPT, {"id": invitation["id"]}, key=member)
    consented = await gateway.execute(
        CONSENT, {"id": work_id, "input": consent_input(TRAINING)}, key=member
    )
    assert consented["giveConsent"]["__typename"] == "ConsentRecorded", consented

    lab_id, lab = await funded_buyer(gateway, running.admin_key, "Northwind Lab", 50_000)
    confirmed = await gateway.execute(
        VERIFY_ORGANISATION, {"id": lab_id, "name": "Northwind Labs GmbH"}, key=running.admin_key
    )
    assert confirmed["verifyOrganisation"]["__typename"] != "Forbidden", confirmed
    quote = await quote_for(gateway, lab, [work_id])
    licence = await delivered(gateway, lab, (await buy(gateway, lab, quote["id"]))["id"])
    assert licence["delivery"]["status"] == "ISSUED", licence
    return work_id, lab, licence


async def _download(gateway: GraphQLClient, lab: str, delivery_id: str) -> tuple[bytes, str]:
    files = (await gateway.execute(FILES, {"id": delivery_id}, key=lab))["delivery"]["files"]
    [file] = files["items"]
    async with httpx.AsyncClient(follow_redirects=True) as http:
        response = await http.get(file["downloadUrl"], headers={"authorization": f"Bearer {lab}"})
    assert response.status_code == 200, response.text
    # The buyer's own copy: its provenance embedded, so not the upload's bytes.
    assert file["sha256"] != file["originalSha256"]
    return response.content, file["sha256"]


def _keys(document: dict[str, Any]) -> list[PublicKeyRead]:
    return [PublicKeyRead.model_validate(key) for key in document["keys"]]


async def test_a_witnessed_chain_names_its_parties_is_complete_and_traces_a_leaked_file(
    witnessed_stack: tuple[RunningStack, list[WitnessProcess]], tmp_path: Path
) -> None:
    running, witnesses = witnessed_stack
    gateway_url = running.stack.gateway_url
    gateway = GraphQLClient(running.graphql_url)
    witness_flags = [flag for w in witnesses for flag in ("--witness", w.vkey)]

    # 1. An auditor keeps a checkpoint both witnesses cosigned.
    registered = await gateway.execute(
        REGISTER_AUDITOR,
        {"input": {"name": "Ines Auditor", "email": "ines@audit.example", "role": "AUDITOR"}},
        key=running.admin_key,
    )
    auditor = registered["register"]["apiKey"]["secret"]
    kept = tmp_path / "kept.json"
    await _cli(gateway_url, auditor, "audit", "checkpoint", "--to", str(kept))
    await _cli(gateway_url, auditor, "verify", str(kept), *witness_flags)

    # 2. A work of two creators is sold, delivered with its provenance, and downloaded.
    creator = await register(gateway, "CREATOR", "Noor Haddad")
    co_creator = await register(gateway, "CREATOR", "Tomas Reyes")
    work_id, lab, licence = await _sold_image(gateway, running, creator, co_creator)
    owner = creator[1]
    leaked, delivered_sha256 = await _download(gateway, lab, licence["delivery"]["id"])

    # 3. A signing key is rotated.
    await _cli(gateway_url, running.admin_key, "keys", "rotate", "licensing")
    # 4. The work is withdrawn.
    withdrawn = await gateway.execute(WITHDRAW, {"id": work_id}, key=owner)
    assert withdrawn["withdrawWork"]["__typename"] != "Forbidden", withdrawn
    await proven_chain(gateway, auditor, {"WITHDRAWAL", "DOWNLOAD"}, work=work_id)

    # 5. The export verifies offline with nothing but the file, and names the parties
    # and the consent words; the witnesses' cosignatures are on it.
    await _cli(
        gateway_url, auditor, "audit", "export", "--work", work_id, "--to", str(tmp_path),
        "--checkpoint", str(kept),
    )  # fmt: skip
    export = tmp_path / f"chain-work-{work_id}.json"
    offline = {"PATH": os.environ["PATH"], "ASSENT_GATEWAY_URL": "http://127.0.0.1:9"}
    verified = await run_cli(cli("verify", str(export)), env=offline)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    said = verified.stdout
    for party in ("Noor Haddad", "Tomas Reyes", "Northwind Labs GmbH"):
        assert party in said, said
    statements = (await gateway.execute(STATEMENTS))["consentStatements"]
    [words] = [s["text"] for s in statements if (s["id"], s["version"]) == ("opt-in", "1")]
    document = json.loads(export.read_text())
    shown = [entry["entry"] for entry in document["entries"] if entry["entry"]]
    assert sum(words in json.loads(entry)["payload"].get("statement_text", "") for entry in shown)
    assert words in html.unescape((tmp_path / f"chain-work-{work_id}.html").read_text())
    witnessed = await run_cli(cli("verify", str(export), *witness_flags), env=offline)
    assert witnessed.returncode == 0, witnessed.stdout + witnessed.stderr

    # 6. Removing any one entry fails, the withdrawal's above all.
    keys = _keys(document)
    assert check_chain(document, keys).ok
    topics = [entry["topic"] for entry in document["entries"]]
    assert "work.withdrawn" in topics, topics
    assert "key.rotated" in topics, topics
    entries = document["entries"]
    for position in range(len(entries)):
        cut = {**document, "entries": entries[:position] + entries[position + 1 :]}
        assert not check_chain(cut, keys).ok, (
            f"the export verified without entry {position + 1} ({topics[position]})"
        )

    # 7. The delivered image, leaked alone, names its licence.
    assert hashlib.sha256(leaked).hexdigest() == delivered_sha256
    content = base64.b64encode(leaked).decode()
    for key in (lab, running.admin_key):
        traced = (await gateway.execute(TRACE, {"content": content}, key=key))["traceFile"]
        assert traced == {
            "__typename": "FileTrace",
            "status": "TRACED",
            "matchedBy": "manifest",
            "licenceId": licence["id"],
        }, traced
