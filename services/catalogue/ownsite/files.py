"""The kit's files, written from works as the catalogue holds them.

Every file says what a buyer could license right now, and nothing more: a work that is
not listed (withdrawn, held for review, awaiting a co-creator, its offer wider than the
consent) reserves everything. A crawler that reads the kit meets the same terms a buyer
meets on Assent.

- RSL 1.0 (https://rslstandard.org/rsl): one `<content>` per work, its path on the
  creator's site; a paid licence (`purchase`, the offer's price) for the RSL usages the
  offered uses cover, and a free one for classic search indexing, which is no AI use and
  keeps the creator's site findable. An RSL usage is permitted only when every Assent use
  it stands for is offered, so the file never grants more than a licence would.
- TDMRep: rights reserved on every work (`tdm-reservation: 1`), with the URL of the
  work's TDMRep policy (`signals.tdmrep`) when it can be licensed.
- robots.txt: a `License:` line for the RSL file, and groups for known AI crawlers that
  allow a work's path only while its offered uses cover what they do (training crawlers:
  training; retrieval crawlers: retrieval), and disallow it otherwise.
"""

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from decimal import Decimal
from urllib.parse import quote

from services.catalogue.models import Offer, Work
from services.catalogue.signals import tdmrep
from services.contracts.catalogue import (
    CURRENCY_MINOR_DIGITS,
    RSL_NAMESPACE,
    WORLD,
    TdmRepRule,
    Use,
)

# RSL's usage vocabulary against the Assent uses each token stands for. `ai-train` is
# training, as robots.txt's training crawlers are: fine-tuning alone, evaluation and
# synthetic data have no token of their own, and stay in the TDMRep policy alone.
RSL_USAGES: dict[str, frozenset[Use]] = {
    "ai-train": frozenset({Use.TRAINING}),
    "ai-input": frozenset({Use.RETRIEVAL}),
    "ai-index": frozenset({Use.RETRIEVAL}),
}
# Crawlers re-read the licence daily (RSL's default is 30 days), so a withdrawal reaches
# them within a day.
RSL_MAX_AGE_DAYS = "1"

# Known AI crawlers' user agents, by what they gather content for.
TRAINING_CRAWLERS = (
    "GPTBot",
    "ClaudeBot",
    "anthropic-ai",
    "Google-Extended",
    "Applebot-Extended",
    "CCBot",
    "Bytespider",
    "Meta-ExternalAgent",
    "cohere-training-data-crawler",
    "Amazonbot",
    "AI2Bot",
    "Diffbot",
)
RETRIEVAL_CRAWLERS = (
    "ChatGPT-User",
    "OAI-SearchBot",
    "Claude-User",
    "Claude-SearchBot",
    "PerplexityBot",
    "Perplexity-User",
    "Meta-ExternalFetcher",
    "MistralAI-User",
)


def licensable_uses(work: Work) -> frozenset[Use]:
    """What a buyer could license now: the offered uses of a listed work (listing checks
    every member's consent covers them), none otherwise."""
    if not work.listed or work.offer is None:
        return frozenset()
    return frozenset(work.offer.terms.uses)


def site_location(work: Work) -> str:
    """The work's path on the creator's site, as an RFC 9309 pattern: any path ending in
    its file's name. Quoted whole, so no name can add a line, a wildcard or a slash."""
    version = work.current_version or work.pending_version
    file_name = version.file_name if version is not None else str(work.id)
    return f"/*{quote(file_name, safe='')}$"


def _price(offer: Offer) -> str:
    return str(Decimal(offer.price_minor).scaleb(-CURRENCY_MINOR_DIGITS[offer.currency]))


def _element(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> None:
    ET.SubElement(parent, tag, attributes).text = text


def _paid_licence(content: ET.Element, offer: Offer, usages: list[str]) -> None:
    licence = ET.SubElement(content, "license")
    terms = offer.terms
    _element(licence, "permits", " ".join(usages), type="usage")
    if terms.territory != [WORLD]:
        _element(licence, "permits", " ".join(terms.territory), type="geo")
    if not terms.commercial_use:
        _element(licence, "prohibits", "commercial", type="user")
    payment = ET.SubElement(licence, "payment", {"type": "purchase"})
    _element(payment, "amount", _price(offer), currency=offer.currency)


def rsl_licence(works: Sequence[Work]) -> str:
    root = ET.Element("rsl", {"xmlns": RSL_NAMESPACE, "max-age": RSL_MAX_AGE_DAYS})
    for work in works:
        content = ET.SubElement(root, "content", {"url": site_location(work)})
        uses = licensable_uses(work)
        usages = [token for token, stands_for in RSL_USAGES.items() if stands_for <= uses]
        if work.offer is not None and usages:
            _paid_licence(content, work.offer, usages)
        search = ET.SubElement(content, "license")
        _element(search, "permits", "search", type="usage")
        if not usages:
            _element(search, "prohibits", "ai-all", type="usage")
        _element(search, "payment", type="free")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def tdmrep_rules(works: Sequence[Work], policy_url: Callable[[Work], str]) -> list[TdmRepRule]:
    return [
        TdmRepRule(
            location=site_location(work),
            tdm_reservation=1,
            tdm_policy=policy_url(work) if licensable_uses(work) else None,
        )
        for work in works
    ]


def tdm_policy(work: Work) -> dict[str, object] | None:
    """The TDMRep policy a work's tdmrep.json entry points to, while it can be licensed."""
    policy: dict[str, object] | None = tdmrep(work, licensable_uses(work)).get("tdm-policy")
    return policy


def _crawler_group(agents: Sequence[str], works: Sequence[Work], use: Use) -> list[str]:
    lines = [f"User-agent: {agent}" for agent in agents]
    for work in works:
        rule = "Allow" if use in licensable_uses(work) else "Disallow"
        lines.append(f"{rule}: {site_location(work)}")
    return lines


def robots_lines(works: Sequence[Work], licence_url: str) -> str:
    lines = [
        "# Assent: AI crawlers may take these works only as licensed; the licence says how.",
        f"License: {licence_url}",
        "",
        *_crawler_group(TRAINING_CRAWLERS, works, Use.TRAINING),
        "",
        *_crawler_group(RETRIEVAL_CRAWLERS, works, Use.RETRIEVAL),
    ]
    return "\n".join(lines) + "\n"
