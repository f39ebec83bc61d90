"""The portal's forms and layout, in headless Chromium against the whole stack: a refused
field is explained beside it in plain words with focus moved there; an offer's territory
is picked from the world's countries; a creator signs in and lists a work with the
keyboard alone; on a 390 px phone nothing scrolls sideways; sale lines show the price,
the fee and each co-creator's net, and a refund says why; axe-core finds no serious or
critical violation on any section."""

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, ViewportSize, expect

from tests.e2e.browser import (
    WAIT_MS,
    Traffic,
    assert_accessible,
    keyboard_consent_and_offer,
    keyboard_file_chooser,
    open_work,
    screenshot,
    sign_in,
    tab_to,
)
from tests.e2e.marketplace import (
    COMPLETE,
    buy,
    consent_input,
    create_work,
    funded_buyer,
    listed_work,
    quote_for,
    register,
    upload_single,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

CONSENT = """mutation($id: ID!, $input: ConsentInput!) { giveConsent(workId: $id, input: $input) {
  __typename } }"""
OFFER_TERRITORY = """query($id: ID!) { work(id: $id) { ... on Work {
  offer { terms { territory } } } } }"""
REFUND = """mutation($id: ID!, $reason: String!) { refundLicence(licenceId: $id, reason: $reason) {
  __typename } }"""
PHONE: ViewportSize = {"width": 390, "height": 844}


async def consented_work(gateway: GraphQLClient, creator: str, title: str) -> str:
    """An uploaded work with the creator's consent to training, and no offer yet."""
    content = os.urandom(40_000)
    created = await create_work(gateway, creator, content, title=title)
    await upload_single(created, content)
    work_id: str = created["work"]["id"]
    await gateway.execute(COMPLETE, {"id": work_id}, key=creator)
    recorded = await gateway.execute(
        CONSENT, {"id": work_id, "input": consent_input(["TRAINING"])}, key=creator
    )
    assert recorded["giveConsent"]["__typename"] == "ConsentRecorded", recorded
    return work_id


async def assert_beside(page: Page, field: Locator, message: str) -> None:
    """The message sits right after the field, describes it, and the field has focus."""
    await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(field).to_be_focused()
    field_id = await field.get_attribute("id")
    note = page.locator(f"#{field_id}-error")
    await expect(note).to_have_text(message)
    assert f"{field_id}-error" in (await field.get_attribute("aria-describedby") or "")
    assert await note.evaluate(
        "(note, id) => note.previousElementSibling === document.getElementById(id)", field_id
    )


async def test_a_refused_field_is_explained_beside_it_in_plain_words(
    portal: tuple[Page, Traffic], gateway: GraphQLClient, tmp_path: Path
) -> None:
    page, _ = portal
    _, creator = await register(gateway, "CREATOR", "Farah Idris")

    # The page's own check, before anything is sent: the key is missing.
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await assert_beside(page, page.get_by_label("API key", exact=True), "Enter your API key.")
    await assert_accessible(page, "the sign-in page with a refused field")

    # Signing up with too short a password: the marketplace's words, beside the password.
    await page.get_by_text("New here? Create an account").click()
    await page.get_by_label("Your name, as buyers will see it").fill("Farah Idris")
    await page.locator("#sign-up-email").fill("farah@example.org")
    password = page.locator("#sign-up-password")
    await password.fill("short")
    await page.get_by_role("button", name="Create my account").click()
    await expect(password).to_have_attribute("aria-invalid", "true")
    await expect(password).to_be_focused()
    await expect(page.locator("#sign-up-password-error")).to_contain_text("characters")
    await sign_in(page, creator)

    # No file chosen: said beside the file field, which takes focus.
    await page.get_by_label("Title").fill("Salt flats")
    await page.get_by_role("button", name="Upload", exact=True).click()
    await assert_beside(
        page, page.get_by_label("File", exact=True), "Choose the file of your work."
    )
    await expect(page.get_by_role("alert")).to_contain_text("File: Choose the file of your work.")

    # The marketplace's refusal of a language tag: beside Language, with no pattern shown.
    picture = tmp_path / "salt-flats.raw"
    picture.write_bytes(os.urandom(20_000))
    await page.get_by_label("File", exact=True).set_input_files(picture)
    await page.get_by_label("Language").fill("english!")
    await page.get_by_role("button", name="Upload", exact=True).click()
    language = page.get_by_label("Language")
    await assert_beside(page, language, "Use a language tag such as en or pt-BR.")
    await expect(page.get_by_label("File", exact=True)).not_to_have_attribute(
        "aria-invalid", "true"
    )
    alert = await page.get_by_role("alert").inner_text()
    assert "One detail needs a change" in alert
    assert "^" not in alert
    assert "pattern" not in alert
    await assert_accessible(page, "the upload form with a refused field")
    await screenshot(page, "30-field-error")

    # Corrected, the work is made and the message goes.
    await language.fill("en")
    await page.get_by_role("button", name="Upload", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("is uploaded and its checksum matches")
    await expect(page.locator("#upload-language-error")).to_have_count(0)
    await expect(language).not_to_have_attribute("aria-invalid", "true")


async def test_an_offer_territory_is_picked_from_the_worlds_countries(
    portal: tuple[Page, Traffic], gateway: GraphQLClient
) -> None:
    page, _ = portal
    _, creator = await register(gateway, "CREATOR", "Jonas Berg")
    work_id = await consented_work(gateway, creator, "Fjord in fog")
    await sign_in(page, creator)
    await open_work(page, "Fjord in fog")

    worldwide = page.get_by_label("Worldwide")
    await expect(worldwide).to_be_checked()
    await expect(page.get_by_label("Find a country")).to_be_hidden()
    await worldwide.uncheck()
    finder = page.get_by_label("Find a country")
    await expect(finder).to_be_focused()
    await expect(page.locator("#offer-countries-count")).to_have_text("249 countries match.")
    # Nothing ticked: refused beside the territory, before anything is sent.
    await page.get_by_label("Price").fill("9.00")
    await page.get_by_role("button", name="Publish the offer").click()
    territory = page.get_by_role("group", name="Where buyers may use it")
    await expect(territory).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#offer-territory-error")).to_have_text(
        "Choose at least one country, or worldwide."
    )
    await expect(page.get_by_label("Worldwide")).to_be_focused()

    # A few letters narrow the list; Enter ticks the one left.
    await finder.fill("norw")
    await expect(page.locator("#offer-countries-count")).to_have_text("1 country matches.")
    await finder.press("Enter")
    await expect(page.get_by_label("Norway")).to_be_checked()
    await finder.fill("ice")
    await page.get_by_label("Iceland").check()
    await expect(page.locator("#offer-countries-chosen")).to_have_text("Chosen: Iceland, Norway.")
    await expect(page.locator("#offer-summary")).to_contain_text("in Iceland, Norway")
    await assert_accessible(page, "the offer form's country picker")
    await screenshot(page, "31-territory")
    await page.get_by_role("button", name="Publish the offer").click()
    await expect(page.get_by_role("status")).to_contain_text("Offer published")

    found = await gateway.execute(OFFER_TERRITORY, {"id": work_id}, key=creator)
    assert found["work"]["offer"]["terms"]["territory"] == ["IS", "NO"]
    # Opened again, the picker shows the offer's countries.
    await open_work(page, "Fjord in fog")
    await expect(page.get_by_label("Worldwide")).not_to_be_checked()
    await expect(page.get_by_label("Iceland")).to_be_checked()
    await expect(page.get_by_label("Norway")).to_be_checked()


async def test_a_creator_signs_in_and_lists_a_work_with_the_keyboard_alone(
    portal: tuple[Page, Traffic], gateway: GraphQLClient, tmp_path: Path
) -> None:
    page, _ = portal
    _, creator = await register(gateway, "CREATOR", "Ines Castro")
    picture = tmp_path / "olive-grove.raw"
    picture.write_bytes(os.urandom(30_000))
    keys = page.keyboard

    await expect(page.get_by_label("API key", exact=True)).to_be_focused()
    await keys.type(creator)
    await keys.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Signed in as Ines Castro.")
    # Tabbing starts once the page has drawn what it loads on sign-in.
    await expect(page.get_by_text("No works yet")).to_be_visible()
    await expect(page.locator("#earnings-chart svg")).to_have_count(1)

    # The file field opens the system's file chooser from the keyboard.
    await (await keyboard_file_chooser(page)).set_files(picture)
    await expect(page.get_by_label("Title")).to_have_value("olive-grove")
    await tab_to(page, page.get_by_label("Title"))
    await keys.press("Control+a")
    await keys.type("Olive grove")
    await keys.press("Enter")
    # Hashed, sent to the store and checked there: slower than a click's answer.
    await expect(page.get_by_role("status")).to_contain_text(
        "Next: give your consent.", timeout=3 * WAIT_MS
    )
    await expect(page.locator("#work-heading")).to_be_focused()

    await keyboard_consent_and_offer(page, "7.50")
    row = page.locator("#works-table tbody tr", has_text="Olive grove")
    await expect(row).to_contain_text("€7.50")


async def horizontal_overflow(page: Page) -> int:
    width: int = await page.evaluate("document.documentElement.scrollWidth")
    return width


async def test_on_a_phone_no_section_scrolls_sideways_and_sales_explain_themselves(
    browser: Browser, running_stack: RunningStack, gateway: GraphQLClient
) -> None:
    _, creator = await register(gateway, "CREATOR", "Noor Haddad")
    admin = running_stack.admin_key
    sold = await listed_work(gateway, creator, price=1_000, title="Cedar bark, close up")
    refunded = await listed_work(gateway, creator, price=2_000, title="Cedar resin")
    _, lab = await funded_buyer(gateway, admin, "Levant Lab", 10_000)
    await buy(gateway, lab, (await quote_for(gateway, lab, [sold]))["id"])
    licence: dict[str, Any] = await buy(
        gateway, lab, (await quote_for(gateway, lab, [refunded]))["id"]
    )
    answer = await gateway.execute(
        REFUND, {"id": licence["id"], "reason": "the buyer asked within 14 days"}, key=admin
    )
    assert answer["refundLicence"]["__typename"] == "LicenceRefunded", answer

    context = await browser.new_context(
        base_url=running_stack.stack.gateway_url, viewport=PHONE, is_mobile=True
    )
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        await page.goto("/portal/")
        assert await horizontal_overflow(page) <= PHONE["width"]
        await assert_accessible(page, "the sign-in page at 390 px")
        await sign_in(page, creator)

        # The statement: price, fee, net and the creator's amount; the refund's reason.
        await page.get_by_role("button", name="Show the statement").click()
        rows = page.locator("#statement-table tbody tr")
        sale = rows.filter(has_text="Cedar bark, close up")
        # Stacked as a card, each figure under its column's name.
        await expect(sale.locator("td[data-label='Price']")).to_have_text("€10.00")
        await expect(sale.locator("td[data-label='Platform fee']")).to_have_text("€1.50")
        await expect(sale.locator("td[data-label='Net, per co-creator']")).to_have_text("€8.50")
        await expect(sale.locator("td[data-label='Your amount']")).to_have_text("€8.50")
        refund = rows.filter(has_text="Refund")
        await expect(refund).to_contain_text(
            "The marketplace refunded the buyer: the buyer asked within 14 days"
        )
        # Every bar of the chart says its month and amount.
        bars = page.locator("#earnings-chart rect.bar")
        labels = await page.locator("#earnings-chart text.bar-label").all_text_contents()
        assert len(labels) == 2 * await bars.count()
        assert "€8.50" in labels

        for section in (
            "works-section",
            "upload-section",
            "earnings-section",
            "payouts-section",
            "keys-section",
            "passkeys-section",
        ):
            await page.locator(f"#{section}").scroll_into_view_if_needed()
            assert await horizontal_overflow(page) <= PHONE["width"], section
        await open_work(page, "Cedar bark, close up")
        await page.locator("#work-section").scroll_into_view_if_needed()
        assert await horizontal_overflow(page) <= PHONE["width"], "work-section"
        await page.get_by_label("Worldwide").uncheck()
        assert await horizontal_overflow(page) <= PHONE["width"], "the country picker"
        await assert_accessible(page, "every section at 390 px")
        await page.locator("#earnings-section").scroll_into_view_if_needed()
        await screenshot(page, "32-phone-earnings", full_page=False)
    finally:
        await context.close()
    assert not errors, f"the page raised: {errors}"
