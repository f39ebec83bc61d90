"""Labs buying at once on the embedded default (`assent up`: SQLite files, the local store).

Issue 17 found that on SQLite, where every transaction takes the write lock up front, a
relay holding its transaction open across a call to another process stalled licensing and
delivery on each other: with 8 labs buying at once, calls waited the 10 s timeout and some
answered `ServiceUnavailable` although they had committed.

`assent up` is started as an operator starts it. One creator lists three works; then each
lab runs `--rounds` rounds of createBundle, quoteBundle, purchase and an admin topUp. The
baseline is one lab alone, the measured run `--labs` labs at once, on the same stack. It
prints each run's calls, `ServiceUnavailable` answers, p50 and p99, and the ratio of the
p99s. Target: no `ServiceUnavailable`, and p99 under 1 s with 8 labs.

Usage: python bench/embedded_labs.py [--labs 8] [--rounds 3] [--port 18700]
"""

import argparse
import asyncio
import contextlib
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from scratch_market import Gateway, GraphQLFailed, list_work, percentile, register

CREATE_BUNDLE = """mutation($input: CreateBundleInput!) { createBundle(input: $input) {
  __typename ... on BundleCreated { bundle { id } } } }"""
QUOTE = """mutation($id: ID!) { quoteBundle(bundleId: $id) { __typename
  ... on QuoteIssued { quote { id } } } }"""
PURCHASE = """mutation($quote: ID!, $key: String!) {
  purchase(quoteId: $quote, idempotencyKey: $key) { __typename } }"""
TOP_UP = """mutation($buyer: ID!, $reference: String!) { topUp(buyerId: $buyer,
  amountMinor: 100000, currency: "EUR", reference: $reference) { __typename } }"""
ADMIN_KEY = re.compile(r"Admin API key \(shown once, keep it safe\): (\S+)")


@dataclass
class Waits:
    seconds: list[float] = field(default_factory=list)
    unavailable: int = 0

    def line(self, what: str) -> str:
        return (
            f"{what}: {len(self.seconds)} calls, {self.unavailable} ServiceUnavailable, "
            f"p50 {percentile(self.seconds, 0.5):.0f} ms, "
            f"p99 {percentile(self.seconds, 0.99):.0f} ms"
        )


@contextlib.contextmanager
def embedded_stack(port: int) -> Iterator[str]:
    """`assent up` on a scratch data folder; yields the admin key it printed."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "assent.cli", "up", "--data-dir", f"{scratch}/var"]
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert process.stdout is not None
            admin = ""
            for line in process.stdout:
                if match := ADMIN_KEY.search(line):
                    admin = match.group(1)
                if "Assent is ready" in line:
                    break
            else:
                raise SystemExit(f"assent up exited with code {process.wait()}")
            # Its log is read on, or the pipe fills and the stack blocks on writing it.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            yield admin
        finally:
            process.terminate()
            process.wait(timeout=30)


async def timed(
    gateway: Gateway, waits: Waits, query: str, variables: dict[str, Any], key: str
) -> dict[str, Any]:
    started = time.monotonic()
    data = await gateway.run(query, variables, key)
    waits.seconds.append(time.monotonic() - started)
    (answer,) = data.values()
    assert isinstance(answer, dict)
    if answer["__typename"] == "ServiceUnavailable":
        waits.unavailable += 1
    return answer


async def lab_rounds(
    gateway: Gateway, admin: str, lab: tuple[str, str], works: list[str], rounds: int, waits: Waits
) -> None:
    buyer_id, key = lab
    for _ in range(rounds):
        bundle_input = {"name": "embedded", "uses": ["TRAINING"], "workIds": works}
        bundle = await timed(gateway, waits, CREATE_BUNDLE, {"input": bundle_input}, key)
        if bundle["__typename"] != "BundleCreated":
            continue
        quoted = await timed(gateway, waits, QUOTE, {"id": bundle["bundle"]["id"]}, key)
        if quoted["__typename"] != "QuoteIssued":
            continue
        order = {"quote": quoted["quote"]["id"], "key": str(uuid.uuid4())}
        await timed(gateway, waits, PURCHASE, order, key)
        credit = {"buyer": buyer_id, "reference": f"embedded-{uuid.uuid4()}"}
        await timed(gateway, waits, TOP_UP, credit, admin)


async def funded(gateway: Gateway, admin: str, name: str) -> tuple[str, str]:
    buyer_id, key = await register(gateway, "BUYER", name, admin)
    await gateway.run(TOP_UP, {"buyer": buyer_id, "reference": f"seed-{buyer_id}"}, admin)
    return buyer_id, key


async def measure(port: int, admin: str, labs: int, rounds: int) -> None:
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=60) as http, Gateway(url, http, connections=64) as gateway:
        _, creator = await register(gateway, "CREATOR", "Embedded Creator", admin)
        works = [await list_work(gateway, creator, number) for number in range(3)]
        alone = Waits()
        lone = await funded(gateway, admin, "Lone Lab")
        await lab_rounds(gateway, admin, lone, works, rounds, alone)
        together = Waits()
        crowd = [await funded(gateway, admin, f"Crowd Lab {n}") for n in range(labs)]
        await asyncio.gather(
            *(lab_rounds(gateway, admin, lab, works, rounds, together) for lab in crowd)
        )
    print(alone.line("1 lab alone"))
    print(together.line(f"{labs} labs at once"))
    ratio = percentile(together.seconds, 0.99) / percentile(alone.seconds, 0.99)
    print(f"p99 ratio, {labs} labs / 1 lab: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=18700)
    arguments = parser.parse_args()
    with embedded_stack(arguments.port) as admin:
        try:
            asyncio.run(measure(arguments.port, admin, arguments.labs, arguments.rounds))
        except GraphQLFailed as failed:
            raise SystemExit(f"a call failed: {failed}") from failed


if __name__ == "__main__":
    main()
