"""securesystemslib's DSSE against ours: each verifies the other's Ed25519 envelopes."""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from securesystemslib.dsse import Envelope as TheirEnvelope
from securesystemslib.exceptions import VerificationError as TheirVerificationError

# The package re-exports its signer API without an __all__, which strict mypy does not follow.
from securesystemslib.signer import CryptoSigner, SSlibKey  # type: ignore[attr-defined]

from assent.protocol import (
    Signer,
    VerificationError,
    b64encode,
    canonical_json,
    generate_seed,
    pae,
    verify_envelope,
)
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE, Envelope

IN_TOTO = "application/vnd.in-toto+json"
# Hypothesis's text has no lone surrogates, so every payload type encodes as UTF-8.
payload_types = st.sampled_from([IN_TOTO, "application/vnd.assent.checkpoint+json"]) | st.text(
    min_size=1
)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(SecretStr(generate_seed()), purpose=CHECKPOINT_KEY_PURPOSE)


def their_key(signer: Signer) -> SSlibKey:
    return SSlibKey.from_crypto(signer.public_key, keyid=signer.key_id)


def their_view(envelope: Envelope) -> TheirEnvelope:
    return TheirEnvelope.from_dict(envelope.model_dump(mode="json"))


@settings(max_examples=200, deadline=None)
@given(payload_type=payload_types, payload=st.binary(max_size=2048))
def test_securesystemslib_verifies_our_envelopes(
    signer: Signer, payload_type: str, payload: bytes
) -> None:
    ours = signer.sign(payload_type, payload)

    theirs = their_view(ours)
    accepted = theirs.verify([their_key(signer)], threshold=1)

    assert list(accepted) == [signer.key_id]
    assert (theirs.payload, theirs.payload_type) == (payload, payload_type)
    assert theirs.pae() == pae(payload_type, payload)


@settings(max_examples=200, deadline=None)
@given(payload_type=payload_types, payload=st.binary(max_size=2048))
def test_we_verify_securesystemslibs_envelopes(payload_type: str, payload: bytes) -> None:
    private_key = Ed25519PrivateKey.generate()
    seed = SecretStr(b64encode(private_key.private_bytes_raw()))
    published = Signer(seed, purpose=CHECKPOINT_KEY_PURPOSE).published()
    theirs = TheirEnvelope(payload, payload_type, {})
    theirs.sign(
        CryptoSigner(private_key, SSlibKey.from_crypto(private_key.public_key(), published.key_id))
    )

    verified, key = verify_envelope(
        Envelope.model_validate(theirs.to_dict()), [published], payload_type=payload_type
    )

    assert (verified, key) == (payload, published)


def test_a_statement_signed_here_verifies_there_and_a_tampered_one_nowhere(
    signer: Signer,
) -> None:
    statement = {"_type": "https://in-toto.io/Statement/v1", "subject": [], "predicate": {}}
    ours = signer.sign(IN_TOTO, canonical_json(statement))
    forged = ours.model_copy(update={"payload": b64encode(canonical_json({**statement, "x": 1}))})
    stranger = Signer(SecretStr(generate_seed()), purpose=CHECKPOINT_KEY_PURPOSE)

    their_view(ours).verify([their_key(signer)], threshold=1)
    with pytest.raises(TheirVerificationError):
        their_view(forged).verify([their_key(signer)], threshold=1)
    with pytest.raises(TheirVerificationError):
        their_view(ours).verify([SSlibKey.from_crypto(stranger.public_key, keyid=signer.key_id)], 1)
    with pytest.raises(VerificationError):
        verify_envelope(forged, [signer.published()], payload_type=IN_TOTO)
