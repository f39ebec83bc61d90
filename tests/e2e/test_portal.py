"""A creator's first listing in the portal, in headless Chromium against the whole stack:
keyboard sign-in, a resumable multipart upload with its progress bar, consent, offer; a
lab buys the work through the SDK and the creator sees the sale in the earnings chart,
among the work's licences, and in its verified chain. A co-creator sees only their own
controls. Screenshots are kept under test-artifacts/portal/."""

import asyncio
import hashlib
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Page, Route, expect

from assent.client import AssentClient
from tests.e2e.browser import Traffic, assert_accessible, screenshot, sign_in
from tests.e2e.marketplace import (
    COMPLETE,
    TRAINING,
    MiB,
    create_work,
    funded_buyer,
    list_for_sale,
    register,
    upload_single,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

# The stack uploads in 5 MiB parts above 6 MiB: this file goes up in four parts.
MULTIPART_SIZE = 17 * MiB
PRICE_MINOR = 1250
# 15 % platform fee, rounded down in the creator's favour.
CREATOR_SHARE = "€10.63"


def altered_log_signature(note: str) -> str:
    """The note with one character of the log's signature changed (still base64)."""
    lines = note.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("\u2014 assent-audit-log "))
    line = lines[at]
    spot = len(line) - 20
    lines[at] = line[:spot] + ("A" if line[spot] != "A" else "B") + line[spot + 1 :]
    return "\n".join(lines)


async def sign_in_with_keyboard(page: Page, key: str) -> None:
    await expect(page.get_by_label("API key", exact=True)).to_be_focused()
    await page.keyboard.type(key)
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_focused()
    await page.keyboard.press("Enter")


async def until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.5)):
        if await check():
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {seconds} s")


def interrupt_first_put_of_part(number: int) -> Callable[[Route], Awaitable[None]]:
    """A network failure while part `number` is on its way, once."""
    interrupted = False

    async def handle(route: Route) -> None:
        nonlocal interrupted
        is_part = parse_qs(urlsplit(route.request.url).query).get("partNumber") == [str(number)]
        if route.request.method == "PUT" and is_part and not interrupted:
            interrupted = True
            await route.abort("connectionreset")
            return
        await route.continue_()

    return handle


def buy_through_the_sdk(gateway_url: str, key: str, work_id: str) -> str:
    with AssentClient(gateway_url, key) as lab:
        purchase = lab.buy([work_id], uses=["TRAINING"])
    assert purchase.total.amount_minor == PRICE_MINOR
    return purchase.id


