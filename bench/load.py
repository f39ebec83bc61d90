"""N concurrent buyers against the whole stack on PostgreSQL and S3 for a fixed time, then
the marketplace's invariants.

Every process of the stack runs as `assent up` starts it, on a scratch PostgreSQL database,
with objects in S3 (a moto server on loopback, as the tests use). After listing `--works`
works and funding `--buyers` labs, each buyer repeats, until `--seconds` have passed:

1. search: a catalogue search (a word, a tag, the uses, a sort) through the gateway;
2. quote: a bundle of 1 to 3 of the works found, and its quote;
3. purchase: the quote bought under a fresh idempotency key;
4. download: once the delivery is issued, each file's link through the gateway (a
   redirect to a presigned S3 URL) and its bytes, checked against the manifest's sha256.

It prints, per step, the count, throughput, p50, p99 and errors (and how long a sale took
to be delivered), the CPU each process spent per purchase, the load average, and then
checks, once the stack has caught up: the ledger is sound (`ledgerCheck`); one licence,
one idempotency key and one charge per purchase made; every paid licence delivered; every
download recorded; the audit log holds every event relayed to it once, and its latest
signed checkpoint verifies with the published key and is the root of the stored log.
Exit status 1 when an invariant fails. Target: 50 buyers for 60 s, no error, purchase
p99 under 500 ms.

With no pause (the default) the buyers loop flat out: the stack is saturated, and every
step's latency is the number of buyers over the throughput. `--pause S` has each buyer wait
a random time of mean S seconds between rounds, as labs placing orders rather than a
benchmark loop would; the figures then show latency at that offered load.

`--attacker` runs the buyers twice on the same stack, first alone, then beside an
attacker who loops over the hostile documents of issue 17: the fragment fan-out (each
fragment spreading the next twice, n = 18 to 60) and a 15-alias `licences` query fanning
out to certificates, manifests and files, from a buyer who owns licences. It prints the
buyers' errors and purchase p50/p99 of both runs side by side and their ratio. Target: no
buyer error, and purchase p99 with the attacker within 20 % of the run without.

Usage: python bench/load.py [--buyers 50] [--seconds 60] [--pause 0] [--attacker] [--smoke]
"""

import argparse
import asyncio
import contextlib
import hashlib
import random
import sys
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import asyncpg
import httpx
from attacker import Attack, attacker, compare
from scratch_market import (
    LEDGER_CHECK,
    OUTBOX_SCHEMAS,
    USES,
    CpuSample,
    Gateway,
    GraphQLFailed,
    RunningMarket,
    funded_buyers,
    in_parallel,
    list_work,
    load_average,
    moto_s3,
    percentile,
    print_cpu,
    register,
    running_market,
    scratch_database,
    wait_drained,
)

from assent.protocol import leaf_hash, root_of, verify_envelope
from services.contracts.audit import CHECKPOINT_PAYLOAD_TYPE, Checkpoint, CheckpointRead
from services.contracts.signing import WELL_KNOWN_KEYS_PATH, PublishedKeys

T = TypeVar("T")
STEPS = ("search", "quote", "purchase", "download")
SERIES = 5

SEARCH = """query($filter: WorkFilter, $sort: SearchSort) {
  works(filter: $filter, sort: $sort, first: 20) { __typename
    ... on WorkConnection { items { id } } } }"""
CREATE_BUNDLE = """mutation($input: CreateBundleInput!) { createBundle(input: $input) {
  __typename ... on BundleCreated { bundle { id } } } }"""
QUOTE = """mutation($id: ID!) { quoteBundle(bundleId: $id) { __typename
  ... on QuoteIssued { quote { id } } } }"""
PURCHASE = """mutation($quote: ID!, $key: String!) {
  purchase(quoteId: $quote, idempotencyKey: $key) { __typename
    ... on PurchaseSucceeded { licence { id } } } }"""
DELIVERY = """query($id: ID!) { licence(id: $id) { __typename ... on Licence {
  delivery { id status } } } }"""
