"""A service's signing keys over time: which key signs now, which signed at a given
moment, the history to publish, and rotation.

The history lives in the service's own database (`signing_key`), so every replica signs
with the same key. A rotation ends the open key and starts the next generation
`ROTATION_DELAY` later: a replica that read the open key just before the rotation
committed still signs inside that key's interval. A document is signed with the key
valid at its own signing time (`signer_at`), so a long build that began before a
rotation is signed by the key of its `issued_at`, and verifies.

Nothing is recorded until the service starts (`record_configured`) or an admin rotates:
until then the configured seed's key is the only one, open at both ends. A process whose
configured seed is new records the rotation to it at start, or at its first signature if
that comes first; one whose seed was replaced cannot sign.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import Signer, b64decode, b64encode
from services.contracts.signing import KeyRotated, PublicKeyRead
from services.kit.db import utcnow
from services.kit.errors import ServiceUnavailable
from services.kit.keyring._derive import SEED_BYTES, generation_seed, seed_id
from services.kit.keyring._tables import SigningKey

ROTATION_DELAY = timedelta(seconds=1)

OnRotated = Callable[[AsyncSession, KeyRotated], Awaitable[None]]
"""Logs a key's start in the caller's transaction (the outbox, or the log itself)."""


class SigningKeyUnavailable(ServiceUnavailable):
    """This process cannot sign: the key in force derives from a seed it does not hold."""


class Keyring:
    def __init__(
        self, seed: SecretStr, *, purpose: str, service: str, on_rotated: OnRotated
    ) -> None:
        raw = b64decode(seed.get_secret_value()) if seed.get_secret_value() else b""
        if len(raw) != SEED_BYTES:
            raise ValueError(f"the {purpose} signing key must be 32 bytes of base64 (Ed25519 seed)")
        self.purpose = purpose
        self._service = service
        self._seed = raw
        self._seed_id = seed_id(raw)
        self._on_rotated = on_rotated
        self._signers: dict[int, Signer] = {}

    def signer(self, generation: int = 0) -> Signer:
        """The key of a generation of the configured seed (0: the seed's own key)."""
        if generation not in self._signers:
            derived = generation_seed(self._seed, self.purpose, generation)
            self._signers[generation] = Signer(SecretStr(b64encode(derived)), purpose=self.purpose)
        return self._signers[generation]

    async def _history(self, session: AsyncSession) -> list[SigningKey]:
        rows = await session.scalars(
            select(SigningKey)
            .where(SigningKey.purpose == self.purpose)
            .order_by(SigningKey.recorded_at, SigningKey.generation)
        )
        return list(rows)

    async def history(self, session: AsyncSession) -> list[PublicKeyRead]:
        """Every key of the purpose, oldest first, with its interval."""
        rows = await self._history(session)
        if not rows:
            return [self.signer().published()]
        return [
            PublicKeyRead(
                key_id=row.key_id,
                purpose=row.purpose,
                public_key=row.public_key,
                valid_from=row.valid_from,
                valid_until=row.valid_until,
            )
            for row in rows
        ]

    async def signer_at(self, session: AsyncSession, moment: datetime | None = None) -> Signer:
        """The key to sign a document whose signing time is `moment` (default: now)."""
        moment = moment or utcnow()
        row = await session.scalar(
            select(SigningKey).where(
                SigningKey.purpose == self.purpose,
                or_(SigningKey.valid_from.is_(None), SigningKey.valid_from <= moment),
                or_(SigningKey.valid_until.is_(None), SigningKey.valid_until > moment),
            )
        )
        if row is None:
            if await session.scalar(select(SigningKey.key_id).limit(1)) is None:
                return self.signer()
            raise SigningKeyUnavailable(
                f"no {self.purpose} key is valid at {moment.isoformat()}", service=self._service
            )
        if row.seed_id != self._seed_id:
            # A seed never seen before takes over from here, as at start (`record_configured`,
            # which refuses a seed that was replaced).
            await self.record_configured(session, at=moment)
            return self.signer()
        return self.signer(row.generation)

    async def _open(self, session: AsyncSession) -> SigningKey | None:
        return await session.scalar(
            select(SigningKey)
            .where(SigningKey.purpose == self.purpose, SigningKey.valid_until.is_(None))
            .with_for_update()
        )

    async def record_configured(
        self, session: AsyncSession, *, at: datetime | None = None
    ) -> PublicKeyRead | None:
        """At start: the purpose's first key, or a rotation to a newly configured seed
        (which takes over at once, or `at`). The key recorded, or None when nothing changed.

        A seed that was configured before and has since been replaced is refused: the
        history never goes back to a retired key."""
        current = await self._open(session)
        if current is not None and current.seed_id == self._seed_id:
            return None
        if current is None:
            if await session.scalar(select(SigningKey.key_id).limit(1)) is not None:
                raise SigningKeyUnavailable(
                    f"the {self.purpose} key history has no open key", service=self._service
                )
            return await self._start(session, None, generation=0, at=None)
        retired = await session.scalar(
            select(SigningKey.key_id).where(SigningKey.seed_id == self._seed_id).limit(1)
        )
        if retired is not None:
            raise SigningKeyUnavailable(
                f"the configured {self.purpose} seed was replaced by another; configure the "
                "current one",
                service=self._service,
            )
        return await self._start(session, current, generation=0, at=at or utcnow())

    async def rotate(self, session: AsyncSession) -> PublicKeyRead:
        """The next generation of the configured seed, in force `ROTATION_DELAY` from now."""
        await self.record_configured(session)
        current = await self._open(session)
        assert current is not None  # recorded just above
        return await self._start(
            session, current, generation=current.generation + 1, at=utcnow() + ROTATION_DELAY
        )

    async def _start(
        self,
        session: AsyncSession,
        retired: SigningKey | None,
        *,
        generation: int,
        at: datetime | None,
    ) -> PublicKeyRead:
        signer = self.signer(generation)
        if retired is not None:
            retired.valid_until = at
            # The retired key closes before the new one opens: one open key per purpose.
            await session.flush()
        session.add(
            SigningKey(
                key_id=signer.key_id,
                purpose=self.purpose,
                public_key=signer.public_key_b64,
                seed_id=self._seed_id,
                generation=generation,
                valid_from=at,
                valid_until=None,
                recorded_at=utcnow(),
            )
        )
        await session.flush()
        await self._on_rotated(
            session,
            KeyRotated(
                purpose=self.purpose,
                key_id=signer.key_id,
                public_key=signer.public_key_b64,
                valid_from=at,
                retired_key_id=retired.key_id if retired is not None else None,
            ),
        )
        return signer.published(valid_from=at)
