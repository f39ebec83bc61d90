"""Provenance inside delivered files: each buyer's JPEG and PNG copy carries a C2PA
manifest, signed under the delivery key's certificate, naming the licence; a file handed
in alone is traced back to it; other formats are delivered as uploaded."""

import base64
import hashlib
import io
import json
from typing import Any

import c2pa
import httpx
from fastapi import FastAPI
from PIL import Image

from services.contracts.catalogue import Use
from services.delivery.builder import DeliveryBuilder
from services.delivery.provenance import Provenance
from tests.services.catalogue.helpers import Actor, Api
from tests.services.delivery.helpers import DeliveryApi, licence_granted, licence_line

USES = (Use.TRAINING, Use.FINE_TUNING)


def image(fmt: str, colour: tuple[int, int, int] = (180, 40, 90)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 32), colour).save(out, fmt)
    return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def delivered(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    creator: Actor,
    buyer: Actor,
    files: dict[str, bytes],
) -> tuple[Any, dict[str, Any], dict[str, dict[str, Any]]]:
    """`files` (by name) listed, sold to `buyer` and delivered: the grant, the delivery,
    and its entries by file name."""
    works = [
        await catalogue.listed_work(creator, data, *USES, file_name=name)
        for name, data in files.items()
    ]
    granted = licence_granted(buyer, [licence_line(work) for work in works], uses=USES)
    await delivery.grant(granted)
    await builder.build_pending()
    read = await delivery.delivery_of(buyer, granted.licence_id)
    entries = (await delivery.files(buyer, read["id"]))["items"]
    return granted, read, {entry["file_name"]: entry for entry in entries}


async def downloaded(
    delivery: DeliveryApi, buyer: Actor, read: dict[str, Any], entry: Any
) -> bytes:
    link = await delivery.entitled_link(buyer, read["id"], entry["fingerprint"])
    async with httpx.AsyncClient() as http:
        response = await http.get(link["url"])
    assert response.status_code == 200
    assert (link["size"], link["sha256"]) == (len(response.content), sha256(response.content))
    return response.content


def active_manifest(
    data: bytes, media_type: str, provenance: Provenance
) -> tuple[str, dict[str, Any]]:
    with c2pa.Reader(media_type, io.BytesIO(data), None, provenance.context) as reader:
        return reader.get_validation_state(), reader.get_active_manifest()


async def trace_file(delivery: DeliveryApi, actor: Actor, data: bytes) -> httpx.Response:
    return await delivery.call(
        actor,
        "POST",
        "/v1/trace/file",
        json={"content_base64": base64.b64encode(data).decode()},
    )


async def test_delivered_images_carry_a_signed_manifest_naming_the_licence(
    app: FastAPI,
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
) -> None:
    png, jpeg, text = image("PNG"), image("JPEG"), b"a plain text work, delivered as it is\n"
    granted, read, entries = await delivered(
        delivery,
        builder,
        catalogue,
        ines,
        lab,
        {"dusk.png": png, "dawn.jpg": jpeg, "notes.txt": text},
    )
    provenance: Provenance = app.state.provenance
    # The manifest lists each file's delivered sha256 and the sha256 of the upload.
    statement = await delivery.statement(lab, read["id"])
    signed_entries = {e["file_name"]: e for e in statement["predicate"]["entries"]}
    for name, original, media_type in (
        ("dusk.png", png, "image/png"),
        ("dawn.jpg", jpeg, "image/jpeg"),
    ):
        entry = entries[name]
        assert (
            signed_entries[name]["original_sha256"] == entry["original_sha256"] == sha256(original)
        )
        assert signed_entries[name]["sha256"] == entry["sha256"] != sha256(original)
        data = await downloaded(delivery, lab, read, entry)
        assert sha256(data) == entry["sha256"]
        state, manifest = active_manifest(data, media_type, provenance)
        assert state == "Trusted"
        assertions = {a["label"]: a["data"] for a in manifest["assertions"]}
        licence = assertions["org.assent.licence"]
        assert licence["licence_id"] == str(granted.licence_id)
        assert licence["delivery_id"] == read["id"]
        assert licence["terms_sha256"] == entry["terms_id"]
        assert licence["original_sha256"] == sha256(original)
        mining = assertions["cawg.training-mining"]["entries"]
        assert mining["cawg.ai_training"]["use"] == "constrained"
        assert str(granted.licence_id) in mining["cawg.ai_training"]["constraint_info"]
        assert mining["cawg.ai_inference"] == {"use": "notAllowed"}
        assert manifest["signature_info"]["alg"] == "Ed25519"
        # The image is the same picture.
        assert Image.open(io.BytesIO(data)).size == (48, 32)
    # A text file cannot carry C2PA: delivered byte for byte as uploaded.
    assert entries["notes.txt"]["sha256"] == entries["notes.txt"]["original_sha256"] == sha256(text)
    assert await downloaded(delivery, lab, read, entries["notes.txt"]) == text


async def test_a_file_leaked_alone_is_traced_to_its_licence_for_its_buyer_and_admins(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    rival: Actor,
    admin: Actor,
    auditor: Actor,
) -> None:
    png = image("PNG", (10, 200, 30))
    granted, read, entries = await delivered(
        delivery, builder, catalogue, ines, lab, {"leak.png": png}
    )
    leaked = await downloaded(delivery, lab, read, entries["leak.png"])

    for actor in (lab, admin, auditor):
        response = await trace_file(delivery, actor, leaked)
        assert response.status_code == 200, response.text
        traced = response.json()
        assert traced["status"] == "traced"
        assert traced["matched_by"] == "manifest"
        assert traced["licence_id"] == str(granted.licence_id)
        assert traced["delivery_id"] == read["id"]
        assert traced["buyer_name"] == lab.name
        assert traced["file_name"] == "leak.png"
    # Another buyer learns nothing of it.
    response = await trace_file(delivery, rival, leaked)
    assert response.status_code == 404, response.text
    # The creator is no party to tracing.
    assert (await trace_file(delivery, ines, leaked)).status_code == 403


async def test_a_stripped_a_re_encoded_and_a_tampered_file_say_why_they_name_nobody(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    admin: Actor,
) -> None:
    png = image("PNG", (120, 120, 250))
    _granted, read, entries = await delivered(
        delivery, builder, catalogue, ines, lab, {"a.png": png}
    )
    leaked = await downloaded(delivery, lab, read, entries["a.png"])

    # Re-encoded (the pixels kept, the manifest dropped on the way).
    out = io.BytesIO()
    Image.open(io.BytesIO(leaked)).save(out, "PNG")
    # Stripped: the upload itself, which every buyer's copy started from.
    # Tampered: the manifest kept, one byte of the picture changed.
    tampered = bytearray(leaked)
    tampered[-20] ^= 0xFF
    for data, status in (
        (out.getvalue(), "no_provenance"),
        (png, "no_provenance"),
        (bytes(tampered), "signature_fails"),
    ):
        response = await trace_file(delivery, admin, data)
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["status"] == status, result
        assert result["licence_id"] is None
    no_manifest = (await trace_file(delivery, admin, png)).json()
    assert "no readable C2PA manifest" in no_manifest["detail"]
    failing = (await trace_file(delivery, admin, bytes(tampered))).json()
    assert "does not verify" in failing["detail"]

    # Not base64: a typed refusal, never a 500.
    response = await delivery.call(admin, "POST", "/v1/trace/file", json={"content_base64": "%%%"})
    assert response.status_code == 400, response.text
    assert "not base64" in json.loads(response.text)["detail"]
