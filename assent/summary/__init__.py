"""The EU AI Act's public summary of training content (Article 53(1)(d)), from a lab's
licences and training receipts: JSON (`TrainingDataSummary`), HTML and PDF."""

from assent.summary.build import build_summary
from assent.summary.model import ProviderInput, TrainingDataSummary
from assent.summary.render import summary_html, write_summary_pdf

__all__ = [
    "ProviderInput",
    "TrainingDataSummary",
    "build_summary",
    "summary_html",
    "write_summary_pdf",
]