FILES = """query($id: ID!) { delivery(id: $id) { __typename ... on Delivery {
  files(first: 100) { items { sha256 downloadUrl } } } } }"""
CHECKPOINT = """{ auditCheckpoint { __typename ... on AuditCheckpoint { treeSize document } } }"""
ATTACKER_PURCHASES = 3


class StepFailed(Exception):
    """A step answered, but not with what a buyer expects."""


@dataclass
class Step:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Run:
    gateway: Gateway
    deadline: float
    # Mean seconds a buyer waits between rounds; 0 runs the stack saturated.
    pause: float = 0.0
    steps: dict[str, Step] = field(default_factory=lambda: {name: Step() for name in STEPS})
    delivered_after: list[float] = field(default_factory=list)
    licences: list[str] = field(default_factory=list)
    files_downloaded: int = 0

    async def timed(self, name: str, call: Awaitable[T], *, latency: bool = True) -> T:
        """The step's answer, with its latency recorded (unless `latency` is false); a
        failure is recorded and raised."""
        began = time.perf_counter()
        try:
            answer = await call
        except (GraphQLFailed, StepFailed, httpx.HTTPError, aiohttp.ClientError) as exc:
            self.steps[name].errors.append(f"{type(exc).__name__}: {exc}"[:300])
            raise
        if latency:
            self.steps[name].latencies.append(time.perf_counter() - began)
        return answer


def typename(data: dict[str, Any], expected: str) -> dict[str, Any]:
    if data.get("__typename") != expected:
        raise StepFailed(f"expected {expected}, got {data}")
    return data


async def search(gateway: Gateway, key: str, rng: random.Random) -> list[str]:
    variables = {
        "filter": {"query": "harbour", "tags": [f"series-{rng.randrange(SERIES)}"], "uses": USES},
        "sort": rng.choice(["RELEVANCE", "NEWEST", "PRICE_ASC"]),
    }
    found = typename((await gateway.run(SEARCH, variables, key))["works"], "WorkConnection")
    ids = [item["id"] for item in found["items"]]
    if not ids:
        raise StepFailed(f"the search found nothing: {variables}")
    return ids


async def quote(gateway: Gateway, key: str, works: list[str], rng: random.Random) -> str:
    chosen = rng.sample(works, min(len(works), rng.randint(1, 3)))
    bundle_input = {"name": "load", "uses": USES, "workIds": chosen}
    bundle = typename(
        (await gateway.run(CREATE_BUNDLE, {"input": bundle_input}, key))["createBundle"],
        "BundleCreated",
    )
    quoted = typename(
        (await gateway.run(QUOTE, {"id": bundle["bundle"]["id"]}, key))["quoteBundle"],
        "QuoteIssued",
    )
    quote_id: str = quoted["quote"]["id"]
    return quote_id


async def purchase(gateway: Gateway, key: str, quote_id: str) -> str:
    variables = {"quote": quote_id, "key": f"load-{uuid.uuid4()}"}
    bought = typename(
        (await gateway.run(PURCHASE, variables, key))["purchase"], "PurchaseSucceeded"
    )
    licence_id: str = bought["licence"]["id"]
    return licence_id


async def delivered_files(gateway: Gateway, key: str, licence_id: str) -> list[dict[str, Any]]:
    """The delivery's files once it is issued (the builder works after the sale commits)."""
    pause = 0.05
    for _ in range(600):
        answer = await gateway.run(DELIVERY, {"id": licence_id}, key)
        licence = typename(answer["licence"], "Licence")
        delivery = licence["delivery"]
        if delivery is not None and delivery["status"] != "BUILDING":
            if delivery["status"] != "ISSUED":
                raise StepFailed(f"the delivery ended {delivery['status']}")
            answer = await gateway.run(FILES, {"id": delivery["id"]}, key)
            files: list[dict[str, Any]] = typename(answer["delivery"], "Delivery")["files"]["items"]
            return files
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 0.5)
    raise StepFailed(f"licence {licence_id} was not delivered")


