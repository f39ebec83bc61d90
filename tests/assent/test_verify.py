"""`assent verify`: signed manifests and licence certificates, offline, with published keys."""

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from assent.cli import main
from assent.protocol import Signer, VerificationError
from assent.verify import (
    VERIFIERS,
    UnrecognisedDocument,
    verify_document,
)
from services.contracts.audit import CHECKPOINT_PAYLOAD_TYPE
from services.contracts.delivery import IN_TOTO_PAYLOAD_TYPE, ManifestEntry
from services.contracts.licensing import LICENCE_CERTIFICATE_TYPE
from services.contracts.status_list import STATUS_LIST_TYPE
from tests.assent.documents import (
    MANIFEST_PURPOSE,
    certificate,
    entry_for,
    new_signer,
    published,
    sign_statement,
    signed_certificate,
    signed_manifest,
    statement,
    with_payload,
)
from tests.assent.stand_in import GatewayStandIn


@pytest.fixture
def keys_file(tmp_path: Path, manifest_signer: Signer, licence_signer: Signer) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(published(manifest_signer, licence_signer).model_dump_json())
    return path


def entries_of(delivery_id: uuid.UUID) -> list[ManifestEntry]:
    return [entry_for(delivery_id, f"work-{n}.bin", f"bytes {n}".encode()) for n in range(3)]