async def test_a_creator_lists_a_work_in_the_portal_and_sees_a_lab_buy_it(
    portal: tuple[Page, Traffic],
    gateway: GraphQLClient,
    running_stack: RunningStack,
    tmp_path: Path,
) -> None:
    page, traffic = portal
    _, creator = await register(gateway, "CREATOR", "Ada Lindqvist")
    content = os.urandom(MULTIPART_SIZE)
    painting = tmp_path / "harbour-at-dawn.raw"
    painting.write_bytes(content)

    # A wrong key is refused in words; the right one, typed and sent from the keyboard.
    await sign_in_with_keyboard(page, "assent_wrong000_" + "x" * 40)
    await expect(page.get_by_role("alert")).to_have_text(
        "That API key was not accepted. Sign in again."
    )
    await page.get_by_label("API key", exact=True).fill("")
    await page.get_by_label("API key", exact=True).focus()
    await sign_in_with_keyboard(page, creator)
    await expect(page.get_by_role("status")).to_have_text("Signed in as Ada Lindqvist.")
    await expect(page.get_by_text("No works yet")).to_be_visible()
    await screenshot(page, "01-signed-in")
    await assert_accessible(page, "01-signed-in")

    # The connection drops during part 2; Resume sends only what the store lacks.
    await page.route(lambda url: "partNumber=" in url, interrupt_first_put_of_part(2))
    await page.get_by_label("File", exact=True).set_input_files(painting)
    await expect(page.get_by_label("Title")).to_have_value("harbour-at-dawn")
    await page.get_by_label("Title").fill("Harbour at dawn")
    await page.get_by_label("Tags").fill("painting, harbour")
    await page.get_by_role("button", name="Upload", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("The upload stopped")
    progress = page.get_by_role("progressbar", name="Upload progress")
    assert 0 < int(await progress.get_attribute("value") or 0) < 100
    await screenshot(page, "02-upload-interrupted")
    await assert_accessible(page, "02-upload-interrupted")
    await page.get_by_role("button", name="Resume the upload").click()
    await expect(page.locator("#upload-progress-text")).to_have_text(
        "Uploaded and checked: 17.0 MiB of 17.0 MiB (100 %)"
    )
    await expect(progress).to_have_attribute("value", "100")
    for number in (1, 2, 3, 4):
        sent = [r for r in traffic.part_puts(number) if r not in traffic.failed]
        assert len(sent) == 1, f"part {number} was stored {len(sent)} times"
    assert [r for r in traffic.failed if r.method == "PUT"] == traffic.part_puts(2)[:1]
    work = page.get_by_role("region", name="Harbour at dawn")
    await expect(work.get_by_text(hashlib.sha256(content).hexdigest())).to_be_visible()

    # Consent in plain words, then an offer: the work is for sale.
    await page.get_by_label("Training new AI models").check()
    statement = page.locator("#consent-statement")
    await expect(statement).to_contain_text("for the uses recorded with this consent and for")
    await expect(statement).to_contain_text("Training new AI models: my work may be copied")
    await page.get_by_label("I own or control the rights in this work").check()
    await page.get_by_label("I have read this statement and I agree to it").check()
    await page.get_by_role("button", name="Give consent").click()
    await expect(page.get_by_role("status")).to_contain_text("Consent recorded")
    await page.get_by_label("Price").fill("12.50")
    await expect(page.locator("#offer-summary")).to_contain_text(
        "A buyer pays €12.50 for a licence to use this work for training new AI models"
    )
    await page.get_by_role("button", name="Publish the offer").click()
    await expect(page.get_by_role("status")).to_contain_text("It is for sale now.")
    row = page.locator("#works-table tbody tr", has_text="Harbour at dawn")
    await expect(row).to_contain_text("ReadyYes€12.50Training new AI models")
    # The README's picture: the list, the work and its consent, as a creator first sees them.
    await page.evaluate("() => window.scrollTo(0, 0)")
    await screenshot(page, "03-listed", full_page=False)
    work_id = await row.get_attribute("data-work-id")
    assert work_id is not None

    # A lab buys it through the SDK.
    _, lab = await funded_buyer(gateway, running_stack.admin_key, "Northwind Lab", 10_000)
    await asyncio.to_thread(buy_through_the_sdk, running_stack.stack.gateway_url, lab, work_id)

    # The sale, as the creator sees it: the chart, the work's licences, the chain.
    await page.get_by_role("button", name="Refresh earnings").click()
    bar = page.locator("#earnings-chart rect.bar[data-amount-minor='1063']")
    await expect(bar).to_have_count(1)
    await expect(page.locator("#earnings-caption")).to_contain_text(CREATOR_SHARE)
    await page.get_by_label("Group by").select_option("DAY")
    await expect(page.locator("#earnings-caption")).to_contain_text("per day")
    await expect(bar).to_have_count(1)
    licences = page.locator("#licences-table tbody tr")
    await expect(licences).to_have_count(1)
    await expect(licences).to_contain_text(
        re.compile(
            f"Northwind LabTraining new AI models€12.50€1.87{CREATOR_SHARE}{CREATOR_SHARE}Sale"
        )
    )
    await page.locator("#earnings-section").scroll_into_view_if_needed()
    await screenshot(page, "04-earnings")
    await assert_accessible(page, "04-earnings")

    steps = page.locator("#chain-entries li")

    async def chain_holds_the_sale() -> bool:
        await page.locator("#load-chain").click()
        # Disabled while the chain loads and its proofs are checked.
        await expect(page.locator("#load-chain")).to_be_enabled()
        found = {await item.get_attribute("data-step") for item in await steps.all()}
        pending = await page.locator("#chain-pending").inner_text()
        return {"CONSENT", "OFFER", "LICENCE", "PAYMENT"} <= found and not pending

    await until(chain_holds_the_sale, "the sale reaching the work's chain")
    count = await steps.count()
    # The creator's own steps are shown and proven; the sale's (the lab's payment and
    # licence) are another party's: withheld, their place in the log still proven.
    await expect(page.locator("#chain-entries .proof-ok")).to_have_count(count)
    await expect(page.locator("#chain-entries .proof-bad")).to_have_count(0)
    await expect(page.get_by_text("its details are withheld from you")).not_to_have_count(0)
    await expect(page.locator("#chain-checkpoint")).to_contain_text(
        f"{count} of {count} steps proven against it"
    )
    # Proven because the checkpoint's signed note verified, in the browser, with the log's
    # published key.
    await expect(page.locator("#chain-checkpoint")).to_contain_text("signed by the log's key")
    await page.locator("#chain").scroll_into_view_if_needed()
    await screenshot(page, "05-chain")
    await assert_accessible(page, "05-chain")

    # The same chain with its checkpoint's signature altered on the way: nothing is proven.
    async def bad_signature(route: Route) -> None:
        response = await route.fetch()
        body = await response.json()
        checkpoint = ((body.get("data") or {}).get("licenceChain") or {}).get("checkpoint")
        if checkpoint and checkpoint.get("note"):
            checkpoint["note"] = altered_log_signature(checkpoint["note"])
        await route.fulfill(response=response, json=body)

    await page.route("**/graphql", bad_signature)
    await page.locator("#load-chain").click()
    await expect(page.locator("#chain-checkpoint")).to_contain_text(
        "Checkpoint NOT proven: the log's signature on the checkpoint does not verify"
    )
    await expect(page.locator("#chain-entries .proof-ok")).to_have_count(0)
    await expect(page.locator("#chain-entries .proof-bad")).to_have_count(count)
    await screenshot(page, "05b-chain-bad-signature")
    await page.unroute("**/graphql", bad_signature)
    await page.locator("#load-chain").click()
    await expect(page.locator("#chain-entries .proof-ok")).to_have_count(count)

    # The key went in a header to the gateway only: never in a URL, never to the store.
    secret_free = [url for url in traffic.urls() if "assent_" in url or creator in url]
    assert secret_free == []
    gateway_origin = running_stack.stack.gateway_url
    for request in traffic.requests:
        authorization = await request.header_value("authorization")
        if request.url.startswith(gateway_origin + "/graphql"):
            assert authorization is not None
            assert authorization.startswith("Bearer ")
        else:
            assert authorization is None, request.url


async def test_every_state_of_a_creators_works_and_a_withdrawal(
    portal: tuple[Page, Traffic], gateway: GraphQLClient, tmp_path: Path
) -> None:
    page, _ = portal
    _, creator = await register(gateway, "CREATOR", "Bo Sandell")
    content = os.urandom(200_000)
    sketch = tmp_path / "sketch.raw"
    sketch.write_bytes(content)
    # Created elsewhere (the API, an earlier session), its file never sent.
    created = await create_work(gateway, creator, content, title="Sketch of a pier")
    assert created["__typename"] == "WorkCreated"

    await page.get_by_label("API key", exact=True).fill(creator)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    row = page.locator("#works-table tbody tr", has_text="Sketch of a pier")
    await expect(row).to_contain_text("Waiting for its fileNoNo offerNone")
    chart = page.locator("#earnings-chart")
    await expect(chart).to_contain_text("No sales in these periods yet")
    await expect(chart).to_contain_text("€0.00")

    # Its file, sent from the work's own page in one presigned PUT.
    await row.get_by_role("button", name="Sketch of a pier").click()
    await expect(page.get_by_role("heading", name="Sketch of a pier")).to_be_focused()
    await page.get_by_label("The work's file").set_input_files(sketch)
    await page.get_by_role("button", name="Continue the upload").click()
    await expect(page.get_by_role("status")).to_contain_text("is uploaded and its checksum matches")
    await expect(row).to_contain_text("ReadyNo")

    await page.get_by_label("Testing models").check()
    await page.get_by_label("I own or control the rights in this work").check()
    await page.get_by_label("I have read this statement and I agree to it").check()
    await page.get_by_role("button", name="Give consent").click()
    await expect(page.get_by_role("status")).to_contain_text("Consent recorded")
    await page.get_by_label("Price").fill("3")
    await page.get_by_role("button", name="Publish the offer").click()
    await expect(row).to_contain_text("ReadyYes€3.00Testing models")

    await page.get_by_role("button", name="Withdraw this work from sale…").click()
    await expect(page.get_by_role("button", name="Keep it for sale")).to_be_focused()
    await page.get_by_role("button", name="Withdraw the work").click()
    await expect(page.get_by_role("status")).to_contain_text("is withdrawn")
    await expect(row).to_contain_text("WithdrawnNo")
    await expect(page.locator("#work-facts")).to_contain_text("No:You withdrew it.")
    await screenshot(page, "06-withdrawn")
    await assert_accessible(page, "06-withdrawn")

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("API key", exact=True)).to_be_focused()
    assert await page.evaluate("() => sessionStorage.length") == 0


