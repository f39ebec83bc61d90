"""The summary worked out from a lab's licences and training receipts: a pure function,
so each figure can be tied to what it was computed from.

Scope: for a model, only the records its receipts name (every version of that model);
for the whole lab, every record of every licence. Sizes are the licensed files' own;
text is estimated at four bytes a token, as the template asks for tokens and Assent
sells files, and says so.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime

from assent.models import Licence, LicenceLine
from assent.summary.model import (
    DataProcessing,
    DataSources,
    GeneralInformation,
    LicensedSource,
    ModalityFigures,
    ProviderInput,
    RightsReservations,
    TrainingDataSummary,
)
from services.contracts.licensing import TrainingRunRead

BYTES_PER_TOKEN = 4
# The template's ranges (upper bounds exclusive) and their wording, by modality.
_TEXT_TOKENS = ((10**9, "Less than 1 billion tokens"), (10**13, "1 billion to 10 trillion tokens"))
_IMAGES = ((10**6, "Less than 1 million images"), (10**9, "1 million to 1 billion images"))
_MODALITY = {"TEXT": "text", "IMAGE": "image", "AUDIO": "audio", "VIDEO": "video"}
_CONTENT = {
    "text": "licensed text works (creators' own writing)",
    "image": "licensed visual works (photography, illustration and artworks)",
    "audio": "licensed audio works (music and recordings)",
    "video": "licensed video works",
    "other": "other licensed works",
}

ChainUrl = Callable[[str], str]


def _range(count: int, ranges: Sequence[tuple[int, str]], above: str) -> str:
    return next((wording for bound, wording in ranges if count < bound), above)


def _size_range(modality: str, records: int, size: int) -> str | ProviderInput:
    if modality == "text":
        tokens = size // BYTES_PER_TOKEN
        wording = _range(tokens, _TEXT_TOKENS, "More than 10 trillion tokens")
        return f"{wording} (about {tokens:,}, estimated at {BYTES_PER_TOKEN} bytes a token)"
    if modality == "image":
        return _range(records, _IMAGES, "More than 1 billion images")
    # Audio and video ranges are in hours, which Assent does not record.
    return ProviderInput(question=f"Total {modality} hours, in the template's ranges")


def _creators(lines: Iterable[LicenceLine]) -> int:
    # The licence credits each line's co-creators by name; counted, never shown.
    return len({name.strip() for line in lines for name in line.attribution.split(",") if name})


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment else None


def build_summary(
    *,
    provider: str,
    licences: Sequence[Licence],
    runs: Sequence[TrainingRunRead],
    model: str | None,
    chain_url: ChainUrl,
    generated_at: datetime,
    withdrawn: set[str] | None,
) -> TrainingDataSummary:
    """The summary of `model`'s training content (or the lab's, for `None`). `withdrawn`
    is the works their creators have since withdrawn from sale (None: not known)."""
    chosen = [run for run in runs if model is None or run.model_name == model]
    by_licence = {licence.id: licence for licence in licences}
    used: dict[str, set[str]] = defaultdict(set)
    if model is None:
        for licence in licences:
            used[licence.id].update(line.work_id for line in licence.lines)
    else:
        for run in chosen:
            for use in run.licences:
                used[str(use.licence_id)].update(str(work) for work in use.work_ids)
    in_scope = [by_licence[licence_id] for licence_id in sorted(used) if licence_id in by_licence]
    lines = [
        line for licence in in_scope for line in licence.lines if line.work_id in used[licence.id]
    ]

    records: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for line in lines:
        modality = _MODALITY.get(line.media_type.upper(), "other")
        records[modality] += 1
        sizes[modality] += line.size
    modalities = [
        ModalityFigures(
            modality=modality,
            records=records[modality],
            bytes=sizes[modality],
            size_range=_size_range(modality, records[modality], sizes[modality]),
            content_types=[_CONTENT[modality]],
        )
        for modality in sorted(records)
    ]
    granted = [licence.granted_at for licence in in_scope]
    ended = [licence for licence in in_scope if licence.status.value in ("refunded", "revoked")]
    scope = (
        f"the model {model}, from its {len(chosen)} training receipts"
        if model
        else f"every licence {provider} holds through Assent"
    )
    periods = (
        f"{min(line.starts_at for line in lines):%Y-%m-%d} to "
        f"{max(line.ends_at for line in lines):%Y-%m-%d}"
        if lines
        else "none"
    )
    return TrainingDataSummary(
        generated_at=generated_at,
        scope=scope,
        general=GeneralInformation(
            provider=provider,
            provider_contact=ProviderInput(question="The provider's contact for this summary"),
            model_names=sorted({f"{run.model_name} {run.model_version}" for run in chosen}),
            model_dependencies=ProviderInput(
                question="Other general-purpose AI models this model was built on, if any"
            ),
            placed_on_market=ProviderInput(question="Date the model was placed on the EU market"),
            modalities=modalities,
            total_records=len(lines),
            total_bytes=sum(sizes.values()),
            acquired_from=_day(min(granted, default=None)),
            latest_acquisition=_day(max(granted, default=None)),
            training_from=_day(min((run.started_at for run in chosen), default=None)),
            training_until=_day(max((run.ended_at for run in chosen), default=None)),
            linguistic_characteristics=ProviderInput(
                question="Languages of the training data, as far as identifiable"
            ),
        ),
        sources=DataSources(
            public_datasets=ProviderInput(question="Publicly available datasets used (2.1)"),
            licensed=LicensedSource(
                licensed_from_rightsholders=bool(lines),
                intermediary="Assent, a marketplace selling works only with the recorded "
                "opt-in consent of every rightsholder, who is paid a share of each sale",
                licences=len(in_scope),
                works=len({line.work_id for line in lines}),
                creators=_creators(lines),
                uses_licensed=sorted({use.value for lic in in_scope for use in lic.uses}),
                modalities=[figures.modality for figures in modalities],
                licence_periods=periods,
                chains=[chain_url(licence.id) for licence in in_scope],
            ),
            other_private_datasets=ProviderInput(
                question="Other private datasets obtained from third parties (2.2.2)"
            ),
            crawled=ProviderInput(question="Data crawled and scraped from online sources (2.3)"),
            user_data=ProviderInput(question="Data from users of the provider's services (2.4)"),
            synthetic=ProviderInput(question="Synthetic data (2.5)"),
            other=ProviderInput(question="Other sources of data (2.6)"),
        ),
        processing=DataProcessing(
            rights_reservations=RightsReservations(
                measures=[
                    "Every licensed work was listed by its rightsholders' opt-in: each "
                    "co-creator accepted their share and gave a consent covering the uses "
                    "sold, in the platform's versioned words, kept verbatim in the audit log.",
                    "A work withdrawn by its creators is sold to no one from then on; "
                    "licences granted before stay valid on their terms.",
                    "Records of refunded or revoked licences, and of ended licence periods, "
                    "are marked in each delivery's signed status list and skipped by the "
                    "licence-enforcing loader.",
                    "Creators' own-site reservations (robots.txt, ai.txt, TDMRep) need no "
                    "honouring here: only works their creators opted in are sold.",
                    "Each licence's chain, from consent to delivery and training receipt, is "
                    "in a witnessed transparency log and verifies offline.",
                ],
                withdrawn_since=(
                    None if withdrawn is None else len(withdrawn & {line.work_id for line in lines})
                ),
                ended_licences=len(ended),
                for_crawled_data=ProviderInput(
                    question="Measures honouring machine-readable opt-outs for crawled data (3.1)"
                ),
            ),
            illegal_content=ProviderInput(
                question="Measures taken to remove illegal content from the training data (3.2)"
            ),
        ),
    )
