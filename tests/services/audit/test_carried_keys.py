"""The keys a chain export carries, which `assent verify` checks it with when given no
others, must be those the export's proven key.rotated entries give: a key swapped in
fails the chain, however well the rest of it proves."""

import json
import uuid

from fastapi import FastAPI
from pydantic import SecretStr

from assent.protocol import Signer, check_chain, generate_seed
from services.audit.app import record_configured_key
from services.audit.sequencer import Sequencer
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE
from tests.services.audit.helpers import AuditApi, consent
from tests.services.catalogue.helpers import Actor


async def test_an_export_whose_carried_key_was_swapped_fails(
    app: FastAPI, audit: AuditApi, sequencer: Sequencer, ines: Actor, auditor: Actor
) -> None:
    await record_configured_key(app)
    work = uuid.uuid4()
    await audit.post(consent(work, ines))
    await sequencer.run_once()
    keys = await audit.keys(auditor)
    chain = json.loads((await audit.work_chain(auditor, work)).model_dump_json())
    assert check_chain(chain, keys).ok
    [logged] = chain["keys"]

    impostor = Signer(SecretStr(generate_seed()), purpose=CHECKPOINT_KEY_PURPOSE).published()
    chain["keys"] = [impostor.model_dump(mode="json")]
    found = [problem.message for problem in check_chain(chain, keys).problems]

    assert found == [
        f"keys: key {impostor.key_id} is carried but no key.rotated entry of the export names it",
        f"keys: key {logged['key_id']} ({CHECKPOINT_KEY_PURPOSE}) is logged but not carried",
    ]
