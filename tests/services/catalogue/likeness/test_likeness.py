"""Near duplicates on PostgreSQL: transformed copies of another creator's image or text
are found, distinct ones and the creator's own works are not."""

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.likeness import likeness_service
from services.contracts.catalogue import MediaType
from tests.services.catalogue.likeness.material import (
    OTHER_TEXT,
    TEXT,
    copies,
    encoded,
    fingerprint,
    new_creator,
    scene,
    stored_work,
)


async def test_transformed_copies_of_another_creators_image_are_found(
    session: AsyncSession,
) -> None:
    ines, omar = await new_creator(session), await new_creator(session)
    original = scene(1)
    work_id = await stored_work(session, ines, encoded(original), MediaType.IMAGE)
    await stored_work(session, ines, encoded(scene(2)), MediaType.IMAGE)

    for name, copy in copies(original).items():
        matches = await likeness_service.find_near(
            session, fingerprint(copy, MediaType.IMAGE), excluding_creator=omar
        )
        assert [match.work_id for match in matches] == [work_id], name
        assert matches[0].creator_id == ines
        assert 0.9 < matches[0].score <= 1.0, name


async def test_a_distinct_image_matches_nothing(session: AsyncSession) -> None:
    ines, omar = await new_creator(session), await new_creator(session)
    for seed in range(1, 6):
        await stored_work(session, ines, encoded(scene(seed)), MediaType.IMAGE)

    matches = await likeness_service.find_near(
        session, fingerprint(encoded(scene(99)), MediaType.IMAGE), excluding_creator=omar
    )

    assert matches == []


async def test_a_creators_own_works_are_left_out(session: AsyncSession) -> None:
    ines = await new_creator(session)
    content = encoded(scene(3))
    await stored_work(session, ines, content, MediaType.IMAGE)

    near = fingerprint(content, MediaType.IMAGE)
    assert await likeness_service.find_near(session, near, excluding_creator=ines) == []
    found = await likeness_service.find_near(session, near, excluding_creator=None)
    assert [match.score for match in found] == [1.0]


async def test_a_lightly_edited_text_is_found_and_another_is_not(session: AsyncSession) -> None:
    ines, omar = await new_creator(session), await new_creator(session)
    work_id = await stored_work(session, ines, TEXT.encode(), MediaType.TEXT)
    await stored_work(session, ines, OTHER_TEXT.encode(), MediaType.TEXT)
    edited = TEXT.replace("Fishing boats", "Trawlers").replace("in silence", "quietly")

    matches = await likeness_service.find_near(
        session, fingerprint(edited.upper().encode(), MediaType.TEXT), excluding_creator=omar
    )
    assert [match.work_id for match in matches] == [work_id]
    assert 0.5 <= matches[0].score < 1.0

    unrelated = "A field guide to the mosses of northern bogs, with keys and plates."
    assert (
        await likeness_service.find_near(
            session, fingerprint(unrelated.encode(), MediaType.TEXT), excluding_creator=omar
        )
        == []
    )


async def test_an_image_is_never_a_candidate_for_a_text(session: AsyncSession) -> None:
    ines, omar = await new_creator(session), await new_creator(session)
    await stored_work(session, ines, encoded(scene(4)), MediaType.IMAGE)
    text = fingerprint(TEXT.encode(), MediaType.TEXT)

    assert await likeness_service.find_near(session, text, excluding_creator=omar) == []


@pytest.mark.parametrize(
    ("content", "media_type"),
    [
        (b"not an image at all", MediaType.IMAGE),
        (b"  ...  ", MediaType.TEXT),
        (b"RIFF....WAVEfmt ", MediaType.AUDIO),
        (b"\x00\x00\x00\x18ftypmp42", MediaType.VIDEO),
    ],
)
def test_content_without_a_fingerprint(content: bytes, media_type: MediaType) -> None:
    assert likeness_service.fingerprint(content, media_type) is None
