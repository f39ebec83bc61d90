"""A creator's work page in the portal, in headless Chromium against the whole stack: the
preview buyers see (a thumbnail from the object store) with the file's size, an edit of
the title kept in the details' history, a damaged picture refused as a new file with the
work unchanged; and a lab's search through the API and the SDK showing the new title, the
preview and the file's size. Screenshots are kept under test-artifacts/portal/."""

import asyncio
import hashlib
import io
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.async_api import Page, expect

from assent.client import AssentClient
from assent.models import Work
from tests.e2e.browser import Traffic, assert_accessible, screenshot, sign_in
from tests.e2e.marketplace import (
    COMPLETE,
    TRAINING,
    create_work,
    funded_buyer,
    list_for_sale,
    register,
    upload_single,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

SEARCH = """query($query: String!) { works(filter: {query: $query}) { __typename
  ... on WorkConnection { items { id title
    currentVersion { size preview { kind imageUrl note } } } } } }"""


def painting() -> bytes:
    picture = Image.new("RGB", (1200, 800))
    picture.putdata(
        [((x * 7) % 256, (y * 3) % 256, (x + y) % 256) for y in range(800) for x in range(1200)]
    )
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


async def test_a_creator_edits_a_work_and_sees_its_preview_and_a_lab_finds_both(
    portal: tuple[Page, Traffic],
    gateway: GraphQLClient,
    running_stack: RunningStack,
    tmp_path: Path,
) -> None:
    page, _ = portal
    _, creator = await register(gateway, "CREATOR", "Mira Okafor")
    content = painting()
    created = await create_work(
        gateway,
        creator,
        content,
        title="Lighthouse, study",
        file={
            "fileName": "lighthouse.png",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        },
    )
    await upload_single(created, content)
    work_id = created["work"]["id"]
    completed = await gateway.execute(COMPLETE, {"id": work_id}, key=creator)
    assert completed["completeUpload"]["__typename"] == "UploadCompleted", completed
    await list_for_sale(gateway, creator, work_id, price=900, uses=TRAINING)

    # The work's page: the thumbnail as buyers see it, loaded from the store, and its size.
    await sign_in(page, creator)
    await page.get_by_role("button", name="Lighthouse, study").click()
    work = page.get_by_role("region", name="Lighthouse, study")
    thumbnail = work.get_by_role("img", name="Thumbnail of Lighthouse, study")
    await expect(thumbnail).to_be_visible()
    assert await thumbnail.evaluate("(image) => image.complete && image.naturalWidth") == 320
    assert len(content) < 1024 * 1024
    size = f"{len(content) / 1024:.1f} KiB"
    await expect(page.locator("#preview-caption")).to_contain_text(size)
    await expect(page.locator("#history-list li")).to_have_count(1)

    # The title, edited: the page and the history show the new version of the details.
    await page.get_by_label("Work's name").fill("Lighthouse at night")
    await page.get_by_role("button", name="Save the details").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "Saved: the title of “Lighthouse at night”"
    )
    await expect(page.locator("#work-heading")).to_have_text("Lighthouse at night")
    history = page.locator("#history-list li")
    await expect(history).to_have_count(2)
    await expect(history.first).to_contain_text(
        "Version 2: “Lighthouse at night”, title changed by you"
    )
    await expect(history.last).to_contain_text("Version 1: “Lighthouse, study”, listed")
    await screenshot(page, "works-01-edited")
    await assert_accessible(page, "works-01-edited")

    # An empty name is refused at its field, and nothing is sent.
    await page.get_by_label("Work's name").fill("  ")
    await page.get_by_role("button", name="Save the details").click()
    await expect(page.locator("#edit-title-error")).to_have_text("A work needs a title.")
    await expect(page.get_by_label("Work's name")).to_have_attribute("aria-invalid", "true")

    # A damaged picture as the new file: refused in words, the current file unchanged.
    damaged = tmp_path / "lighthouse-v2.png"
    damaged.write_bytes(content[:200] + bytes(len(content) - 200))
    await page.get_by_label("The new file").set_input_files(damaged)
    await page.get_by_role("button", name="Upload the new version").click()
    await expect(page.get_by_role("alert")).to_contain_text(
        "lighthouse-v2.png could not be read as an image"
    )
    await expect(page.locator("#replace-file-error")).to_contain_text("send the file again")
    await page.get_by_role("button", name="Lighthouse at night").click()
    await expect(page.locator("#work-facts")).to_contain_text("lighthouse.png")
    renamed = page.get_by_role("region", name="Lighthouse at night")
    await expect(
        renamed.get_by_role("img", name="Thumbnail of Lighthouse at night")
    ).to_be_visible()
    await screenshot(page, "works-02-damaged-refused")
    await assert_accessible(page, "works-02-damaged-refused")

    # A lab's search, through the API and through the SDK: the new title, the thumbnail at
    # a short-lived URL, the file's size.
    _, lab = await funded_buyer(gateway, running_stack.admin_key, "Harbour Lab", 1_000)
    found = await gateway.execute(SEARCH, {"query": "lighthouse night"}, key=lab)
    items = [item for item in found["works"]["items"] if item["id"] == work_id]
    assert [item["title"] for item in items] == ["Lighthouse at night"]
    version = items[0]["currentVersion"]
    assert int(version["size"]) == len(content)
    assert version["preview"]["kind"] == "THUMBNAIL"

    def searched() -> list[Work]:
        with AssentClient(running_stack.stack.gateway_url, lab) as client:
            return [work for work in client.search("lighthouse night") if work.id == work_id]

    [seen] = await asyncio.to_thread(searched)
    assert seen.current_version is not None
    assert (seen.title, seen.current_version.size) == ("Lighthouse at night", len(content))
    assert seen.current_version.file_name == "lighthouse.png"
    preview = seen.current_version.preview
    assert preview is not None
    assert (preview.kind, preview.image_url is not None) == ("THUMBNAIL", True)
    async with httpx.AsyncClient() as http:
        fetched = await http.get(version["preview"]["imageUrl"])
        fetched_by_sdk = await http.get(str(preview.image_url))
    assert (fetched.status_code, fetched_by_sdk.status_code) == (200, 200)
    assert Image.open(io.BytesIO(fetched.content)).size == (320, 213)
    assert fetched_by_sdk.content == fetched.content