def verify_file(
    tmp_path: Path, keys: Path | str, document: Any, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    path = tmp_path / f"{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(document))
    code = main(["verify", str(path), "--keys", str(keys)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_manifest_verifies_with_the_published_keys_file(
    tmp_path: Path, keys_file: Path, manifest_signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    delivery_id = uuid.uuid4()
    envelope = signed_manifest(manifest_signer, delivery_id, entries_of(delivery_id))

    code, output = verify_file(tmp_path, keys_file, envelope.model_dump(), capsys)

    assert code == 0
    assert output.startswith("VALID delivery manifest")
    assert f"signed by key {manifest_signer.key_id} (delivery-manifest)" in output
    assert f"delivery: {delivery_id}" in output
    assert "files: 3, 21 bytes; subjects agree with entries" in output


def test_keys_come_from_the_well_known_url(
    tmp_path: Path,
    gateway_server: GatewayStandIn,
    manifest_signer: Signer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    delivery_id = uuid.uuid4()
    envelope = signed_manifest(manifest_signer, delivery_id, entries_of(delivery_id))
    well_known = gateway_server.url + "/.well-known/assent-keys.json"

    code, output = verify_file(tmp_path, well_known, envelope.model_dump(), capsys)

    assert code == 0, output


def _entry_digest_changed(document: Any) -> None:
    document["predicate"]["entries"][0]["sha256"] = "0" * 64


@pytest.mark.parametrize(
    ("tamper", "where"),
    [
        ("payload", "signature: no signature verifies"),
        ("unpublished-key", "signature: no signature verifies"),
        ("licence-key", "key {licence} is published for licence-certificate"),
        ("subject-digest", "subject digest 0000"),
        ("subject-missing", "has no subject"),
        ("entry-count", "header: entry_count is 7, there are 3"),
        ("delivery-shown", "delivery_id: shown as"),
    ],
)
def test_a_bad_manifest_is_invalid_and_says_where(
    tmp_path: Path,
    keys_file: Path,
    manifest_signer: Signer,
    licence_signer: Signer,
    capsys: pytest.CaptureFixture[str],
    tamper: str,
    where: str,
) -> None:
    delivery_id = uuid.uuid4()
    entries = entries_of(delivery_id)
    good = statement(delivery_id, entries, manifest_signer.key_id)
    shown: dict[str, Any] = {}
    if tamper == "payload":
        envelope = with_payload(sign_statement(manifest_signer, good), _entry_digest_changed)
    elif tamper == "unpublished-key":
        envelope = signed_manifest(new_signer(MANIFEST_PURPOSE), delivery_id, entries)
    elif tamper == "licence-key":
        envelope = sign_statement(licence_signer, good)
    else:
        if tamper == "subject-digest":
            good["subject"][1]["digest"]["sha256"] = "0" * 64
        elif tamper == "subject-missing":
            good["subject"].pop()
        elif tamper == "entry-count":
            good["predicate"]["header"]["entry_count"] = 7
        else:
            shown = {"delivery_id": str(uuid.uuid4())}
        envelope = sign_statement(manifest_signer, good)
    document = {**shown, "envelope": envelope.model_dump()} if shown else envelope.model_dump()

    code, output = verify_file(tmp_path, keys_file, document, capsys)

    assert code == 1
    assert output.startswith("INVALID delivery manifest")
    assert where.format(licence=licence_signer.key_id) in output


def test_a_certificate_verifies_whole_or_as_a_bare_envelope(
    tmp_path: Path, keys_file: Path, licence_signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = certificate()
    envelope = signed_certificate(licence_signer, shown)
    whole = {"certificate": shown.model_dump(mode="json"), "envelope": envelope.model_dump()}

    whole_code, whole_output = verify_file(tmp_path, keys_file, whole, capsys)
    bare_code, bare_output = verify_file(tmp_path, keys_file, envelope.model_dump(), capsys)

    assert (whole_code, bare_code) == (0, 0)
    for output in (whole_output, bare_output):
        assert output.startswith("VALID licence certificate")
        assert f"licence: {shown.licence_id}" in output
        assert "uses: training, evaluation" in output
        assert "status: active as of 2026-03-01T12:00:00+00:00" in output


def test_a_certificate_shown_unlike_the_signed_one_is_invalid(
    tmp_path: Path, keys_file: Path, licence_signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    signed = certificate()
    envelope = signed_certificate(licence_signer, signed)
    shown = signed.model_copy(update={"buyer_name": "Someone Else"}).model_dump(mode="json")

    code, output = verify_file(
        tmp_path, keys_file, {"certificate": shown, "envelope": envelope.model_dump()}, capsys
    )

    assert code == 1
    assert "differs from the signed one in: buyer_name" in output


def _licence_widened(document: Any) -> None:
    document["uses"].append("fine_tuning")


@pytest.mark.parametrize(
    ("tamper", "where"),
    [
        ("payload", "signature: no signature verifies"),
        ("manifest-key", "is published for delivery-manifest"),
        ("payload-type", "is published for licence-certificate, not delivery-manifest"),
    ],
)
def test_a_tampered_certificate_is_invalid(
    tmp_path: Path,
    keys_file: Path,
    manifest_signer: Signer,
    licence_signer: Signer,
    capsys: pytest.CaptureFixture[str],
    tamper: str,
    where: str,
) -> None:
    shown = certificate()
    if tamper == "payload":
        envelope = with_payload(signed_certificate(licence_signer, shown), _licence_widened)
    elif tamper == "manifest-key":
        envelope = signed_certificate(manifest_signer, shown)
    else:
        # A certificate relabelled as a manifest is checked, and refused, as one.
        envelope = signed_certificate(licence_signer, shown).model_copy(
            update={"payload_type": IN_TOTO_PAYLOAD_TYPE}
        )

    code, output = verify_file(tmp_path, keys_file, envelope.model_dump(), capsys)

    assert code == 1
    assert where in output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        ('{"hello": "world"}', "expected a DSSE envelope"),
        (
            '{"payloadType": "text/plain", "payload": "", "signatures": [{"keyid": "a", "sig": ""}]}',
            "payload type 'text/plain' is not one assent verify knows",
        ),
    ],
)
def test_what_is_not_a_known_document_is_a_usage_error(
    tmp_path: Path, keys_file: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "document.json"
    path.write_text(content)

    code = main(["verify", str(path), "--keys", str(keys_file)])

    assert code == 2
    assert message in capsys.readouterr().err


def test_missing_files_are_usage_errors(
    tmp_path: Path, keys_file: Path, licence_signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "certificate.json"
    document.write_text(signed_certificate(licence_signer, certificate()).model_dump_json())

    assert main(["verify", str(tmp_path / "absent.json"), "--keys", str(keys_file)]) == 2
    assert main(["verify", str(document), "--keys", str(tmp_path / "no-keys.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_documents_are_told_apart_by_payload_type() -> None:
    assert set(VERIFIERS) == {
        IN_TOTO_PAYLOAD_TYPE,
        LICENCE_CERTIFICATE_TYPE,
        CHECKPOINT_PAYLOAD_TYPE,
        STATUS_LIST_TYPE,
    }
    with pytest.raises(UnrecognisedDocument):
        verify_document([], [])
    with pytest.raises(VerificationError, match="DSSE envelope: signatures"):
        verify_document({"payloadType": IN_TOTO_PAYLOAD_TYPE, "payload": ""}, [])
