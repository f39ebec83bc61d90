"""The public summary of training content that Article 53(1)(d) of the EU AI Act asks of
providers of general-purpose AI models, in the sections of the European Commission's
template of 24 July 2025, holding what Assent knows of a lab's licensed data.

What Assent cannot know (other sources, crawling, user or synthetic data, the removal of
illegal content, the model's release) is carried as a `ProviderInput`: the template's
question, marked for the provider to answer, never filled in here.
"""

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

TEMPLATE = (
    "European Commission, Template for the Public Summary of Training Content for "
    "general-purpose AI models (Article 53(1)(d) AI Act), 24 July 2025"
)


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True)


class ProviderInput(_Part):
    """A question of the template only the provider can answer."""

    status: Literal["to be completed by the provider"] = "to be completed by the provider"
    question: str


class ModalityFigures(_Part):
    modality: str
    """The template's modality: text, image, audio, video or other."""
    records: int
    bytes: int
    size_range: str | ProviderInput
    """The template's range for the modality, where Assent's figures place it."""
    content_types: list[str]


class GeneralInformation(_Part):
    provider: str
    provider_contact: ProviderInput
    model_names: list[str]
    """Versioned names of the models this summary covers (from the receipts)."""
    model_dependencies: ProviderInput
    placed_on_market: ProviderInput
    modalities: list[ModalityFigures]
    total_records: int
    total_bytes: int
    acquired_from: date | None
    latest_acquisition: date | None
    """The latest date a licence behind the data was granted."""
    training_from: date | None
    training_until: date | None
    linguistic_characteristics: ProviderInput


class LicensedSource(_Part):
    """Section 2.2.1: data commercially licensed from its rightsholders, through Assent."""

    licensed_from_rightsholders: bool
    intermediary: str
    licences: int
    works: int
    creators: int
    """Distinct credited creators, counted, never named."""
    uses_licensed: list[str]
    modalities: list[str]
    licence_periods: str
    chains: list[str]
    """Where each licence's chain can be verified."""


class DataSources(_Part):
    public_datasets: ProviderInput
    licensed: LicensedSource
    other_private_datasets: ProviderInput
    crawled: ProviderInput
    user_data: ProviderInput
    synthetic: ProviderInput
    other: ProviderInput


class RightsReservations(_Part):
    """Section 3.1, as far as the licensed data goes."""

    measures: list[str]
    withdrawn_since: int | None
    """Works licensed here that their creators have since withdrawn from sale; None when
    not counted."""
    ended_licences: int
    """Licences refunded or revoked, whose records the loader no longer yields."""
    for_crawled_data: ProviderInput


class DataProcessing(_Part):
    rights_reservations: RightsReservations
    illegal_content: ProviderInput


class TrainingDataSummary(_Part):
    template: str = TEMPLATE
    generated_at: datetime
    scope: str
    general: GeneralInformation
    sources: DataSources
    processing: DataProcessing
