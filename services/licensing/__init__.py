"""Licensing's rules: bundles, quotes, idempotent purchases, licences, the ledger, refunds.

Decided policies:

- A quote is a price lock, not a promise to sell. Licensing is the seller: it records
  each work's sale scope from the catalogue's consent and withdrawal events
  (`licence/sale_scope.py`), and a purchase commits either before such a record or after it,
  never across it. A line whose work is not for sale for the quoted uses as of the
  purchase's commit is recorded EXCLUDED (`withdrawn`, `no_consent`) and not charged;
  the rest is sold at the quoted prices, and a purchase with nothing left is refused
  (NothingToPurchase). A line sold before a withdrawal stays sold: delivery delivers it
  on its terms. A work licensing has heard nothing about is sold as its quote says (the
  quote read the catalogue). Delivery reports the lines it genuinely could not deliver
  in `delivery.issued`, and licensing refunds exactly those (a REFUND transaction
  reversing each line's sale postings, the line EXCLUDED, the licence's
  `refunded_minor` raised). Each line can be refunded once: the line's status is checked
  under the licence's lock, and the ledger's `dedupe_key` refuses a second transaction.
- Money is integer minor units in a double-entry ledger; a transaction has one currency
  and its postings sum to zero. Signs: TOP_UP moves X from FUNDING (-X) to the buyer's
  balance (+X). SALE takes the total from the buyer (-total) and, per line, gives the
  platform its fee (+fee) and the co-creators the rest, split as `ledger/royalties.py` documents.
  PAYOUT moves P from the creator's payable (-P) to PAYOUTS (+P). REFUND is the exact
  negation of the sale postings not yet reversed. Postings of a line carry its work id.
- A refund of a sale whose royalties were already paid out leaves the creator's payable
  negative: the creator owes it, and later sales pay it back before the next payout.
- Concurrency: a purchase claims its idempotency key first (a unique row; racers wait on
  it and then replay), marks its quote bought (racers under other keys then read it
  without a lock), takes its works' shared sale scope locks in key order, then locks the
  buyer's balance for the check. Nothing else is locked: creators' and the platform's
  balances are sums over postings, so sales of popular works never queue on a shared
  row. A scope record takes its works' locks exclusively, in key order, and nothing
  after them; top-ups and payouts claim their reference, then lock one account. Every
  path locks at most one quote or licence and then one account, in that order, so no
  two paths can deadlock.
"""
