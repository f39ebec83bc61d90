"""The batch read of certificates: one call for many licences, in the order asked, and
none that the caller may not see."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.licensing import CertificateRead
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import Api, make_quote, quote_line, top_up

PATH = "/v1/licences/certificates"


async def _licence(api: Api, session: AsyncSession, buyer: Actor) -> str:
    quote_id = await make_quote(session, buyer.id, [quote_line(100, [(uuid.uuid4(), 10_000)])])
    await top_up(session, buyer.id, 100)
    return str((await api.bought(buyer, str(quote_id), str(quote_id)))["id"])


def _licence_ids(answer: list[dict[str, object]]) -> list[str]:
    return [str(CertificateRead.model_validate(read).certificate.licence_id) for read in answer]


async def test_certificates_come_in_the_order_asked_leaving_out_others_licences(
    api: Api, session: AsyncSession, lab: Actor, rival: Actor, auditor: Actor
) -> None:
    mine = [await _licence(api, session, lab) for _ in range(3)]
    theirs = await _licence(api, session, rival)
    asked = [mine[2], theirs, str(uuid.uuid4()), mine[0]]
    params = [("licence_id", licence_id) for licence_id in asked]

    assert _licence_ids(await api.ok(lab, "GET", PATH, params=params)) == [mine[2], mine[0]]
    assert _licence_ids(await api.ok(auditor, "GET", PATH, params=params)) == [
        mine[2],
        theirs,
        mine[0],
    ]


async def test_a_batch_certificate_is_the_single_reads_certificate(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    licence_id = await _licence(api, session, lab)
    single = CertificateRead.model_validate(
        await api.ok(lab, "GET", f"/v1/licences/{licence_id}/certificate")
    )
    (batch,) = await api.ok(lab, "GET", PATH, params={"licence_id": licence_id})
    read = CertificateRead.model_validate(batch)
    assert read.certificate.model_dump(exclude={"issued_at"}) == single.certificate.model_dump(
        exclude={"issued_at"}
    )
    assert read.envelope.signatures[0].keyid == single.envelope.signatures[0].keyid


async def test_more_than_a_page_of_licences_is_refused(api: Api, lab: Actor) -> None:
    params = [("licence_id", str(uuid.uuid4())) for _ in range(101)]
    assert (await api.refused(lab, "GET", PATH, params=params))[0] == 422
