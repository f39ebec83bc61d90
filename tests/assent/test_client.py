"""The SDK without the services: its documents against the published schema, the terms
hash against the catalogue's, a bundle's records refused when they cannot be trusted,
and the HTTP-level answers of a real gateway (refused keys, rate limits, a service that
does not answer) mapped to typed exceptions."""

import secrets
import time
import uuid
from contextlib import suppress
from datetime import timedelta
from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

from assent.client import (
    DOCUMENTS,
    AssentClient,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
)
from assent.errors import BundleInvalid
from assent.models import Licence, Money, Terms
from assent.records import records_of
from assent.verify import VerifiedManifest
from services.catalogue.terms import canonical_json, terms_id
from services.contracts import catalogue
from services.contracts.delivery import ManifestHeader
from services.contracts.signing import PublicKeyRead
from tests.assent.conftest import new_key
from tests.assent.documents import NOW, entry_for

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "http://127.0.0.1:9"


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_document_the_client_sends_is_valid_against_the_published_schema(
    document: str,
) -> None:
    schema = build_schema((ROOT / "gateway" / "schema.graphql").read_text())

    assert [error.message for error in validate(schema, parse(document))] == []


def test_the_terms_hash_is_the_catalogues_whatever_the_order_of_the_lists() -> None:
    offered = catalogue.Terms(
        uses=[catalogue.Use.EVALUATION, catalogue.Use.TRAINING],
        commercial_use=True,
        attribution_required=False,
        territory=["PT", "BR"],
        duration_days=90,
    )
    as_shown = Terms.model_validate(
        {
            "uses": ["TRAINING", "EVALUATION", "TRAINING"],
            "commercialUse": True,
            "attributionRequired": False,
            "territory": ["BR", "PT"],
            "durationDays": 90,
            "exclusivityDays": 0,
            "maxModels": None,
        }
    )

    assert as_shown.terms_id == terms_id(canonical_json(offered))
    assert as_shown.model_copy(update={"duration_days": 91}).terms_id != as_shown.terms_id


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [(1250, "EUR", "12.50 EUR"), (-5, "EUR", "-0.05 EUR"), (1250, "JPY", "1250 JPY")],
)
def test_money_is_shown_in_its_currencys_units(amount: int, currency: str, shown: str) -> None:
    assert str(Money(amount_minor=amount, currency=currency)) == shown


# -- records ----------------------------------------------------------------------------


def _bundle(directory: Path, data: bytes) -> tuple[VerifiedManifest, Licence]:
    """A manifest of one file, laid out as `assent download` leaves it, and its licence."""
    delivery_id = uuid.uuid4()
    terms = Terms(
        uses=[catalogue.Use.TRAINING],
        commercial_use=True,
        attribution_required=True,
        duration_days=30,
    )
    entry = entry_for(delivery_id, "tide.wav", data).model_copy(update={"terms_id": terms.terms_id})
    header = ManifestHeader(
        delivery_id=delivery_id,
        licence_id=uuid.uuid4(),
        bundle_id=uuid.uuid4(),
        buyer_id=uuid.uuid4(),
        buyer_name="Example Lab",
        issued_at=NOW,
        terms_ids=[terms.terms_id],
        key_id="k",
        entry_count=1,
    )
    key = PublicKeyRead(key_id="k", purpose="delivery-manifest", public_key="")
    (directory / str(entry.work_id)).mkdir(parents=True)
    (directory / str(entry.work_id) / "tide.wav").write_bytes(data)
    price = {"amountMinor": 100, "currency": "EUR"}
    line = {
        "workId": str(entry.work_id),
        "versionId": str(entry.version_id),
        "title": "Tide",
        "mediaType": "OTHER",
        "fileName": "tide.wav",
        "size": len(data),
        "sha256": entry.sha256,
        "attribution": entry.attribution,
        "termsId": terms.terms_id,
        "terms": terms.model_dump(by_alias=True),
        "price": price,
        "startsAt": NOW,
        "endsAt": NOW + timedelta(days=30),
        "status": "ACTIVE",
    }
    licence = Licence.model_validate(
        {
            "id": str(header.licence_id),
            "buyerId": str(header.buyer_id),
            "buyerName": "Example Lab",
            "bundleId": str(header.bundle_id),
            "quoteId": str(uuid.uuid4()),
            "uses": ["TRAINING"],
            "total": price,
            "platformFee": {"amountMinor": 15, "currency": "EUR"},
            "refunded": {"amountMinor": 0, "currency": "EUR"},
            "status": "ACTIVE",
            "grantedAt": NOW,
            "startsAt": NOW,
            "endsAt": NOW + timedelta(days=30),
            "lines": [line],
        }
    )
    return VerifiedManifest(header, [entry], key), licence