async def download(http: httpx.AsyncClient, key: str, files: list[dict[str, Any]]) -> int:
    """Each file through the gateway's redirect, its bytes checked; the count fetched."""
    for file in files:
        response = await http.get(
            file["downloadUrl"], headers={"authorization": f"Bearer {key}"}, follow_redirects=True
        )
        response.raise_for_status()
        if hashlib.sha256(response.content).hexdigest() != file["sha256"]:
            raise StepFailed(f"the bytes of {file['downloadUrl']} do not match the manifest")
    return len(files)


async def buyer(run: Run, key: str, seed: int) -> None:
    rng = random.Random(seed)
    gateway = run.gateway
    if run.pause > 0:
        # Paced buyers also arrive spread out, not as one burst at the start.
        await asyncio.sleep(rng.uniform(0, run.pause))
    while time.perf_counter() < run.deadline:
        # A failed step ends this round; the buyer starts another, as a lab would.
        with contextlib.suppress(GraphQLFailed, StepFailed, httpx.HTTPError, aiohttp.ClientError):
            works = await run.timed("search", search(gateway, key, rng))
            quote_id = await run.timed("quote", quote(gateway, key, works, rng))
            licence_id = await run.timed("purchase", purchase(gateway, key, quote_id))
            run.licences.append(licence_id)
            sold = time.perf_counter()
            # Waiting for the build is the builder's latency, reported on its own; the
            # download step proper is the links and bytes.
            waiting = delivered_files(gateway, key, licence_id)
            files = await run.timed("download", waiting, latency=False)
            run.delivered_after.append(time.perf_counter() - sold)
            fetched = await run.timed("download", download(gateway.http, key, files))
            run.files_downloaded += fetched
        if run.pause > 0:
            # Exponential waits, so the buyers' rounds do not fall into step.
            wait = rng.expovariate(1 / run.pause)
            await asyncio.sleep(max(0.0, min(wait, run.deadline - time.perf_counter())))


