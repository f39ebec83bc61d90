"""The evidence report as a PDF, for `assent audit export --pdf`.

The PDF is the HTML report (`assent.report`) laid out on A4 by WeasyPrint under the
report's print stylesheet (`@page`, page numbers, hashes that wrap), so the two never say
different things. WeasyPrint because it lays out HTML and CSS paged media without a
browser; it needs the system's Pango libraries, so it is the `pdf` extra
(`pip install 'assent[pdf]'`) rather than part of the lab client, and is imported only
when a PDF is asked for.

The report is self-contained: the layout fetches nothing, and any URL the page might name
is refused, so writing a PDF never touches the network.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from weasyprint.document import Document

PDF_EXTRA = "assent[pdf]"


class PdfUnavailable(Exception):
    """WeasyPrint (the `pdf` extra) or the system libraries it needs are missing."""


@dataclass(frozen=True)
class WrittenPdf:
    path: Path
    pages: int


def _laid_out(html: str) -> "Document":
    """The HTML laid out on A4, ready to write."""
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as exc:
        # OSError: the package is there, the system's Pango is not.
        raise PdfUnavailable(
            f"writing a PDF needs WeasyPrint and the system's Pango libraries "
            f"(pip install '{PDF_EXTRA}'): {exc}"
        ) from exc
    # No protocol allowed: a URL in the page (there should be none) is never fetched.
    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=())).render()


def write_pdf(html: str, path: Path) -> WrittenPdf:
    """Lay the report's HTML out on A4 and write it to `path` (atomically)."""
    document = _laid_out(html)
    partial = path.with_name(path.name + ".part")
    document.write_pdf(partial)
    partial.replace(path)
    return WrittenPdf(path, len(document.pages))


def pdf_bytes(html: str) -> bytes:
    """The same PDF as `write_pdf`, in memory: for a server answering a download."""
    # With no target, WeasyPrint returns the document's bytes.
    written: bytes = _laid_out(html).write_pdf()
    return written
