"""The catalogue's rules: works and their files, consent, offers, the listing, search.

A work is listed (offered to buyers) only while it has a complete current version, is
clear of review, its newest consent is in force, its current offer asks for no use
beyond that consent, and it is not withdrawn. The listing is recomputed on every change
and stored on the work row, so the search never joins the consent or offer history.
"""

import hashlib
import math
import unicodedata
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.errors import (
    ConsentNotInForce,
    ConsentRequired,
    NoPendingUpload,
    NotUnderReview,
    SingleUpload,
    UploadClosed,
    WorkWithdrawn,
)
from services.catalogue.models import (
    Consent,
    Offer,
    Share,
    Work,
    WorkVersion,
    uses_mask,
)
from services.catalogue.repository import (
    ConsentRepository,
    CreatorRepository,
    OfferRepository,
    SearchFilters,
    TermsRepository,
    VersionRepository,
    WorkRepository,
)
from services.catalogue.signals import terms_signals
from services.catalogue.terms import canonical_json, terms_id
from services.contracts.catalogue import (
    ACCOUNTS_ISSUER,
    BASIS_POINTS_WHOLE,
    CURRENCY_MINOR_DIGITS,
    ConsentIn,
    ConsentKind,
    ConsentRead,
    ConsentRecorded,
    ConsentWithdrawIn,
    CreatorRead,
    FileIn,
    OfferIn,
    OfferPublished,
    OfferRead,
    PartsIn,
    PresignedPart,
    PresignedPut,
    ReviewDecision,
    ReviewStatus,
    SearchSort,
    ShareIn,
    TermsSignals,
    UploadCompleted,
    UploadedPartRead,
    UploadMethod,
    UploadTarget,
    Use,
    VersionStatus,
    WorkCreate,
    WorkCreated,
    WorkPage,
    WorkRead,
    WorkSearch,
    WorkStatus,
)
from services.contracts.catalogue import (
    WorkWithdrawn as WorkWithdrawnEvent,
)
from services.contracts.events import AccountRegistered, AccountRoleGranted, Topic
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import (
    FieldError,
    Forbidden,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
)
from services.kit.internal_token import Caller
from services.kit.outbox import emit
from storage.keys import work_version_key
from storage.object_store import (
    MAX_PART_NUMBER,
    ChecksumMismatch,
    InvalidPart,
    MiB,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    StorageSettings,
    StorageUnavailable,
    UploadNotFound,
)

log = structlog.get_logger()

UPLOAD_URL_LIFETIME = timedelta(hours=1)
NOT_UPLOADED = "the file was not uploaded"
REPLACED = "replaced by a newer upload before it completed"
CONSENT_TOPICS = {
    ConsentKind.GIVEN: Topic.CONSENT_GIVEN,
    ConsentKind.REVISED: Topic.CONSENT_REVISED,
    ConsentKind.WITHDRAWN: Topic.CONSENT_WITHDRAWN,
}


@dataclass(frozen=True)
class Storage:
    """The object store the catalogue's files go to, with its upload sizes."""

    store: ObjectStore
    settings: StorageSettings


def account_id(caller: Caller) -> uuid.UUID | None:
    """The caller's account, or None for a caller that is not an account (anonymous)."""
    try:
        return uuid.UUID(caller.subject)
    except ValueError:
        return None


def sees_every_work(caller: Caller) -> bool:
    return caller.has(Role.ADMIN, Role.AUDITOR, Role.SERVICE)


def is_visible(work: Work | WorkRead, caller: Caller) -> bool:
    """Buyers see listed works only; members (the owner and the co-creators), admins and
    auditors see every state."""
    members = (share.creator_id for share in work.shares)
    return _visible(caller, listed=work.listed, owner_id=work.owner_id, members=members)


def _visible(
    caller: Caller, *, listed: bool, owner_id: uuid.UUID, members: Iterable[uuid.UUID]
) -> bool:
    if listed or sees_every_work(caller):
        return True
    member = account_id(caller)
    return member is not None and (member == owner_id or member in members)