def report(run: Run, elapsed: float) -> None:
    print(f"{'step':<10} {'count':>6} {'per s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for name, step in run.steps.items():
        count = len(step.latencies)
        p50, p99 = percentile(step.latencies, 0.5), percentile(step.latencies, 0.99)
        errors = len(step.errors)
        print(f"{name:<10} {count:>6} {count / elapsed:>7.1f} {p50:>8.1f} {p99:>8.1f} {errors:>6}")
    delivered = run.delivered_after
    print(
        f"a sale was delivered {percentile(delivered, 0.5):.0f} ms (p50), "
        f"{percentile(delivered, 0.99):.0f} ms (p99) after its purchase answered"
    )
    for name, step in run.steps.items():
        for error in sorted(set(step.errors))[:3]:
            print(f"  {name} error: {error}")


async def check_invariants(
    market: RunningMarket, gateway: Gateway, admin: str, licences_bought: list[str], fetched: int
) -> list[str]:
    """What is wrong once the stack has caught up; empty when everything holds."""
    problems: list[str] = []
    ledger = (await gateway.run(LEDGER_CHECK, {}, admin))["ledgerCheck"]
    print(f"ledger: {ledger['transactions']} transactions, sound: {ledger['sound']}")
    if not ledger["sound"]:
        problems.append(f"the ledger is not sound: {ledger}")

    db = await asyncpg.connect(market.dsn)
    try:
        licences = await db.fetchval("SELECT count(*) FROM licensing.licence")
        keys = await db.fetchval("SELECT count(*) FROM licensing.purchase")
        charged_once = await db.fetchval(
            """SELECT count(*) FROM licensing.licence l WHERE (
                 SELECT count(*) FROM licensing.ledger_transaction t
                 WHERE t.licence_id = l.id AND t.kind = 'sale') = 1"""
        )
        print(
            f"licences: {licences} for {len(licences_bought)} purchases answered, "
            f"{keys} idempotency keys, {charged_once} charged exactly once"
        )
        answered = len(licences_bought)
        if not licences == keys == charged_once == len(set(licences_bought)) == answered:
            problems.append("licences, keys, charges and purchases answered differ")

        issued = await db.fetchval(
            "SELECT count(*) FROM delivery.delivery"
            " WHERE status = 'issued' AND issued_at IS NOT NULL"
        )
        print(f"deliveries issued: {issued} of {licences} licences")
        if issued != licences:
            problems.append(f"{licences - issued} paid licence(s) not delivered")
        downloads = await db.fetchval("SELECT count(*) FROM delivery.download")
        print(f"downloads recorded: {downloads} for {fetched} files fetched")
        if downloads != fetched:
            problems.append("the downloads recorded are not those the buyers made")

        relayed = 0
        for schema in OUTBOX_SCHEMAS:
            relayed += await db.fetchval(
                f"SELECT count(DISTINCT event_id) FROM {schema}.outbox_delivery"  # noqa: S608
                " WHERE destination = 'audit'"
            )
        logged = await db.fetchval("SELECT count(*) FROM audit.log_entry")
        distinct = await db.fetchval("SELECT count(DISTINCT event_id) FROM audit.log_entry")
        print(f"audit log: {logged} entries for {relayed} events relayed to it")
        if not logged == distinct == relayed:
            problems.append("the audit log does not hold every relayed event exactly once")
        problems += await check_log(gateway, db, admin, logged)
    finally:
        await db.close()
    return problems


async def check_log(gateway: Gateway, db: asyncpg.Connection, admin: str, logged: int) -> list[str]:
    """The latest signed checkpoint covers the whole log, verifies with the published
    key, and its root is that of the stored entries."""
    for _ in range(100):
        found = typename(
            (await gateway.run(CHECKPOINT, {}, admin))["auditCheckpoint"], "AuditCheckpoint"
        )
        if found["treeSize"] == logged:
            break
        # Checkpoints are signed at most once a second.
        await asyncio.sleep(0.2)
    else:
        return [f"no checkpoint covers the {logged} entries of the log"]
    read = CheckpointRead.model_validate_json(found["document"])
    published = PublishedKeys.model_validate(
        (await gateway.http.get(gateway.base_url + WELL_KNOWN_KEYS_PATH)).json()
    )
    payload, _key = verify_envelope(
        read.envelope, published.keys, payload_type=CHECKPOINT_PAYLOAD_TYPE
    )
    signed = Checkpoint.model_validate_json(payload)
    entries = await db.fetch("SELECT entry FROM audit.log_entry ORDER BY leaf_index")
    root = root_of([leaf_hash(bytes(row["entry"])) for row in entries]).hex()
    print(
        f"audit checkpoint: size {signed.tree_size}, signature verified, root matches: "
        f"{root == signed.root_hash}"
    )
    if signed != read.checkpoint or root != signed.root_hash:
        return ["the signed checkpoint is not the root of the stored log"]
    return []


async def licensed_attacker(gateway: Gateway, admin: str) -> tuple[str, list[str]]:
    """A buyer owning a few delivered licences, so the costly query has them to fan out over."""
    [(_, key)] = await funded_buyers(gateway, admin, 1)
    rng = random.Random(-1)
    licences = []
    for _ in range(ATTACKER_PURCHASES):
        works = await search(gateway, key, rng)
        licences.append(await purchase(gateway, key, await quote(gateway, key, works, rng)))
        await delivered_files(gateway, key, licences[-1])
    return key, licences


async def phase(
    market: RunningMarket,
    gateway: Gateway,
    keys: list[str],
    args: argparse.Namespace,
    *,
    attacker_key: str | None,
) -> Run:
    """The buyers for `--seconds`, beside the attacker when given its key; reported once the
    stack has caught up."""
    before = await CpuSample.of(market)
    started = time.perf_counter()
    run = Run(gateway=gateway, deadline=started + args.seconds, pause=args.pause)
    attack = Attack()
    attacking = (
        []
        if attacker_key is None
        else [attacker(run.deadline, gateway.base_url, attacker_key, attack)]
    )
    await asyncio.gather(*(buyer(run, key, seed) for seed, key in enumerate(keys)), *attacking)
    elapsed = time.perf_counter() - started
    catch_up = await wait_drained(market.dsn, within=300)
    spent = (await CpuSample.of(market)).since(before)
    pacing = f"a mean pause of {args.pause:g} s between rounds" if args.pause else "no pause"
    beside = " beside the attacker" if attacker_key else ""
    print(
        f"\n{len(keys)} buyers{beside}, {pacing}, for {elapsed:.1f} s "
        f"(load average {load_average()}):"
    )
    report(run, elapsed)
    if attacker_key:
        print(attack.summary())
    print(f"every sale delivered and logged {catch_up:.1f} s after the last step")
    # Per round of the four steps, each ending in a purchase.
    print_cpu(spent, per=max(1, len(run.licences)), what="round")
    return run


def errors_and_purchase_latency(run: Run) -> tuple[int, float, float]:
    latencies = run.steps["purchase"].latencies
    errors = sum(len(step.errors) for step in run.steps.values())
    return errors, percentile(latencies, 0.5), percentile(latencies, 0.99)


async def measure(market: RunningMarket, args: argparse.Namespace) -> list[str]:
    admin = market.admin_key
    connections = args.buyers * 2
    # Idle connections dropped before uvicorn's own 5 s keep-alive ends: reusing one the
    # server is closing at that moment fails the request with a ReadError.
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=4.0
    )
    async with (
        httpx.AsyncClient(limits=limits, timeout=60) as http,
        Gateway(market.stack.gateway_url, http, connections=connections) as gateway,
    ):
        started = time.perf_counter()
        _, creator = await register(gateway, "CREATOR", "Load Creator", admin)
        await in_parallel([list_work(gateway, creator, n) for n in range(args.works)], 16)
        keys = [key for _, key in await funded_buyers(gateway, admin, args.buyers)]
        attacker_key, bought = (
            await licensed_attacker(gateway, admin) if args.attacker else (None, [])
        )
        await wait_drained(market.dsn, within=120)
        print(
            f"listed {args.works} works, funded {args.buyers} buyers in "
            f"{time.perf_counter() - started:.1f} s"
        )
        runs = [await phase(market, gateway, keys, args, attacker_key=None)]
        if attacker_key:
            runs.append(await phase(market, gateway, keys, args, attacker_key=attacker_key))
            compare(*map(errors_and_purchase_latency, runs))
        else:
            errors, _, purchase_p99 = errors_and_purchase_latency(runs[0])
            verdict = "met" if errors == 0 and purchase_p99 < 500 else "not met"
            print(f"target (no error, purchase p99 < 500 ms): {verdict}")
        bought += [licence for run in runs for licence in run.licences]
        fetched = sum(run.files_downloaded for run in runs)
        return await check_invariants(market, gateway, admin, bought, fetched)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--buyers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--works", type=int, default=100)
    parser.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="mean seconds each buyer waits between rounds (0: none, the stack saturated)",
    )
    parser.add_argument(
        "--attacker",
        action="store_true",
        help="run twice: the buyers alone, then beside an attacker sending hostile documents",
    )
    parser.add_argument("--port", type=int, default=18600)
    parser.add_argument(
        "--smoke", action="store_true", help="a short run: 5 buyers, 10 s, 20 works"
    )
    args = parser.parse_args()
    if args.smoke:
        args.buyers, args.seconds, args.works = 5, 10, 20
    with (
        moto_s3() as storage,
        scratch_database("assent_load") as dsn,
        running_market(dsn, port=args.port, settings=storage) as market,
    ):
        problems = asyncio.run(measure(market, args))
    for problem in problems:
        print(f"INVARIANT FAILED: {problem}")
    print("invariants: " + ("hold" if not problems else f"{len(problems)} failed"))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
