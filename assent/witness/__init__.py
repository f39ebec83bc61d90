"""A transparency log witness (c2sp.org/tlog-witness) for the Assent audit log, or any log
that publishes C2SP checkpoints signed with Ed25519.

It keeps its own key and, per log, the last checkpoint it cosigned, in a data directory;
it cosigns a new checkpoint only once a consistency proof shows it extends that one, so
a log that shows two auditors two histories cannot have both cosigned by it.
`assent witness init|serve` (`assent/cli/_witness.py`) runs it.
"""

from ._server import MAX_BODY_BYTES, make_server
from ._state import Kept, WitnessSetupError, WitnessState, init_witness, load_signer
from ._witness import SIZE_CONTENT_TYPE, Answer, Witness

__all__ = [
    "MAX_BODY_BYTES",
    "SIZE_CONTENT_TYPE",
    "Answer",
    "Kept",
    "Witness",
    "WitnessSetupError",
    "WitnessState",
    "init_witness",
    "load_signer",
    "make_server",
]