async def test_a_co_creator_sees_only_their_controls_and_accepts_and_consents(
    portal: tuple[Page, Traffic], gateway: GraphQLClient
) -> None:
    page, _ = portal
    owner_id, owner = await register(gateway, "CREATOR", "Ana Lima")
    co_creator_id, co_creator = await register(gateway, "CREATOR", "Ben Okafor")
    content = os.urandom(30_000)
    shares = [
        {"creatorId": owner_id, "basisPoints": 7_000},
        {"creatorId": co_creator_id, "basisPoints": 3_000},
    ]
    created = await create_work(gateway, owner, content, title="Duet at dusk", shares=shares)
    work_id = created["work"]["id"]
    await upload_single(created, content)
    await gateway.execute(COMPLETE, {"id": work_id}, key=owner)
    await list_for_sale(gateway, owner, work_id, price=900, uses=TRAINING)
    facts = page.locator("#work-facts")
    row = page.locator("#works-table tbody tr", has_text="Duet at dusk")

    # The owner reads why it is not for sale, in words naming who it waits for.
    await sign_in(page, owner)
    await row.get_by_role("button", name="Duet at dusk").click()
    await expect(facts).to_contain_text("No:Waiting for Ben Okafor to accept their share.")
    await page.get_by_role("button", name="Sign out").click()

    # The co-creator: their share to answer, and none of the owner's controls.
    await sign_in(page, co_creator)
    await expect(row).to_contain_text("ReadyNo€9.00NoneCo-creator, 30 %")
    await row.get_by_role("button", name="Duet at dusk").click()
    await expect(facts).to_contain_text("Waiting for you to accept your share.")
    await expect(page.locator("#invitation-text")).to_contain_text(
        "Ana Lima named you as a co-creator of this work with a 30 % share."
    )
    for owners in ("Publish the offer", "Withdraw this work from sale…", "Show the chain"):
        await expect(page.get_by_role("button", name=owners)).to_be_hidden()
    await expect(page.get_by_role("button", name="Give consent")).to_be_hidden()
    await screenshot(page, "07-co-creator-invited")
    await assert_accessible(page, "07-co-creator-invited")

    await page.get_by_role("button", name="Accept my share").click()
    await expect(page.get_by_role("status")).to_contain_text("You accepted your share")
    await expect(page.get_by_role("button", name="Accept my share")).to_be_hidden()
    await expect(facts).to_contain_text("Waiting for your consent.")
    # Consent in the platform's words, with the rights attested, as the owner gives it.
    await expect(page.locator("#consent-statement")).to_contain_text(
        "for the uses recorded with this consent and for nothing else"
    )
    await expect(page.get_by_label("Training new AI models")).to_be_checked()
    await page.get_by_label("I own or control the rights in this work").check()
    await page.get_by_label("I have read this statement and I agree to it").check()
    await page.get_by_role("button", name="Give consent").click()
    await expect(page.get_by_role("status")).to_contain_text("Consent recorded")
    await expect(facts).to_contain_text("Yes: buyers can find and license it.")
    await expect(row).to_contain_text("ReadyYes€9.00")
    await expect(row).to_contain_text("Co-creator, 30 %")
    await expect(page.get_by_role("button", name="Publish the offer")).to_be_hidden()

    # They may withdraw their own consent, in the withdrawal statement's words.
    await page.get_by_role("button", name="Withdraw my consent…").click()
    await expect(page.locator("#withdrawal-statement")).not_to_be_empty()
    await page.get_by_role("button", name="Withdraw my consent", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("is withdrawn: it leaves future")
    await expect(facts).to_contain_text("No:Waiting for your consent.")
    await screenshot(page, "08-co-creator-withdrew")
    await assert_accessible(page, "08-co-creator-withdrew")


async def test_the_portals_incremental_sha256_matches_hashlib(
    portal: tuple[Page, Traffic],
) -> None:
    page, _ = portal
    lengths = [0, 1, 55, 56, 63, 64, 65, 1000, 3 * MiB + 5]
    digests = await page.evaluate(
        """async (lengths) => {
          const { Sha256 } = await import("./sha256.js");
          return lengths.map((length) => {
            const bytes = Uint8Array.from({ length }, (_, i) => (i * 31 + 7) % 251);
            const hash = new Sha256();
            // Uneven pieces, so that blocks straddle update() calls.
            for (let start = 0, step = 7; start < length; start += step, step = step * 3 + 1) {
              hash.update(bytes.subarray(start, Math.min(start + step, length)));
            }
            return hash.hex();
          });
        }""",
        lengths,
    )
    expected = [
        hashlib.sha256(bytes((i * 31 + 7) % 251 for i in range(length))).hexdigest()
        for length in lengths
    ]
    assert digests == expected
