"""What a work's chain shows each reader, and the sale scopes licensing records.

A creator sees their work's own steps, and every sale of it only as a proven leaf hash:
not the other works of the licence, the other creators' royalties or the buyer's total.
Auditors and admins see everything; the chain verifies offline either way."""

import json
import uuid
from typing import Any

from assent.protocol import check_chain
from services.audit.sequencer import Sequencer
from services.contracts.audit import ChainRead, ChainStep
from services.contracts.catalogue import Use
from services.contracts.events import Topic
from services.contracts.licensing import (
    LedgerAccountKind,
    LedgerRecorded,
    PostingRead,
    SaleScopeRecorded,
    TransactionKind,
    TransactionRead,
)
from services.kit.db import utcnow
from tests.services.audit.helpers import (
    AuditApi,
    consent,
    delivery,
    download,
    envelope_of,
    grant,
    verify_chain,
    withdrawal,
)
from tests.services.catalogue.helpers import Actor

OTTO_ROYALTY = 4_321
TOTAL = 2_000


def royalties(licence_id: uuid.UUID, lab: Actor, *payees: tuple[Actor, int]) -> Any:
    def posting(kind: LedgerAccountKind, owner: uuid.UUID | None, amount: int) -> PostingRead:
        return PostingRead(account_kind=kind, owner_id=owner, amount_minor=amount, work_id=None)

    paid = sum(amount for _, amount in payees)
    return envelope_of(
        Topic.LEDGER_RECORDED,
        LedgerRecorded(
            transaction=TransactionRead(
                id=uuid.uuid4(),
                kind=TransactionKind.SALE,
                currency="EUR",
                licence_id=licence_id,
                reference=None,
                recorded_by=lab.id,
                recorded_at=utcnow(),
                postings=[
                    posting(LedgerAccountKind.BUYER_BALANCE, lab.id, -TOTAL),
                    posting(LedgerAccountKind.PLATFORM_REVENUE, None, TOTAL - paid),
                    *(
                        posting(LedgerAccountKind.CREATOR_PAYABLE, payee.id, amount)
                        for payee, amount in payees
                    ),
                ],
            )
        ),
    )


def sale_scope(work_id: uuid.UUID, open_uses: list[Use], cause: Any) -> Any:
    return envelope_of(
        Topic.SALE_SCOPE_RECORDED,
        SaleScopeRecorded(
            work_id=work_id,
            open_uses=open_uses,
            cause_event_id=uuid.UUID(cause["id"]),
            cause_topic=cause["topic"],
            recorded_at=utcnow(),
        ),
    )


def document(chain: ChainRead) -> Any:
    return json.loads(chain.model_dump_json())


async def co_created_sale(
    audit: AuditApi, sequencer: Sequencer, ines: Actor, otto: Actor, lab: Actor
) -> tuple[uuid.UUID, uuid.UUID]:
    """A duet by Ines and Otto, sold to the lab in one licence with Otto's solo work."""
    duet, solo, licence = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    ines_consent = consent(duet, ines)
    await audit.post(
        ines_consent,
        consent(duet, otto),
        consent(solo, otto),
        sale_scope(duet, [Use.TRAINING], ines_consent),
        grant(licence, lab, [duet, solo]),
        royalties(licence, lab, (ines, 600), (otto, 600), (otto, OTTO_ROYALTY - 600)),
        delivery(licence, lab),
        download(licence, lab, duet),
        download(licence, lab, solo),
    )
    await sequencer.run_once()
    return duet, solo


async def test_a_creator_sees_their_works_steps_and_its_sales_only_as_proven_hashes(
    audit: AuditApi, sequencer: Sequencer, ines: Actor, otto: Actor, lab: Actor, auditor: Actor
) -> None:
    duet, solo = await co_created_sale(audit, sequencer, ines, otto, lab)

    chain = await audit.work_chain(ines, duet)

    shown = [entry for entry in chain.entries if entry.entry is not None]
    assert [entry.topic for entry in shown] == [
        Topic.CONSENT_GIVEN,
        Topic.CONSENT_GIVEN,
        Topic.SALE_SCOPE_RECORDED,
    ]
    assert [entry.topic for entry in chain.entries if entry.entry is None] == [
        Topic.LICENCE_GRANTED,
        Topic.LEDGER_RECORDED,
        Topic.DELIVERY_ISSUED,
        Topic.FILE_DOWNLOADED,
        Topic.FILE_DOWNLOADED,
    ]
    exported = chain.model_dump_json()
    # A withheld entry shows its links (the subjects it is about: the licence's other
    # work among them), so that the chain is proven whole; never its event.
    assert str(solo) not in "".join(entry.entry or "" for entry in chain.entries)
    assert str(lab.id) not in exported
    # (Not looked for in the whole export: four hex digits turn up among its hashes.)
    assert str(OTTO_ROYALTY) not in "".join(entry.entry or "" for entry in chain.entries)
    assert "total_minor" not in exported
    verify_chain(chain, await audit.keys(ines))
    check = check_chain(document(chain), await audit.keys(ines))
    assert check.ok, check.problems
    assert "5 withheld from this reader" in dict(check.facts)["entries"]