def refresh_listing(work: Work) -> None:
    offer, consent = work.offer, work.consent
    offered = set(offer.terms.uses) if offer is not None else set()
    work.price_minor = offer.price_minor if offer is not None else None
    work.currency = offer.currency if offer is not None else None
    work.offer_uses = uses_mask(sorted(offered))
    work.listed = (
        work.status == WorkStatus.READY
        and work.review_status == ReviewStatus.CLEAR
        and consent is not None
        and consent.in_force
        and offer is not None
        and offered <= {Use(use) for use in consent.uses}
    )


def canonical_language(tag: str) -> str:
    """BCP 47 casing (`en-GB`, `zh-Hant-TW`), so that one language is one value."""
    primary, *rest = tag.split("-")
    subtags = [primary.lower()]
    for subtag in rest:
        if len(subtag) == 4 and subtag.isalpha():
            subtags.append(subtag.title())
        elif (len(subtag) == 2 and subtag.isalpha()) or (len(subtag) == 3 and subtag.isdigit()):
            subtags.append(subtag.upper())
        else:
            subtags.append(subtag.lower())
    return "-".join(subtags)


def refuse_nul(**texts: str | Sequence[str]) -> None:
    """PostgreSQL text cannot hold a NUL: refuse it as bad input rather than fail later."""
    problems = []
    for name, value in texts.items():
        values = [value] if isinstance(value, str) else list(value)
        for index, text in enumerate(values):
            if "\x00" in text:
                field = name if isinstance(value, str) else f"{name}.{index}"
                problems.append(FieldError(field, "contains a NUL character", "nul_character"))
    if problems:
        raise InvalidRequest("the text is not valid", fields=problems)


def _searchable(query: str | None) -> str | None:
    """The query without control characters (which mean nothing to a search), or None."""
    cleaned = "".join(" " if unicodedata.category(c) == "Cc" else c for c in query or "")
    return cleaned.strip() or None


def _sorted_uses(uses: Sequence[Use]) -> list[Use]:
    return sorted(set(uses))


def _work_read(work: Work) -> WorkRead:
    return WorkRead.model_validate(work)


@asynccontextmanager
async def _storage_calls() -> AsyncIterator[None]:
    try:
        yield
    except StorageUnavailable as exc:
        raise ServiceUnavailable("the object store is unavailable; try again") from exc


@dataclass(frozen=True)
class _Upload:
    """Where a version's bytes go in the store, and how they are sent."""

    key: str
    method: UploadMethod
    upload_id: str | None
    part_size: int | None
    part_count: int | None


async def _discard(version: WorkVersion, store: ObjectStore) -> None:
    """Remove a replaced upload's bytes; best effort, since the replacement is committed."""
    try:
        if version.upload_id is not None:
            await store.abort_multipart(version.object_key, version.upload_id)
        else:
            await store.delete(version.object_key)
    except StorageError as exc:
        log.info(
            "catalogue.upload.discard_failed",
            version_id=str(version.id),
            error=f"{type(exc).__name__}: {exc}",
        )


