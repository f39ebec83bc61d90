"""The one failure of the protocol: what is checked does not verify."""

from collections.abc import Sequence


class VerificationError(Exception):
    """A signature, a proof or a signed document fails a check; the message says which.

    `kind` names the document checked ("" for a bare proof or signature), `problem` is
    what a terminal shows, and `problems` lists every failed check in full.
    """

    def __init__(self, problem: str, *, kind: str = "", problems: Sequence[str] = ()) -> None:
        super().__init__(f"{kind}: {problem}" if kind else problem)
        self.kind = kind
        self.problem = problem
        self.problems = list(problems) or [problem]
