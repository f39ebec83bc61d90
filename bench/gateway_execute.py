"""One search page through the gateway's GraphQL layer, in process: this checkout beside
an older commit, in one run.

Each side runs in its own Python process, importing the gateway from its own tree (the
older commit from a git worktree under /tmp). A side builds its schema as the app does,
and for each page a fresh context, then executes `bench/catalogue_search.py`'s search
document. The catalogue's answer is the same JSON page on both sides (20 works, each
with a version, a consent, an offer and two shares, built from the contracts), handed
back where the client would have read it from the network: what is measured is the
gateway's own work on a page (validating the answer, building the types, executing
the document), in CPU time, with no HTTP or database.

The sides take turns, round after round, so that both see the same machine.

Usage: python bench/gateway_execute.py [--old 0e65a4f] [--pages 2000] [--rounds 5]
"""

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGE_SIZE = 20
WARM_UP_PAGES = 300


def search_page() -> bytes:
    """The catalogue's answer to a search, as its response model serialises it."""
    from services.contracts import catalogue as contract

    start = datetime(2025, 1, 1, tzinfo=UTC)
    terms = contract.Terms(
        uses=[contract.Use.TRAINING, contract.Use.FINE_TUNING],
        commercial_use=True,
        attribution_required=False,
        duration_days=365,
    )
    works = []
    for index in range(PAGE_SIZE):
        work_id, owner_id, partner_id = (
            uuid.uuid5(uuid.NAMESPACE_OID, str(index)),
            *(uuid.uuid5(uuid.NAMESPACE_OID, f"{index}-{role}") for role in ("owner", "partner")),
        )
        created_at = start + timedelta(minutes=index)
        works.append(
            contract.WorkRead(
                id=work_id,
                owner_id=owner_id,
                title=f"harbour lights at dusk {index}",
                description="long exposures of a working harbour, shot over one winter " * 3,
                media_type=contract.MediaType.IMAGE,
                tags=["tag1", "tag7", "tag42"],
                language="en",
                status=contract.WorkStatus.READY,
                review_status=contract.ReviewStatus.CLEAR,
                listed=True,
                created_at=created_at,
                withdrawn_at=None,
                current_version=contract.VersionRead(
                    id=uuid.uuid5(work_id, "version"),
                    number=1,
                    file_name=f"harbour-{index}.tiff",
                    size=48_000_000 + index,
                    sha256="ab" * 32,
                    status=contract.VersionStatus.COMPLETE,
                    failure_reason=None,
                    created_at=created_at,
                    completed_at=created_at,
                ),
                pending_version=None,
                shares=[
                    contract.ShareRead(
                        creator_id=owner_id, creator_name="Ada Harbour", basis_points=7000
                    ),
                    contract.ShareRead(
                        creator_id=partner_id, creator_name="Ben Quay", basis_points=3000
                    ),
                ],
                consent=contract.ConsentRead(
                    id=uuid.uuid5(work_id, "consent"),
                    work_id=work_id,
                    sequence=1,
                    kind=contract.ConsentKind.GIVEN,
                    uses=terms.uses,
                    statement_id="opt-in",
                    statement_version="1",
                    statement_sha256="ab" * 32,
                    attestation=contract.RightsAttestation(
                        owns_rights=True, depicts_identifiable_people=False
                    ),
                    given_by=owner_id,
                    given_at=created_at,
                ),
                offer=contract.OfferRead(
                    id=uuid.uuid5(work_id, "offer"),
                    work_id=work_id,
                    price_minor=1_250 + index,
                    currency="EUR",
                    terms_id="cd" * 32,
                    terms=terms,
                    published_at=created_at,
                ),
            )
        )
    page = contract.WorkPage(items=works, next_cursor="opaque-cursor")
    return page.model_dump_json().encode()


