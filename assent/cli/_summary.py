"""`assent summary`: the EU AI Act's public summary of training content (Article
53(1)(d)) for the lab's licensed data, whole or for one model, as JSON, HTML or PDF."""

import argparse
import sys
from pathlib import Path

from assent.options import API_KEY_ENV, connection_options


def _summary(args: argparse.Namespace) -> int:
    from assent.client import AssentClient
    from assent.errors import AssentError
    from assent.pdf import PdfUnavailable
    from assent.summary import summary_html, write_summary_pdf
    from assent.summary.fetch import training_summary

    if not args.key:
        print(f"assent summary: give --key or set {API_KEY_ENV}", file=sys.stderr)
        return 2
    try:
        with AssentClient(args.gateway, args.key) as client:
            summary = training_summary(client, model=args.model)
    except AssentError as error:
        print(f"assent summary: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    written = False
    if args.json:
        args.json.write_text(summary.model_dump_json(indent=2))
        print(f"wrote {args.json}")
        written = True
    if args.html:
        args.html.write_text(summary_html(summary))
        print(f"wrote {args.html}")
        written = True
    if args.pdf:
        try:
            done = write_summary_pdf(summary, args.pdf)
        except PdfUnavailable as exc:
            print(f"assent summary: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {done.path} ({done.pages} pages)")
        written = True
    if not written:
        print(summary.model_dump_json(indent=2))
    general = summary.general
    print(
        f"{general.total_records:,} licensed records in {len(general.modalities)} modalities; "
        "sections marked 'to be completed by the provider' are yours to fill in",
        file=sys.stderr,
    )
    return 0


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `assent summary` to the `assent` parser."""
    summary = commands.add_parser(
        "summary",
        help="the EU AI Act training-content summary of your licensed data",
        description="The public summary of training content Article 53(1)(d) of the AI Act "
        "asks of general-purpose AI model providers, in the sections of the Commission's "
        "template, filled with what Assent knows of your licences and training receipts. "
        "Exit code 0: written; 1: refused or failed; 2: usage.",
    )
    summary.add_argument("--model", help="only the records this model's receipts name")
    summary.add_argument("--json", type=Path, metavar="FILE", help="write the JSON here")
    summary.add_argument("--html", type=Path, metavar="FILE", help="write the HTML page here")
    summary.add_argument("--pdf", type=Path, metavar="FILE", help="write a PDF here ([pdf] extra)")
    connection_options(summary)
    summary.set_defaults(handler=_summary)