class _NotYet(Exception):
    """The bytes are not all there yet: nothing changes, the client may resume."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Rejected(Exception):
    """The stored bytes are not the declared file: the version fails for good."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CreatorService:
    async def ensure_caller(self, session: AsyncSession, caller: Caller) -> None:
        """A creator acting before `account.registered` arrives is in the directory at once."""
        creator_id = account_id(caller)
        if creator_id is not None and caller.has(Role.CREATOR):
            await CreatorRepository(session).upsert(creator_id, caller.name)

    async def record_confirmed(
        self, session: AsyncSession, caller: Caller, work_in: WorkCreate
    ) -> None:
        """Co-creators the gateway, which owns the accounts, confirmed are creators: in the
        directory at once, though their `account.registered` may not have arrived yet."""
        if caller.issuer != ACCOUNTS_ISSUER:
            return
        named = {share.creator_id for share in work_in.shares}
        creators = CreatorRepository(session)
        for creator in work_in.confirmed_creators:
            if creator.id in named:
                await creators.upsert(creator.id, creator.name)

    async def record_registration(
        self, session: AsyncSession, registered: AccountRegistered
    ) -> None:
        if Role.CREATOR in registered.roles:
            await CreatorRepository(session).upsert(registered.account_id, registered.name)

    async def record_role_grant(self, session: AsyncSession, granted: AccountRoleGranted) -> None:
        """An account that becomes a creator later joins the directory then."""
        if granted.role == Role.CREATOR:
            await CreatorRepository(session).upsert(granted.account_id, granted.name)

    async def get_many(self, session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[CreatorRead]:
        """Creator names are public to every caller: they are the works' attribution."""
        unique = list(dict.fromkeys(ids))
        found = {c.id: c for c in await CreatorRepository(session).get_many(unique)}
        return [CreatorRead.model_validate(found[i]) for i in unique if i in found]


creator_service = CreatorService()


class WorkService:
    # --- works and their files ---

    async def create(
        self, session: AsyncSession, caller: Caller, work_in: WorkCreate, *, storage: Storage
    ) -> WorkCreated:
        owner_id = self._require_account(caller)
        if not caller.has(Role.CREATOR):
            raise Forbidden("only a creator may list a work")
        refuse_nul(
            title=work_in.title,
            description=work_in.description,
            tags=work_in.tags,
            file_name=work_in.file_name,
        )
        await creator_service.ensure_caller(session, caller)
        await creator_service.record_confirmed(session, caller, work_in)
        shares = await self._checked_shares(session, owner_id, work_in.shares)
        # The directory's entries stand on their own. Committed now, so that no transaction
        # stays open while the store opens the upload.
        await session.commit()
        work_id, version_id = uuid.uuid4(), uuid.uuid4()
        upload = await self._open_in_store(work_id, version_id, work_in, storage=storage)
        work = Work(
            id=work_id,
            owner_id=owner_id,
            title=work_in.title.strip(),
            description=work_in.description,
            media_type=work_in.media_type,
            tags=list(dict.fromkeys(work_in.tags)),
            language=canonical_language(work_in.language),
            status=WorkStatus.PENDING_UPLOAD,
            review_status=ReviewStatus.CLEAR,
            created_at=utcnow(),
            listed=False,
            offer_uses=0,
            shares=[
                Share(creator_id=creator_id, position=position, basis_points=points)
                for position, (creator_id, points) in enumerate(shares)
            ],
        )
        await WorkRepository(session).create(work)
        version = await self._record_version(session, work, version_id, work_in, upload)
        target = await self._target(work, version, storage=storage, uploaded=[])
        return WorkCreated(work=await self._read(session, work.id), upload=target)

    async def new_version(
        self,
        session: AsyncSession,
        caller: Caller,
        work_id: uuid.UUID,
        file: FileIn,
        *,
        storage: Storage,
    ) -> UploadTarget:
        refuse_nul(file_name=file.file_name)
        work = await self._owned(session, caller, work_id, lock=False)
        self._require_not_withdrawn(work)
        # Ended before the store opens the new upload: no transaction stays open across it.
        await session.commit()
        version_id = uuid.uuid4()
        upload = await self._open_in_store(work.id, version_id, file, storage=storage)
        work = await self._owned_for_change(session, caller, work_id)
        self._require_not_withdrawn(work)
        replaced = work.pending_version
        if replaced is not None and replaced.status != VersionStatus.PENDING:
            replaced = None
        if replaced is not None:
            replaced.status = VersionStatus.FAILED
            replaced.failure_reason = REPLACED
        version = await self._record_version(session, work, version_id, file, upload)
        target = await self._target(work, version, storage=storage, uploaded=[])
        if replaced is not None:
            # Its bytes go once the replacement is committed; left behind if the store
            # fails now, they are no version's and nothing serves them.
            await session.commit()
            await _discard(replaced, storage.store)
        return target

    async def upload_target(
        self, session: AsyncSession, caller: Caller, work_id: uuid.UUID, *, storage: Storage
    ) -> UploadTarget:
        work = await self._owned(session, caller, work_id, lock=False)
        version = self._open_upload(work)
        # The parts are listed outside any transaction.
        await session.commit()
        uploaded: list[UploadedPartRead] = []
        if version.upload_id is not None:
            async with _storage_calls():
                try:
                    parts = await storage.store.list_parts(version.object_key, version.upload_id)
                except UploadNotFound as exc:
                    raise UploadClosed("the upload is no longer open; start a new version") from exc
            uploaded = [
                UploadedPartRead(part_number=p.part_number, size=p.size, sha256=p.sha256)
                for p in parts
            ]
        return await self._target(work, version, storage=storage, uploaded=uploaded)

    async def presign_parts(
        self,
        session: AsyncSession,
        caller: Caller,
        work_id: uuid.UUID,
        parts_in: PartsIn,
        *,
        storage: Storage,
    ) -> list[PresignedPart]:
        work = await self._owned(session, caller, work_id, lock=False)
        version = self._open_upload(work)
        if version.upload_id is None or version.part_count is None:
            raise SingleUpload("this file goes up in one PUT; it has no parts")
        beyond = [
            FieldError(
                f"parts.{index}.part_number",
                f"this upload has parts 1 to {version.part_count}",
                "out_of_range",
            )
            for index, part in enumerate(parts_in.parts)
            if part.part_number > version.part_count
        ]
        if beyond:
            raise InvalidRequest("some parts are not part of this upload", fields=beyond)
        presigned = []
        async with _storage_calls():
            for part in parts_in.parts:
                request = await storage.store.presign_upload_part(
                    version.object_key,
                    version.upload_id,
                    part.part_number,
                    expires_in=UPLOAD_URL_LIFETIME,
                    sha256=part.sha256,
                )
                presigned.append(
                    PresignedPart(
                        part_number=part.part_number,
                        url=request.url,
                        headers=request.headers,
                        expires_at=request.expires_at,
                    )
                )
        return presigned

    async def complete_upload(
        self, session: AsyncSession, caller: Caller, work_id: uuid.UUID, *, storage: Storage
    ) -> UploadCompleted:
        work = await self._owned(session, caller, work_id, lock=False)
        self._require_not_withdrawn(work)
        checked = self._open_upload(work)
        # The stored bytes are checked (hashing a large file takes a while) outside any
        # transaction; the outcome is then applied to the work as it is by then.
        await session.commit()
        outcome: _NotYet | _Rejected | None = None
        try:
            async with _storage_calls():
                await self._verify(checked, storage.store)
        except (_NotYet, _Rejected) as found:
            outcome = found
        version_id = checked.id
        work = await self._owned_for_change(session, caller, work_id)
        self._require_not_withdrawn(work)
        current = work.current_version
        if work.pending_version is None and current is not None and current.id == version_id:
            # Another call completed the same upload meanwhile: the same answer.
            return UploadCompleted(work=_work_read(work), completed=True, reason=None)
        version = self._open_upload(work)
        if version.id != version_id:
            raise UploadClosed("a newer upload replaced this one; send the new one")
        if isinstance(outcome, _NotYet):
            return UploadCompleted(work=_work_read(work), completed=False, reason=outcome.reason)
        if isinstance(outcome, _Rejected):
            version.status = VersionStatus.FAILED
            version.failure_reason = outcome.reason
            await session.flush()
            return UploadCompleted(
                work=await self._read(session, work.id), completed=False, reason=outcome.reason
            )
        version.status = VersionStatus.COMPLETE
        version.completed_at = utcnow()
        work.current_version = version
        work.pending_version = None
        work.status = WorkStatus.READY
        if await VersionRepository(session).held_by_another_creator(version.sha256, work.owner_id):
            # Someone else listed these exact bytes: hidden from buyers until reviewed.
            work.review_status = ReviewStatus.FLAGGED
        refresh_listing(work)
        await session.flush()
        return UploadCompleted(work=await self._read(session, work.id), completed=True, reason=None)

    # --- consent ---

    async def give_consent(
        self, session: AsyncSession, caller: Caller, work_id: uuid.UUID, consent_in: ConsentIn
    ) -> ConsentRead:
        refuse_nul(
            statement_text=consent_in.statement_text,
            statement_version=consent_in.statement_version,
        )
        work = await self._owned_for_change(session, caller, work_id)
        self._require_not_withdrawn(work)
        previous = work.consent
        kind = (
            ConsentKind.REVISED if previous is not None and previous.in_force else ConsentKind.GIVEN
        )
        return await self._record_consent(
            session,
            caller,
            work,
            kind=kind,
            uses=_sorted_uses(consent_in.uses),
            statement_text=consent_in.statement_text,
            statement_version=consent_in.statement_version,
        )

    async def withdraw_consent(
        self,
        session: AsyncSession,
        caller: Caller,
        work_id: uuid.UUID,
        withdrawal: ConsentWithdrawIn,
    ) -> ConsentRead:
        refuse_nul(statement_text=withdrawal.statement_text)
        # Allowed on a withdrawn work too: a creator may always put the withdrawal on record.
        work = await self._owned_for_change(session, caller, work_id)
        previous = work.consent
        if previous is None or not previous.in_force:
            raise ConsentNotInForce("this work has no consent in force to withdraw")
        return await self._record_consent(
            session,
            caller,
            work,
            kind=ConsentKind.WITHDRAWN,
            uses=[],
            statement_text=withdrawal.statement_text,
            statement_version=previous.statement_version,
        )

    # --- offers ---

    async def set_offer(
        self, session: AsyncSession, caller: Caller, work_id: uuid.UUID, offer_in: OfferIn
    ) -> OfferRead:
        work = await self._owned_for_change(session, caller, work_id)
        self._require_not_withdrawn(work)
        consent = work.consent
        if consent is None or not consent.in_force:
            raise ConsentRequired("record the creator's consent before offering the work")
        problems = []
        if offer_in.currency not in CURRENCY_MINOR_DIGITS:
            problems.append(
                FieldError(
                    "currency",
                    f"offers are in one of {', '.join(sorted(CURRENCY_MINOR_DIGITS))}",
                    "unknown_currency",
                )
            )
        beyond_consent = set(offer_in.terms.uses) - {Use(use) for use in consent.uses}
        if beyond_consent:
            problems.append(
                FieldError(
                    "terms.uses",
                    f"not consented to: {', '.join(sorted(beyond_consent))}",
                    "not_consented",
                )
            )
        if problems:
            raise InvalidRequest("the offer is not valid", fields=problems)
        canonical = canonical_json(offer_in.terms)
        terms = await TermsRepository(session).ensure(terms_id(canonical), canonical)
        offer = await OfferRepository(session).create(
            Offer(
                id=uuid.uuid4(),
                work_id=work.id,
                terms_id=terms.id,
                terms_record=terms,
                price_minor=offer_in.price_minor,
                currency=offer_in.currency,
                published_by=self._require_account(caller),
                published_at=utcnow(),
            )
        )
        work.offer = offer
        refresh_listing(work)
        await session.flush()
        read = OfferRead.model_validate(offer)
        emit(
            session,
            Topic.OFFER_PUBLISHED,
            OfferPublished(
                offer_id=read.id,
                work_id=read.work_id,
                price_minor=read.price_minor,
                currency=read.currency,
                terms_id=read.terms_id,
                terms=read.terms,
                published_at=read.published_at,
            ),
        )
        return read

    # --- withdrawal and review ---

    async def withdraw(self, session: AsyncSession, caller: Caller, work_id: uuid.UUID) -> WorkRead:
        work = await self._visible(session, caller, work_id, lock=True)
        if work.owner_id != account_id(caller) and not caller.has(Role.ADMIN):
            raise Forbidden("only the work's owner or an admin may withdraw it")
        if work.status != WorkStatus.WITHDRAWN:
            self._withdraw(session, caller, work)
            await session.flush()
        return await self._read(session, work.id)

    async def review(
        self,
        session: AsyncSession,
        caller: Caller,
        work_id: uuid.UUID,
        decision: ReviewDecision,
    ) -> WorkRead:
        work = await self._visible(session, caller, work_id, lock=True)
        if not caller.has(Role.ADMIN):
            raise Forbidden("only an admin reviews flagged works")
        refuse_nul(note=decision.note)
        if work.review_status != ReviewStatus.FLAGGED or work.status == WorkStatus.WITHDRAWN:
            raise NotUnderReview("this work is not awaiting a review")
        work.review_note = decision.note
        work.reviewed_by = account_id(caller)
        work.reviewed_at = utcnow()
        if decision.accept:
            work.review_status = ReviewStatus.CLEAR
            refresh_listing(work)
        else:
            # Refused: the file is someone else's, so it leaves the catalogue for good.
            self._withdraw(session, caller, work)
        await session.flush()
        return await self._read(session, work.id)

    # --- reads ---

    async def get(self, session: AsyncSession, caller: Caller, work_id: uuid.UUID) -> WorkRead:
        return _work_read(await self._visible(session, caller, work_id, lock=False))

    async def get_many(
        self, session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]
    ) -> list[WorkRead]:
        """The works the caller may see, in the order asked."""
        works = await WorkRepository(session).read_many(list(dict.fromkeys(ids)))
        return [work for work in works if is_visible(work, caller)]

    async def signals(
        self, session: AsyncSession, caller: Caller, work_id: uuid.UUID
    ) -> TermsSignals:
        return terms_signals(await self._visible(session, caller, work_id, lock=False))

    async def search(self, session: AsyncSession, caller: Caller, search: WorkSearch) -> WorkPage:
        query = _searchable(search.query)
        refuse_nul(language=search.language or "", tags=search.tags)
        sort = search.sort or (SearchSort.RELEVANCE if query else SearchSort.NEWEST)
        problems = []
        if sort == SearchSort.RELEVANCE and query is None:
            problems.append(FieldError("sort", "relevance needs a query", "needs_query"))
        if search.max_price_minor is not None and search.currency is None:
            problems.append(FieldError("currency", "a maximum price needs a currency", "required"))
        if search.currency is not None and search.currency not in CURRENCY_MINOR_DIGITS:
            problems.append(
                FieldError("currency", "no offer is in this currency", "unknown_currency")
            )
        if problems:
            raise InvalidRequest("the search is not valid", fields=problems)
        member_id = account_id(caller) if search.mine else None
        if search.mine and member_id is None:
            return WorkPage(items=[], next_cursor=None)
        filters = SearchFilters(
            query=query,
            member_id=member_id,
            media_types=frozenset(search.media_types),
            uses_mask=uses_mask(search.uses),
            max_price_minor=search.max_price_minor,
            currency=search.currency,
            creator_id=search.creator_id,
            language=canonical_language(search.language) if search.language else None,
            tags=tuple(dict.fromkeys(search.tags)),
        )
        works = WorkRepository(session)
        page = await works.search(filters, sort=sort, after=search.after, limit=search.first)
        return WorkPage(items=await works.read_many(page.ids), next_cursor=page.next_cursor)

    # --- helpers ---

    def _require_account(self, caller: Caller) -> uuid.UUID:
        found = account_id(caller)
        if found is None:
            raise Forbidden("only an account may change the catalogue")
        return found

    def _require_not_withdrawn(self, work: Work) -> None:
        if work.status == WorkStatus.WITHDRAWN:
            raise WorkWithdrawn("this work has been withdrawn")

    async def _read(self, session: AsyncSession, work_id: uuid.UUID) -> WorkRead:
        work = await WorkRepository(session).get_for_read(work_id)
        assert work is not None
        return _work_read(work)

    async def _visible(
        self, session: AsyncSession, caller: Caller, work_id: uuid.UUID, *, lock: bool
    ) -> Work:
        """The work if the caller may see it; otherwise 404, never revealing that it exists."""
        works = WorkRepository(session)
        work = await (works.lock(work_id) if lock else works.get_for_read(work_id))
        if work is None or not is_visible(work, caller):
            raise NotFound("no such work")
        return work

    async def _owned(
        self, session: AsyncSession, caller: Caller, work_id: uuid.UUID, *, lock: bool
    ) -> Work:
        work = await self._visible(session, caller, work_id, lock=lock)
        if work.owner_id != account_id(caller):
            raise Forbidden("only the work's owner may change it")
        return work

    async def _owned_for_change(
        self, session: AsyncSession, caller: Caller, work_id: uuid.UUID
    ) -> Work:
        work = await self._owned(session, caller, work_id, lock=True)
        await creator_service.ensure_caller(session, caller)
        return work

    async def _checked_shares(
        self, session: AsyncSession, owner_id: uuid.UUID, shares: Sequence[ShareIn]
    ) -> list[tuple[uuid.UUID, int]]:
        if not shares:
            return [(owner_id, BASIS_POINTS_WHOLE)]
        problems = []
        seen: set[uuid.UUID] = set()
        for index, share in enumerate(shares):
            if share.creator_id in seen:
                problems.append(
                    FieldError(
                        f"shares.{index}.creator_id", "this creator is listed twice", "duplicate"
                    )
                )
            seen.add(share.creator_id)
        total = sum(share.basis_points for share in shares)
        if total != BASIS_POINTS_WHOLE:
            problems.append(
                FieldError("shares", f"the shares sum to {total}, not {BASIS_POINTS_WHOLE}", "sum")
            )
        known = {c.id for c in await CreatorRepository(session).get_many(sorted(seen))}
        problems.extend(
            FieldError(f"shares.{index}.creator_id", "no such creator", "unknown_creator")
            for index, share in enumerate(shares)
            if share.creator_id not in known
        )
        if problems:
            raise InvalidRequest("the co-creator shares are not valid", fields=problems)
        return [(share.creator_id, share.basis_points) for share in shares]

    async def _open_in_store(
        self, work_id: uuid.UUID, version_id: uuid.UUID, file: FileIn, *, storage: Storage
    ) -> _Upload:
        """Where the version's bytes go; a multipart upload is opened in the store."""
        key = work_version_key(work_id, version_id)
        settings = storage.settings
        if file.size <= settings.multipart_threshold:
            return _Upload(key, UploadMethod.SINGLE, None, None, None)
        part_size = settings.part_size
        if math.ceil(file.size / part_size) > MAX_PART_NUMBER:
            # S3 takes at most 10,000 parts: larger files get larger parts.
            part_size = math.ceil(file.size / MAX_PART_NUMBER / MiB) * MiB
        async with _storage_calls():
            upload_id = await storage.store.create_multipart(key)
        return _Upload(
            key, UploadMethod.MULTIPART, upload_id, part_size, math.ceil(file.size / part_size)
        )

    async def _record_version(
        self,
        session: AsyncSession,
        work: Work,
        version_id: uuid.UUID,
        file: FileIn,
        upload: _Upload,
    ) -> WorkVersion:
        versions = VersionRepository(session)
        version = await versions.create(
            WorkVersion(
                id=version_id,
                work_id=work.id,
                number=await versions.next_number(work.id),
                file_name=file.file_name,
                size=file.size,
                sha256=file.sha256,
                object_key=upload.key,
                upload_method=upload.method,
                upload_id=upload.upload_id,
                part_size=upload.part_size,
                part_count=upload.part_count,
                status=VersionStatus.PENDING,
                created_at=utcnow(),
            )
        )
        work.pending_version = version
        await session.flush()
        return version

    def _open_upload(self, work: Work) -> WorkVersion:
        version = work.pending_version
        if version is None:
            raise NoPendingUpload("this work has no upload in progress")
        if version.status != VersionStatus.PENDING:
            raise UploadClosed(
                f"the last upload failed ({version.failure_reason}); start a new version"
            )
        return version

    async def _target(
        self,
        work: Work,
        version: WorkVersion,
        *,
        storage: Storage,
        uploaded: list[UploadedPartRead],
    ) -> UploadTarget:
        put = None
        if version.upload_method == UploadMethod.SINGLE:
            async with _storage_calls():
                request = await storage.store.presign_put(
                    version.object_key,
                    expires_in=UPLOAD_URL_LIFETIME,
                    content_length=version.size,
                    sha256=version.sha256,
                )
            put = PresignedPut(
                url=request.url, headers=request.headers, expires_at=request.expires_at
            )
        return UploadTarget(
            work_id=work.id,
            version_id=version.id,
            method=version.upload_method,
            put=put,
            part_size=version.part_size,
            part_count=version.part_count,
            uploaded_parts=uploaded,
        )

    async def _verify(self, version: WorkVersion, store: ObjectStore) -> None:
        """Check the stored bytes against the declared size and sha256, or raise why not."""
        if version.upload_id is None or version.part_count is None or version.part_size is None:
            await self._verify_object(version, store)
            return
        try:
            parts = await store.list_parts(version.object_key, version.upload_id)
        except UploadNotFound:
            # An earlier completion assembled the parts but its transaction did not
            # commit: whatever is stored decides.
            await self._verify_object(version, store)
            return
        by_number = {part.part_number: part for part in parts}
        expected = range(1, version.part_count + 1)
        missing = [number for number in expected if number not in by_number]
        if len(missing) == version.part_count:
            raise _NotYet(NOT_UPLOADED)
        if missing:
            raise _NotYet(
                f"the file was not uploaded completely: {len(missing)} of "
                f"{version.part_count} parts are missing (first: part {missing[0]})"
            )
        last_size = version.size - version.part_size * (version.part_count - 1)
        for number in expected:
            wanted = version.part_size if number < version.part_count else last_size
            if by_number[number].size != wanted:
                await store.abort_multipart(version.object_key, version.upload_id)
                raise _Rejected(
                    f"part {number} has {by_number[number].size} bytes, not {wanted}: "
                    f"the stored file is not {version.size} bytes"
                )
        try:
            await store.complete_multipart(
                version.object_key,
                version.upload_id,
                [by_number[number] for number in expected],
                sha256=version.sha256,
            )
        except ChecksumMismatch as exc:
            raise _Rejected(
                f"the stored file's sha256 is not the declared {version.sha256}"
            ) from exc
        except InvalidPart as exc:
            await store.abort_multipart(version.object_key, version.upload_id)
            raise _Rejected(f"the parts could not be assembled: {exc}") from exc

    async def _verify_object(self, version: WorkVersion, store: ObjectStore) -> None:
        try:
            info = await store.head(version.object_key)
        except ObjectNotFound as exc:
            raise _NotYet(NOT_UPLOADED) from exc
        if info.size != version.size:
            await store.delete(version.object_key)
            raise _Rejected(
                f"the stored file has {info.size} bytes, not the declared {version.size}"
            )
        actual = await store.compute_sha256(version.object_key)
        if actual != version.sha256:
            await store.delete(version.object_key)
            raise _Rejected(
                f"the stored file's sha256 is {actual}, not the declared {version.sha256}"
            )

    async def _record_consent(
        self,
        session: AsyncSession,
        caller: Caller,
        work: Work,
        *,
        kind: ConsentKind,
        uses: list[Use],
        statement_text: str,
        statement_version: str,
    ) -> ConsentRead:
        previous = work.consent
        record = await ConsentRepository(session).create(
            Consent(
                id=uuid.uuid4(),
                work_id=work.id,
                sequence=previous.sequence + 1 if previous is not None else 1,
                kind=kind,
                uses=[use.value for use in uses],
                statement_text=statement_text,
                statement_version=statement_version,
                statement_sha256=hashlib.sha256(statement_text.encode()).hexdigest(),
                given_by=self._require_account(caller),
                given_at=utcnow(),
            )
        )
        work.consent = record
        refresh_listing(work)
        await session.flush()
        emit(
            session,
            CONSENT_TOPICS[kind],
            ConsentRecorded(
                consent_id=record.id,
                work_id=work.id,
                kind=kind,
                uses=uses,
                statement_version=record.statement_version,
                statement_sha256=record.statement_sha256,
                given_by=record.given_by,
                given_at=record.given_at,
            ),
        )
        return ConsentRead.model_validate(record)

    def _withdraw(self, session: AsyncSession, caller: Caller, work: Work) -> None:
        withdrawn_by = self._require_account(caller)
        work.status = WorkStatus.WITHDRAWN
        work.withdrawn_at = utcnow()
        work.withdrawn_by = withdrawn_by
        refresh_listing(work)
        emit(
            session,
            Topic.WORK_WITHDRAWN,
            WorkWithdrawnEvent(
                work_id=work.id, withdrawn_by=withdrawn_by, withdrawn_at=work.withdrawn_at
            ),
        )


work_service = WorkService()
