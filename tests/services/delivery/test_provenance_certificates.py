"""The certificates delivered files are signed under: a configured CA issues the delivery
key's leaf, which c2pa accepts; a chain for another key is refused at start."""

import datetime as dt
import io
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID
from PIL import Image
from pydantic import SecretStr

from assent.protocol import generate_seed
from services.delivery.manifest import ManifestSigner
from services.delivery.provenance import (
    CertificateAuthority,
    CertificateSetupError,
    Provenance,
    Stamp,
    Verdict,
    read_provenance,
)
from services.delivery.provenance.certificates import issue_leaf


def operator_ca() -> tuple[str, str, x509.Certificate, ed25519.Ed25519PrivateKey]:
    """A CA as an operator would configure it (PEM certificate and key)."""
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Operator C2PA CA")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, None)
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key_pem, certificate, key


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


def stamp() -> Stamp:
    return Stamp(
        licence_id=uuid.uuid4(),
        delivery_id=uuid.uuid4(),
        work_id=uuid.uuid4(),
        version_id=uuid.uuid4(),
        terms_id="a" * 64,
        fingerprint="b" * 32,
        original_sha256="c" * 64,
        uses=("training",),
        file_name="x.png",
    )


def test_a_configured_ca_signs_files_that_verify_against_it_and_not_against_another() -> None:
    pem, key_pem, _, _ = operator_ca()
    provenance = Provenance(CertificateAuthority(ca_certificate_pem=pem, ca_key_pem=key_pem))
    signer = ManifestSigner(SecretStr(generate_seed()))
    embedded = provenance.embedder(signer).embed_bytes(png(), "image/png", stamp())

    assert read_provenance(embedded, provenance).verdict == Verdict.VERIFIED
    # A reader trusting only another CA (a second process's test CA) does not take it.
    stranger = Provenance(CertificateAuthority())
    reading = read_provenance(embedded, stranger)
    assert reading.verdict == Verdict.NOT_ASSENT
    assert "not under Assent's certificates" in reading.detail


def test_a_chain_whose_leaf_certifies_another_key_is_refused() -> None:
    pem, _, certificate, key = operator_ca()
    other = ed25519.Ed25519PrivateKey.generate().public_key()
    leaf = issue_leaf(other, certificate, key, now=dt.datetime.now(dt.UTC))
    chain = leaf.public_bytes(serialization.Encoding.PEM).decode() + pem
    provenance = Provenance(CertificateAuthority(chain_pem=chain))
    with pytest.raises(CertificateSetupError, match="C2PA_CERTIFICATE_CHAIN"):
        provenance.embedder(ManifestSigner(SecretStr(generate_seed())))
