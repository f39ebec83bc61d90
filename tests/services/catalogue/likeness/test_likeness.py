"""Near duplicates on PostgreSQL: transformed copies of another creator's image or text
are found, distinct ones and the creator's own works are not."""

import io
import random
import uuid

import pytest
from PIL import Image, ImageDraw, ImageEnhance
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.likeness import Fingerprint, likeness_service
from services.catalogue.models import Creator, Work
from services.contracts.catalogue import MediaType, ReviewStatus, WorkStatus

TEXT = (
    "The harbour wakes before the town does. Fishing boats slide out past the breakwater "
    "while the gulls argue over what the night left on the quay. By seven the market "
    "stalls are up, the ice is shovelled, and the first buyers walk the rows in silence, "
    "pointing rather than speaking, as their parents did. Nobody writes anything down; "
    "the prices are remembered, and so are the debts. When the bell of the chapel rings "
    "nine, the fish is gone and the square belongs to the children again."
)
OTHER_TEXT = (
    "Sourdough asks for patience more than skill. Feed the starter the evening before, "
    "mix the flour and water and leave them alone for an hour, then add salt and fold "
    "the dough every half hour until it holds its shape. A long cold rise overnight "
    "gives the crumb its tang; a hot oven and a covered pot give the crust its crackle."
)


def scene(seed: int) -> Image.Image:
    """A picture of gradients and shapes, different for every seed."""
    rng = random.Random(seed)
    image = Image.linear_gradient("L").resize((320, 240)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(8):
        x, y = rng.uniform(-40, 300), rng.uniform(-40, 220)
        box = (x, y, x + rng.uniform(40, 180), y + rng.uniform(30, 140))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    return image


def encoded(image: Image.Image, file_format: str = "PNG", **options: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, file_format, **options)
    return buffer.getvalue()


def copies(image: Image.Image) -> dict[str, bytes]:
    width, height = image.size
    margin_x, margin_y = width // 20, height // 20
    return {
        "resized to half": encoded(image.resize((width // 2, height // 2))),
        "JPEG quality 70": encoded(image, "JPEG", quality=70),
        "cropped by 10%": encoded(
            image.crop((margin_x, margin_y, width - margin_x, height - margin_y))
        ),
        "15% brighter": encoded(ImageEnhance.Brightness(image).enhance(1.15)),
        "15% darker": encoded(ImageEnhance.Brightness(image).enhance(0.85)),
    }


def fingerprint(content: bytes, media_type: MediaType) -> Fingerprint:
    found = likeness_service.fingerprint(content, media_type)
    assert found is not None
    return found


async def new_creator(session: AsyncSession) -> uuid.UUID:
    creator = Creator(id=uuid.uuid4(), name="Creator")
    session.add(creator)
    await session.flush()
    return creator.id


async def stored_work(
    session: AsyncSession, creator_id: uuid.UUID, content: bytes, media_type: MediaType
) -> uuid.UUID:
    work = Work(
        owner_id=creator_id,
        title="A work",
        description="",
        media_type=media_type,
        tags=[],
        language="en",
        status=WorkStatus.READY,
        review_status=ReviewStatus.CLEAR,
    )
    session.add(work)
    await session.flush()
    await likeness_service.record(
        session, fingerprint(content, media_type), work_id=work.id, creator_id=creator_id
    )
    return work.id


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