async def measure_side(document: str, pages: int, rounds: int) -> None:
    """Runs in the side's own process: answers one line of µs per page for each round."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sqlalchemy.ext.asyncio import async_sessionmaker

    import gateway
    from gateway.accounts.cache import PrincipalCache
    from gateway.accounts.models import Account
    from gateway.accounts.service import Principal
    from gateway.clients.catalogue import CatalogueClient
    from gateway.clients.services import ServiceClients
    from gateway.config import Settings
    from gateway.context import Context
    from gateway.schema import build_schema
    from services.contracts.roles import Role
    from services.kit.client import AiohttpTransport
    from services.kit.internal_token import TokenSigner

    if not gateway.__file__ or not gateway.__file__.startswith(str(Path.cwd())):
        raise SystemExit(f"imported {gateway.__file__}, not the side's own gateway")
    answer = search_page()

    class AnsweredCatalogue(CatalogueClient):
        """The catalogue's answer as the transport would have handed it over."""

        async def _call(self, *args: Any, **kwargs: Any) -> bytes:
            return answer

    account = Account(id=uuid.uuid4(), name="Lab", email="lab@example.org")
    principal = Principal(
        account_id=account.id, key_id=uuid.uuid4(), roles=frozenset({Role.BUYER}), account=account
    )
    schema = build_schema(Settings(introspection=False))
    services = ServiceClients(
        {name: "http://127.0.0.1:9" for name in ("catalogue", "licensing", "delivery", "audit")},
        signer=TokenSigner(Ed25519PrivateKey.generate(), issuer="gateway"),
        http=AiohttpTransport(),
    )
    principals = PrincipalCache(ttl_seconds=5)
    variables = {"filter": {"query": "harbour"}, "sort": "RELEVANCE", "first": PAGE_SIZE}

    async def one_page() -> None:
        context = Context(
            sessionmaker=async_sessionmaker(),
            principal=principal,
            principals=principals,
            services=services,
            public_url=lambda: "http://127.0.0.1:8000",
        )
        context.catalogue = AnsweredCatalogue(services.by_name["catalogue"])
        result = await schema.execute(document, variable_values=variables, context_value=context)
        if result.errors or len(result.data["works"]["items"]) != PAGE_SIZE:  # type: ignore[index]
            raise SystemExit(f"the page was not answered: {result.errors}")

    for _ in range(WARM_UP_PAGES):
        await one_page()
    for _ in range(rounds):
        sys.stdin.readline()
        started = time.process_time()
        for _ in range(pages):
            await one_page()
        print((time.process_time() - started) / pages * 1e6, flush=True)


def worktree(commit: str) -> Path:
    path = Path(tempfile.gettempdir()) / f"assent-{commit}"
    if not path.exists():
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), commit],
            check=True,
            capture_output=True,
        )
    return path


def start_side(root: Path, document: str, pages: int, rounds: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *(sys.executable, __file__, "--side", str(root)),
            *("--pages", str(pages), "--rounds", str(rounds), "--document", document),
        ],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", default="0e65a4f", help="the commit to compare against")
    parser.add_argument("--pages", type=int, default=2000, help="pages per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--side", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--document", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side is not None:
        # The side's own tree, not this checkout's, answers `import gateway`.
        sys.path[0] = str(args.side)
        asyncio.run(measure_side(args.document, args.pages, args.rounds))
        return

    from catalogue_search import SEARCH

    sides = {
        args.old: start_side(worktree(args.old), SEARCH, args.pages, args.rounds),
        "this checkout": start_side(ROOT, SEARCH, args.pages, args.rounds),
    }
    per_page: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, side in sides.items():
            assert side.stdin is not None
            assert side.stdout is not None
            side.stdin.write("\n")
            side.stdin.flush()
            line = side.stdout.readline()
            if not line:
                raise SystemExit(f"{name}: the side stopped")
            per_page[name].append(float(line))
    for side in sides.values():
        side.wait()
    medians = {name: statistics.median(values) for name, values in per_page.items()}
    for name, values in per_page.items():
        rounds = ", ".join(f"{value:.0f}" for value in values)
        print(f"{name:>14}: {medians[name]:7.0f} µs CPU per page (rounds: {rounds})")
    old, new = medians.values()
    print(f"{'new / old':>14}: {new / old:.2f}")
    print(json.dumps({"old_us": round(old), "new_us": round(new), "ratio": round(new / old, 3)}))


if __name__ == "__main__":
    main()
