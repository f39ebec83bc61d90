"""A chain as the gateway serves it: an entry withheld from the reader is shown by its
leaf hash, and the chain's document still verifies offline with `assent verify`."""

import json
import uuid

from assent.protocol import leaf_hash
from assent.verify import verify_document
from gateway.types.audit import LicenceChain
from services.contracts.audit import ChainRead, ChainSubjectKind
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE
from tests.assent.chains import sale
from tests.assent.documents import new_signer, published


def test_a_withheld_entry_is_served_by_its_leaf_hash_and_still_verifies() -> None:
    signer = new_signer(CHECKPOINT_KEY_PURPOSE)
    sold = sale()
    whole = sold.chain(signer, ChainSubjectKind.WORK)
    # The sale's entries, as the log withholds them from a creator.
    sale_steps = ("licence.granted", "ledger.recorded", "delivery.issued", "file.downloaded")
    entries = [
        entry.model_copy(update={"entry": None, "leaf_hash": leaf_hash(entry.entry.encode()).hex()})
        if entry.topic in sale_steps and entry.entry is not None
        else entry
        for entry in whole.entries
    ]
    chain = ChainRead.model_validate(whole.model_copy(update={"entries": entries}).model_dump())
    grant = next(n for n, entry in enumerate(whole.entries) if entry.topic == "licence.granted")
    hidden, withheld = whole.entries[grant], entries[grant]

    served = LicenceChain.of(chain)

    shown = served.entries[grant]
    assert (shown.entry, shown.leaf_hash) == (None, withheld.leaf_hash)
    assert str(uuid.UUID(str(shown.event_id))) == str(hidden.event_id)
    verdict = verify_document(json.loads(served.document), published(signer).keys)
    assert verdict.kind == "licence chain"
