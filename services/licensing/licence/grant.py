"""A licence as a purchase writes it."""

from collections.abc import Sequence
from dataclasses import dataclass

from services.contracts.licensing import LicenceGranted, LicenceRead, QuoteLine


@dataclass(frozen=True, slots=True)
class LicenceGrant:
    """A licence to be written: what the buyer is answered, and the quote's lines it was
    sold from, in the same order (the licence keeps each line's fee and royalty shares,
    which its answer does not show). `LicenceRepository.grant` turns it into rows."""

    licence: LicenceRead
    quote_lines: Sequence[QuoteLine]

    def announced(self) -> LicenceGranted:
        """The `licence.granted` event."""
        licence = self.licence
        return LicenceGranted(
            licence_id=licence.id,
            buyer_id=licence.buyer_id,
            buyer_name=licence.buyer_name,
            bundle_id=licence.bundle_id,
            quote_id=licence.quote_id,
            uses=licence.uses,
            currency=licence.currency,
            total_minor=licence.total_minor,
            granted_at=licence.granted_at,
            lines=licence.lines,
        )