async def test_a_withheld_entry_still_fails_when_tampered_with(
    audit: AuditApi, sequencer: Sequencer, ines: Actor, otto: Actor, lab: Actor
) -> None:
    duet, _ = await co_created_sale(audit, sequencer, ines, otto, lab)
    keys = await audit.keys(ines)
    chain = document(await audit.work_chain(ines, duet))
    withheld = next(n for n, e in enumerate(chain["entries"]) if e["entry"] is None)

    forged_hash = json.loads(json.dumps(chain))
    forged_hash["entries"][withheld]["leaf_hash"] = "0" * 64
    revealed = json.loads(json.dumps(chain))
    revealed["entries"][withheld]["entry"] = chain["entries"][0]["entry"]
    edited = json.loads(json.dumps(chain))
    edited["entries"][0]["entry"] = edited["entries"][0]["entry"].replace("2026", "2025", 1)

    for tampered in (forged_hash, revealed, edited):
        check = check_chain(tampered, keys)
        assert not check.ok
        assert any(
            "inclusion proof" in p.message or "leaf hash" in p.message for p in check.problems
        )


async def test_auditors_and_the_buyer_see_the_sale_whole(
    audit: AuditApi,
    sequencer: Sequencer,
    ines: Actor,
    otto: Actor,
    lab: Actor,
    auditor: Actor,
    admin: Actor,
) -> None:
    duet, solo = await co_created_sale(audit, sequencer, ines, otto, lab)

    for reader in (auditor, admin, lab):
        chain = await audit.work_chain(reader, duet)
        assert all(entry.entry is not None for entry in chain.entries)
        assert str(solo) in chain.model_dump_json()
        assert check_chain(document(chain), await audit.keys(reader)).ok


async def test_a_sale_scope_is_a_step_of_its_works_chain(
    audit: AuditApi, sequencer: Sequencer, ines: Actor, lab: Actor, auditor: Actor
) -> None:
    work = uuid.uuid4()
    given = consent(work, ines)
    await audit.post(given, sale_scope(work, [Use.TRAINING], given))
    await sequencer.run_once()

    for chain in (await audit.work_chain(auditor, work), await audit.work_chain(ines, work)):
        assert [(entry.topic, entry.step) for entry in chain.entries] == [
            (Topic.CONSENT_GIVEN, ChainStep.CONSENT),
            (Topic.SALE_SCOPE_RECORDED, ChainStep.OFFER),
        ]


async def test_the_log_proves_no_sale_after_withdrawal_by_its_order(
    audit: AuditApi, sequencer: Sequencer, ines: Actor, lab: Actor, auditor: Actor
) -> None:
    work, before, after = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    given, withdrawn = consent(work, ines), withdrawal(work, ines)
    await audit.post(
        given,
        sale_scope(work, [Use.TRAINING], given),
        grant(before, lab, [work]),
        withdrawn,
        sale_scope(work, [], withdrawn),
        # Sold before the withdrawal: delivered after it, on its terms.
        delivery(before, lab),
    )
    await sequencer.run_once()
    keys = await audit.keys(auditor)

    sold_before = check_chain(document(await audit.work_chain(auditor, work)), keys)
    assert sold_before.ok, sold_before.problems
    assert dict(sold_before.facts)["withdrawal rule"] == (
        "no sale after withdrawal: 1 withdrawn work, 1 sale checked by log order"
    )

    await audit.post(grant(after, lab, [work]))
    await sequencer.run_once()
    sold_after = check_chain(document(await audit.work_chain(auditor, work)), keys)
    assert [p.message for p in sold_after.problems if "no sale after withdrawal" in p.message]
    assert str(after) in sold_after.problems[0].message