def test_records_carry_each_file_with_the_terms_the_manifest_names(tmp_path: Path) -> None:
    manifest, licence = _bundle(tmp_path, b"waves" * 100)

    [record] = list(records_of(tmp_path, manifest, licence))

    assert record.read_bytes() == b"waves" * 100
    assert record.terms == licence.lines[0].terms
    assert record.terms_id == manifest.entries[0].terms_id
    assert record.ends_at == NOW + timedelta(days=30)


def test_a_missing_or_short_file_refuses_the_records_before_any_is_read(tmp_path: Path) -> None:
    manifest, licence = _bundle(tmp_path, b"waves" * 100)
    path = tmp_path / str(manifest.entries[0].work_id) / "tide.wav"

    path.write_bytes(b"wave")
    with pytest.raises(BundleInvalid, match="holds 4 bytes"):
        records_of(tmp_path, manifest, licence)
    path.unlink()
    with pytest.raises(BundleInvalid, match="missing"):
        records_of(tmp_path, manifest, licence)


def test_terms_that_do_not_hash_to_the_manifests_terms_id_are_refused(tmp_path: Path) -> None:
    manifest, licence = _bundle(tmp_path, b"waves")
    line = licence.lines[0]
    wider = line.terms.model_copy(update={"commercial_use": False, "duration_days": 3650})
    altered = licence.model_copy(update={"lines": [line.model_copy(update={"terms": wider})]})

    with pytest.raises(BundleInvalid, match="hash to"):
        records_of(tmp_path, manifest, altered)
    other = licence.model_copy(update={"id": str(uuid.uuid4())})
    with pytest.raises(BundleInvalid, match="is for licence"):
        records_of(tmp_path, manifest, other)


# -- a real gateway, with no service behind it ------------------------------------------


def test_a_service_that_does_not_answer_is_service_unavailable_naming_it(
    lonely_gateway: tuple[str, str],
) -> None:
    with AssentClient(lonely_gateway[0], new_key(lonely_gateway), attempts=1) as client:
        with pytest.raises(ServiceUnavailable) as catalogue_down:
            client.work(str(uuid.uuid4()))
        with pytest.raises(ServiceUnavailable) as licensing_down:
            client.purchase(str(uuid.uuid4()), idempotency_key="order-1")

    assert catalogue_down.value.service == "catalogue"
    assert licensing_down.value.service == "licensing"


def test_an_unknown_key_and_no_key_are_unauthenticated(lonely_gateway: tuple[str, str]) -> None:
    url = lonely_gateway[0]
    with (
        AssentClient(url, "assent_unknown0_" + "x" * 40, attempts=1) as stranger,
        pytest.raises(Unauthenticated),
    ):
        stranger.licence(str(uuid.uuid4()))
    with AssentClient(url, "", attempts=1) as anonymous:
        with pytest.raises(Unauthenticated):
            anonymous.licence(str(uuid.uuid4()))
        with pytest.raises(Unauthenticated, match="ASSENT_API_KEY"):
            anonymous.download(str(uuid.uuid4()), "anywhere")


def test_a_rate_limited_request_waits_as_long_as_the_gateway_asks_then_is_sent_again(
    lonely_gateway: tuple[str, str],
) -> None:
    key = new_key(lonely_gateway)

    def burst(client: AssentClient) -> None:
        for _ in range(4):
            with suppress(ServiceUnavailable):
                client.work(str(uuid.uuid4()))

    with (
        AssentClient(lonely_gateway[0], key, attempts=1) as impatient,
        pytest.raises(RateLimited) as limited,
    ):
        burst(impatient)
    assert limited.value.retry_after >= 1

    started = time.monotonic()
    # Refused first, then (after the wait) answered: the catalogue is down.
    with (
        AssentClient(lonely_gateway[0], key, attempts=2) as patient,
        pytest.raises(ServiceUnavailable),
    ):
        patient.work(str(uuid.uuid4()))
    assert time.monotonic() - started >= limited.value.retry_after * 0.9


def test_the_client_never_shows_its_key() -> None:
    secret = "assent_abcdefgh_" + secrets.token_hex(20)
    with AssentClient("http://127.0.0.1:9", secret) as client:
        assert secret not in f"{client!r} {client}"
