"""Reading a leaked manifest: the fingerprints in any text, and how far to trust a match.

A leak may be a whole envelope, a statement pulled out of one, a fragment, re-ordered,
re-formatted, with fields stripped, or cut off mid-way. Fingerprints are found as 32-hex
tokens wherever they stand (an entry's `fingerprint`, its `path`, a subject's `name`),
and inside any long base64 run (a DSSE payload, whole or cut), decoded at every alignment.
"""

import base64
import binascii
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

FINGERPRINT_BITS = 128
_TOKEN = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{32}(?![0-9A-Fa-f])")
# Shorter runs are hashes and ids; a DSSE payload of even one entry is far longer.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{128,}")


@dataclass(frozen=True)
class Tokens:
    """Distinct candidate fingerprints in order of first appearance."""

    fingerprints: list[str]
    from_payload: int
    """How many were found only inside base64 (a DSSE payload)."""


def _decoded(run: str) -> str:
    """The text a base64 run decodes to, trying each alignment (a cut payload may start
    anywhere); undecodable bytes are dropped, never a failure."""
    texts = []
    for offset in range(4):
        usable = run[offset:]
        usable = usable[: len(usable) - len(usable) % 4]
        try:
            texts.append(base64.b64decode(usable, validate=True).decode("utf-8", errors="ignore"))
        except (binascii.Error, ValueError):
            continue
    return "\n".join(texts)


def find_tokens(text: str) -> Tokens:
    seen: dict[str, None] = {}
    for match in _TOKEN.finditer(text):
        seen.setdefault(match.group().lower(), None)
    in_text = len(seen)
    for run in _BASE64_RUN.finditer(text):
        for match in _TOKEN.finditer(_decoded(run.group())):
            seen.setdefault(match.group().lower(), None)
    return Tokens(fingerprints=list(seen), from_payload=len(seen) - in_text)


def order_agreement(positions: Sequence[int]) -> float | None:
    """The share of pairs of matched entries that the text lists in the delivery's keyed
    order: 1.0 as issued, about 0.5 shuffled. None below two entries."""
    pairs = len(positions) * (len(positions) - 1) // 2
    if pairs == 0:
        return None
    return 1 - _inversions(list(positions)) / pairs


def _inversions(values: list[int]) -> int:
    """Pairs out of order, by merge sort: O(n log n) for a leak of thousands of entries."""
    if len(values) < 2:
        return 0
    middle = len(values) // 2
    left, right = values[:middle], values[middle:]
    count = _inversions(left) + _inversions(right)
    i = j = 0
    for k in range(len(values)):
        if j == len(right) or (i < len(left) and left[i] <= right[j]):
            values[k] = left[i]
            i += 1
        else:
            # Every remaining left value is greater than this right one.
            values[k] = right[j]
            count += len(left) - i
            j += 1
    return count


def chance_match(examined: int, delivery_entries: int, matched: int) -> float:
    """An upper bound on the probability that `matched` of `examined` random 128-bit tokens
    hit fingerprints of a delivery of `delivery_entries` entries by accident."""
    if matched == 0:
        return 1.0
    per_token = examined * delivery_entries / 2**FINGERPRINT_BITS
    return math.pow(min(1.0, per_token), matched)


def confidence(*, matched: int, matched_all: int, examined: int, delivery_entries: int) -> float:
    """How sure the evidence makes us that the text came from this delivery's manifest.

    Fingerprints are secret-keyed and 128 bits long, so a match is never an accident
    (`chance_match`, below 1e-30 for any real input): what can lower the confidence is a
    text mixing entries of several deliveries, e.g. manifests pooled by colluding buyers.
    Hence the delivery's share of every matched fingerprint, discounted by the chance.
    """
    if matched == 0 or matched_all == 0:
        return 0.0
    share = matched / matched_all
    return share * (1 - chance_match(examined, delivery_entries, matched))
