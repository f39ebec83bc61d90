"""The platform's statements: the exact words a creator agrees to, kept here and nowhere
else. The portal shows them and the API accepts them by id and version.

A published version is never edited: consents point at its words by their sha256. Change
the words by adding a version and making it the current one of its scope; consents given
under an earlier version keep their words.
"""

from dataclasses import dataclass
from datetime import date
from functools import cached_property

from services.contracts.catalogue import StatementScope, statement_sha256


@dataclass(frozen=True)
class PublishedStatement:
    id: str
    version: str
    scope: StatementScope
    published_on: date
    text: str

    @cached_property
    def sha256(self) -> str:
        return statement_sha256(self.text)


OPT_IN_1 = PublishedStatement(
    id="opt-in",
    version="1",
    scope=StatementScope.OPT_IN,
    published_on=date(2026, 12, 1),
    text="""\
I opt in to my work being licensed through Assent, to buyers who pay the price I set, for \
the uses recorded with this consent and for nothing else. Those uses mean:
- Training new AI models: my work may be copied into the data a new AI model, or a new \
version of one, learns from.
- Fine-tuning existing models: my work may be used to adjust a model that has already been \
trained, for example to a style or a subject.
- Retrieval by AI systems: my work may be kept in an index that an AI system searches, and \
may quote or show when it answers.
- Testing models: my work may be used to measure how well a model performs, without \
training the model on it.
- Making synthetic data: my work may be used as an example from which new, artificial data \
is generated.
Each buyer's licence states its own terms and how long it lasts; I set them in my offer.
I can withdraw this work from sale at any time. Licences sold before then stay valid on \
their terms; no new buyer can license it.
I own or control the rights in this work, so I may give this consent. Where I say that \
the work depicts people who can be identified, I hold a release from each of them that \
allows these uses.""",
)

WITHDRAWAL_1 = PublishedStatement(
    id="withdrawal",
    version="1",
    scope=StatementScope.WITHDRAWAL,
    published_on=date(2026, 12, 1),
    text="""\
I withdraw my consent to my work being licensed through Assent. From now on no new buyer \
can license it. Licences sold before now stay valid on their terms.""",
)

PUBLISHED: dict[tuple[str, str], PublishedStatement] = {
    (statement.id, statement.version): statement for statement in (OPT_IN_1, WITHDRAWAL_1)
}
"""Every version ever published by (id, version), oldest first; old versions stay so that
they can be read."""

CURRENT: dict[StatementScope, PublishedStatement] = {
    StatementScope.OPT_IN: OPT_IN_1,
    StatementScope.WITHDRAWAL: WITHDRAWAL_1,
}
"""The version the platform asks a creator to agree to now, per scope."""
