"""Pictures, texts and stored works for the near-duplicate tests."""

import io
import random
import uuid

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
