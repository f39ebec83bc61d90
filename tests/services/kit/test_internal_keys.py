"""The keys of internal tokens: each component's private key from its setting (base64 seed
or PEM), the public keys a receiver loads, and the line `python -m
services.kit.internal_keys` prints for a deployment's configuration."""

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from services.kit import internal_keys
from services.kit.internal_token import (
    TokenSigner,
    TokenVerifier,
    load_private_key,
    public_key_text,
    public_keys_for,
)
from services.stack import DATABASE_COMPONENTS

KEY = Ed25519PrivateKey.generate()


def _verifier(audience: str) -> TokenVerifier:
    return TokenVerifier({"gateway": KEY.public_key()}, audience=audience)


def test_a_private_key_is_read_from_base64_or_pem() -> None:
    raw = base64.b64encode(KEY.private_bytes_raw()).decode()
    pem = KEY.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()

    for text in (raw, pem):
        token = TokenSigner(load_private_key(text, setting="S"), issuer="gateway").sign(
            subject="s", roles=frozenset(), audience="audit"
        )
        assert _verifier("audit").verify(token).subject == "s"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "ASSENT_X_INTERNAL_SIGNING_KEY is not set"),
        ("   ", "ASSENT_X_INTERNAL_SIGNING_KEY is not set"),
        ("not base64!", "is not an Ed25519 private key"),
        (base64.b64encode(b"x" * 31).decode(), "is not an Ed25519 private key"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "not an Ed25519"),
    ],
)
def test_a_private_key_that_is_missing_or_malformed_is_refused_by_name(
    text: str, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        load_private_key(text, setting="ASSENT_X_INTERNAL_SIGNING_KEY")


def test_a_process_does_not_start_without_the_key_of_an_issuer_it_accepts() -> None:
    published = {"gateway": public_key_text(KEY), "licensing": "bad"}

    with pytest.raises(ValueError, match="no key for delivery, whose calls"):
        public_keys_for(published, frozenset({"gateway", "delivery"}))
    with pytest.raises(ValueError, match="public key of licensing is not an Ed25519 key"):
        public_keys_for(published, frozenset({"gateway", "licensing"}))
    # Only the keys of the issuers it accepts are loaded.
    assert set(public_keys_for(published, frozenset({"gateway"}))) == {"gateway"}


def test_the_public_keys_line_is_made_from_a_folder_of_private_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = {component.name: Ed25519PrivateKey.generate() for component in DATABASE_COMPONENTS}
    for name, key in keys.items():
        (tmp_path / f"{name}.key").write_text(base64.b64encode(key.private_bytes_raw()).decode())

    assert internal_keys.main([str(tmp_path)]) == 0

    printed = json.loads(capsys.readouterr().out)
    assert printed == {name: public_key_text(key) for name, key in keys.items()}


def test_the_public_keys_line_names_a_missing_private_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert internal_keys.main([str(tmp_path)]) == 1

    assert f"{tmp_path / 'gateway.key'} is not set" in capsys.readouterr().err
