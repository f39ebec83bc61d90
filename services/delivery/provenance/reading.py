"""Reading the C2PA manifest of a file someone hands in, and checking its signature.

c2pa-python reads and validates (the claim signature, the hash binding the manifest to
the file's bytes, the certificate chain against Assent's trust anchors); this module only
sorts its verdict into what a trace answers:

- no manifest at all (stripped, re-encoded, or never an Assent delivery);
- a manifest whose signature or hash binding fails (the file or the manifest altered);
- a valid manifest not signed under Assent's certificates, or without Assent's licence
  assertion;
- Assent's licence assertion, signature and chain checked.
"""

import io
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import c2pa

from services.delivery.provenance.embed import LICENCE_ASSERTION, Provenance, sniff


class Verdict(StrEnum):
    NO_MANIFEST = "no_manifest"
    SIGNATURE_FAILS = "signature_fails"
    NOT_ASSENT = "not_assent"
    VERIFIED = "verified"


@dataclass(frozen=True)
class Reading:
    verdict: Verdict
    detail: str
    media_type: str | None
    assertion: dict[str, Any] | None = None
    """Assent's licence assertion, set only when VERIFIED."""
    failures: tuple[str, ...] = ()


def _failures(results: dict[str, Any] | None) -> tuple[str, ...]:
    active = (results or {}).get("activeManifest") or {}
    return tuple(str(failure.get("code")) for failure in active.get("failure", []))


def read_provenance(data: bytes, provenance: Provenance) -> Reading:
    """What the file's embedded manifest proves. Blocking (CPU): call it from a thread."""
    media_type = sniff(data[:16])
    if media_type is None:
        return Reading(
            Verdict.NO_MANIFEST,
            "not a JPEG, PNG or WebP file: Assent embeds no manifest in other formats",
            None,
        )
    try:
        reader = c2pa.Reader(media_type, io.BytesIO(data), None, provenance.context)
    except c2pa.C2paError as exc:
        # ManifestNotFound is the usual one (no JUMBF box: stripped or re-encoded); a
        # manifest too broken to parse says no more about a licence.
        return Reading(
            Verdict.NO_MANIFEST,
            f"the file carries no readable C2PA manifest ({str(exc).splitlines()[0][:200]})",
            media_type,
        )
    with reader:
        state = reader.get_validation_state()
        failures = _failures(reader.get_validation_results())
        manifest = reader.get_active_manifest() or {}
    assertions = {
        assertion.get("label"): assertion.get("data")
        for assertion in manifest.get("assertions", [])
    }
    assertion = assertions.get(LICENCE_ASSERTION)
    untrusted = {code for code in failures if code.startswith("signingCredential.")}
    if state == "Invalid" or (failures and set(failures) - untrusted):
        return Reading(
            Verdict.SIGNATURE_FAILS,
            "the C2PA manifest's signature or its hash of the file does not verify: "
            + ", ".join(failures or ("invalid",)),
            media_type,
            failures=failures,
        )
    if state != "Trusted" or untrusted:
        return Reading(
            Verdict.NOT_ASSENT,
            "the C2PA manifest is signed, but not under Assent's certificates",
            media_type,
            failures=failures,
        )
    if not isinstance(assertion, dict):
        return Reading(
            Verdict.NOT_ASSENT, "the C2PA manifest holds no Assent licence assertion", media_type
        )
    return Reading(
        Verdict.VERIFIED,
        "the C2PA manifest's signature, hash binding and certificate chain verify",
        media_type,
        assertion=assertion,
    )
