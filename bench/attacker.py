"""The attacker of `load.py --attacker`: the hostile documents of issue 17 in a loop, and
the side-by-side report of the buyers alone and beside it.

The documents are the fragment fan-out (each fragment spreading the next twice, n = 18 to
60) and a 15-alias `licences` query fanning out to certificates, manifests and files.
"""

import itertools
import time
from dataclasses import dataclass

import httpx

# A run's buyer errors and purchase p50 and p99 (milliseconds).
Figures = tuple[int, float, float]
FAN_OUT_DEPTHS = range(18, 61)
COSTLY_ALIASES = 15
COSTLY_LICENCES = (
    "query {"
    + "".join(
        f""" a{n}: licences(first: 100) {{ ... on LicenceConnection {{ items {{ certificate
        delivery {{ manifest files(first: 100) {{ items {{ sha256 downloadUrl }} }} }} }} }} }}"""
        for n in range(COSTLY_ALIASES)
    )
    + " }"
)


def fan_out(depth: int) -> str:
    """Each fragment spreads the next twice: 2**depth paths through a document of 1 KB."""
    spreads = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(depth)
    )
    return f"query {{ ...F0 }} {spreads} fragment F{depth} on Query {{ me {{ __typename }} }}"


@dataclass
class Attack:
    sent: int = 0
    # Answered with a GraphQL error or a 4xx: the gateway turned the document away.
    refused: int = 0
    # No answer, or a 5xx.
    failed: int = 0
    slowest: float = 0.0

    def summary(self) -> str:
        return (
            f"attacker: {self.sent} documents sent, {self.refused} refused, "
            f"{self.failed} failed or unanswered, slowest answer {self.slowest:.2f} s"
        )


async def attacker(deadline: float, gateway_url: str, key: str, attack: Attack) -> None:
    """The hostile documents in a loop, one at a time, on a connection of their own."""
    documents = itertools.cycle(
        document for depth in FAN_OUT_DEPTHS for document in (fan_out(depth), COSTLY_LICENCES)
    )
    async with httpx.AsyncClient(timeout=120) as http:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                response = await http.post(
                    gateway_url + "/graphql",
                    json={"query": next(documents)},
                    headers={"authorization": f"Bearer {key}"},
                )
                if response.status_code >= 500:
                    attack.failed += 1
                elif response.status_code >= 400 or response.json().get("errors"):
                    attack.refused += 1
            except httpx.HTTPError:
                attack.failed += 1
            attack.sent += 1
            attack.slowest = max(attack.slowest, time.perf_counter() - began)


def compare(alone: Figures, attacked: Figures) -> None:
    """The buyers' errors and purchase p50/p99, alone and beside the attacker, and their
    ratio."""
    print(f"\n{'buyers':<18} {'errors':>6} {'purchase p50 ms':>16} {'purchase p99 ms':>16}")
    figures = {"alone": alone, "beside attacker": attacked}
    for name, (errors, p50, p99) in figures.items():
        print(f"{name:<18} {errors:>6} {p50:>16.1f} {p99:>16.1f}")
    (_, p50_alone, p99_alone), (errors, p50, p99) = alone, attacked
    print(f"{'ratio':<18} {'':>6} {p50 / p50_alone:>16.2f} {p99 / p99_alone:>16.2f}")
    verdict = "met" if errors == 0 and p99 <= 1.2 * p99_alone else "not met"
    print(f"target (no buyer error beside the attacker, p99 within 20 %): {verdict}")
