"""The summary as a printable HTML page (from an autoescaped template: the values are
lab and creator text) and as a PDF laid out from that page (`assent.pdf`)."""

from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from assent.pdf import WrittenPdf, write_pdf
from assent.summary.model import TrainingDataSummary

_TEMPLATES = Environment(
    loader=PackageLoader("assent", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def summary_html(summary: TrainingDataSummary) -> str:
    return _TEMPLATES.get_template("summary.html").render(s=summary)


def write_summary_pdf(summary: TrainingDataSummary, path: Path) -> WrittenPdf:
    return write_pdf(summary_html(summary), path)
