"""Tracing a leaked manifest, whole or in part, to the licence it was issued under, with
the evidence an auditor can weigh (see `reading` for the reading of the text and the
odds)."""

import math
import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.delivery import TraceIn, TraceMatch, TraceResult
from services.contracts.roles import Role
from services.delivery.models import Delivery
from services.delivery.trace.reading import (
    FINGERPRINT_BITS,
    chance_match,
    confidence,
    find_tokens,
    order_agreement,
)
from services.delivery.trace.repository import TraceRepository
from services.kit.errors import Forbidden
from services.kit.internal_token import Caller

log = structlog.get_logger()

NAMING_CONFIDENCE = 0.9
"""A trace names a licence only when this share of the matches, or more, points to it."""
MAX_TRACE_CANDIDATES = 10


class TraceService:
    async def trace(self, session: AsyncSession, caller: Caller, trace_in: TraceIn) -> TraceResult:
        """Name the licence a leaked manifest was issued under, with the evidence."""
        if not caller.has(Role.ADMIN, Role.AUDITOR):
            log.warning("delivery.trace.refused", reason="not_an_auditor", caller=caller.subject)
            raise Forbidden("only auditors and admins trace manifests")
        tokens = find_tokens(trace_in.manifest)
        examined = len(tokens.fingerprints)
        found = f"{examined} candidate fingerprint(s) (32 hex digits) in the input"
        if tokens.from_payload:
            found += f", {tokens.from_payload} of them inside a base64 (DSSE) payload"
        if not examined:
            return _nobody(0, 0, [found + ": nothing Assent issues can be recognised"])
        repository = TraceRepository(session)
        located = await repository.locate(tokens.fingerprints)
        # Positions in the order the text lists them, per delivery.
        by_delivery: dict[uuid.UUID, list[int]] = {}
        for token in tokens.fingerprints:
            if token in located:
                delivery_id, position = located[token]
                by_delivery.setdefault(delivery_id, []).append(position)
        matched_all = sum(len(positions) for positions in by_delivery.values())
        if not matched_all:
            return _nobody(examined, 0, [found, "none of them was issued by Assent"])
        ranked = sorted(by_delivery.items(), key=lambda item: (-len(item[1]), str(item[0])))
        ranked = ranked[:MAX_TRACE_CANDIDATES]
        deliveries = await repository.deliveries_with_licence(
            [delivery_id for delivery_id, _ in ranked]
        )
        candidates = [
            TraceMatch(
                delivery_id=delivery_id,
                licence_id=deliveries[delivery_id].licence_id,
                buyer_id=deliveries[delivery_id].buyer_id,
                buyer_name=deliveries[delivery_id].licence.buyer_name,
                matched_entries=len(positions),
            )
            for delivery_id, positions in ranked
        ]
        top_id, top_positions = ranked[0]
        top = deliveries[top_id]
        matched = len(top_positions)
        score = confidence(
            matched=matched,
            matched_all=matched_all,
            examined=examined,
            delivery_entries=top.entry_count,
        )
        agreement = order_agreement(top_positions)
        named = score >= NAMING_CONFIDENCE
        deliveries_word = "delivery" if len(by_delivery) == 1 else "deliveries"
        evidence = [
            found,
            f"{matched_all} of them were issued by Assent, in {len(by_delivery)} {deliveries_word}",
            *(
                _match_evidence(deliveries[delivery_id], len(positions))
                for delivery_id, positions in ranked
            ),
            _chance_evidence(examined, top.entry_count, matched),
            _order_evidence(agreement, matched),
        ]
        if named:
            evidence += [
                "the delivery's watermark commitment, logged to the audit log when it was "
                f"issued: {top.watermark_commitment}",
                f"named: licence {top.licence_id} (buyer {top.licence.buyer_name}), "
                f"confidence {score:.4f}",
            ]
        else:
            evidence.append(
                f"nobody named: the leading candidate holds {matched / matched_all:.0%} of the "
                f"matches, below the {NAMING_CONFIDENCE:.0%} needed; the text mixes manifests "
                "(pooled by several buyers?)"
            )
        return TraceResult(
            licence_id=top.licence_id if named else None,
            delivery_id=top.id if named else None,
            buyer_id=top.buyer_id if named else None,
            buyer_name=top.licence.buyer_name if named else None,
            confidence=score,
            entries_examined=examined,
            entries_matched=matched_all,
            order_agreement=agreement,
            evidence=evidence,
            candidates=candidates,
        )


def _nobody(examined: int, matched: int, evidence: list[str]) -> TraceResult:
    return TraceResult(
        licence_id=None,
        delivery_id=None,
        buyer_id=None,
        buyer_name=None,
        confidence=0.0,
        entries_examined=examined,
        entries_matched=matched,
        order_agreement=None,
        evidence=evidence,
        candidates=[],
    )


def _match_evidence(delivery: Delivery, matched: int) -> str:
    issued = f"{delivery.issued_at:%Y-%m-%d %H:%M} UTC" if delivery.issued_at else "not yet"
    return (
        f"{matched} match delivery {delivery.id} of licence {delivery.licence_id} (buyer "
        f"{delivery.licence.buyer_name}, {delivery.buyer_id}), {matched} of its "
        f"{delivery.entry_count} entries; issued {issued}"
    )


def _chance_evidence(examined: int, entries: int, matched: int) -> str:
    per_token = chance_match(examined, entries, 1)
    return (
        f"fingerprints are {FINGERPRINT_BITS}-bit HMACs under a key only Assent holds: a token "
        f"hits one of the leading candidate's fingerprints by chance with probability at most "
        f"{per_token:.1e}, and {matched} such hits are that to the power {matched}"
    )


def _order_evidence(agreement: float | None, matched: int) -> str:
    if agreement is None:
        return "order: a single matched entry, nothing to compare"
    pairs = math.comb(matched, 2)
    return (
        f"order: {agreement:.2f} of the {pairs} pairs of the leading candidate's matched "
        "entries stand in its keyed order (1.00 as issued, about 0.50 once shuffled; a "
        "shuffle does not weaken the fingerprints)"
    )


trace_service = TraceService()
