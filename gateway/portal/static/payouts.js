// Payouts: the bank account a creator's earnings go to, confirmed with the code mailed to
// them (or the link in that mail, which opens this page at #payout-confirm/<id>/<code>),
// and the transfers made to it, with the bank's reason when one came back.

import { expect, graphql } from "./api.js";
import { $, cell, say } from "./dom.js";
import { CONFIRM_PAYOUT_ACCOUNT, PAYOUTS, PAYOUT_ACCOUNTS, SET_PAYOUT_ACCOUNT } from "./queries.js";
import { formatDate, formatMoney } from "./words.js";

const CONFIRM_LINK = /^#payout-confirm\/([0-9a-f-]{36})\/([A-Z2-7]+)$/i;

const TRANSFER_STATES = {
  IN_PAYMENT: "On its way to your bank",
  PAID: "Paid",
  RETURNED: "Returned by the bank: the money is yours again",
};

// The account waiting for its code, if any.
let pending = null;

export async function loadPayouts() {
  const [accounts, payouts] = await Promise.all([graphql(PAYOUT_ACCOUNTS), graphql(PAYOUTS)]);
  const items = expect(accounts.payoutAccounts, "PayoutAccountList").items;
  const confirmed = items.find((account) => account.state === "CONFIRMED");
  pending = items.find((account) => account.state === "PENDING") ?? null;
  $("payout-account-text").textContent = confirmed
    ? `Your earnings are paid to ${confirmed.holder}, IBAN ${confirmed.iban} (${confirmed.bic}).`
    : "You have no confirmed bank account yet: your earnings wait for you until you add one.";
  $("payout-confirm-form").hidden = pending === null;
  if (pending) {
    $("payout-pending-text").textContent =
      `We sent a code to your email address to confirm ${pending.holder}, IBAN ` +
      `${pending.iban}. Payouts go there once you confirm it.`;
  }
  renderTransfers(expect(payouts.payouts, "PayoutPaymentList").items);
  takeConfirmLink();
}

function renderTransfers(transfers) {
  $("payouts-table").tBodies[0].replaceChildren(
    ...transfers.map((transfer) => {
      const row = document.createElement("tr");
      row.append(
        cell(formatMoney(transfer.amount)),
        cell(`${transfer.holder}, ${transfer.iban}`),
        cell(TRANSFER_STATES[transfer.state] ?? transfer.state),
        cell(transfer.returnReason ?? (transfer.settledAt ? formatDate(transfer.settledAt) : "")),
      );
      return row;
    }),
  );
  $("payouts-table").hidden = transfers.length === 0;
  $("payouts-empty").hidden = transfers.length > 0;
}

// The mail's link: the code is filled in, and the creator confirms with one press.
function takeConfirmLink() {
  const link = CONFIRM_LINK.exec(window.location.hash);
  if (!link || !pending || pending.id !== link[1]) return;
  $("payout-code").value = link[2];
  $("payout-confirm-button").focus();
}

export async function requestPayoutAccount() {
  const variables = {
    holder: $("payout-holder").value.trim(),
    iban: $("payout-iban").value.trim(),
    bic: $("payout-bic").value.trim(),
  };
  const asked = expect((await graphql(SET_PAYOUT_ACCOUNT, variables)).setPayoutAccount, "PayoutAccount");
  $("payout-account-form").reset();
  await loadPayouts();
  say(`A confirmation code is on its way to your email address for IBAN ${asked.iban}.`);
  $("payout-code").focus();
}

export async function confirmPayoutAccount() {
  if (!pending) return;
  const variables = { id: pending.id, code: $("payout-code").value.trim() };
  const confirmed = expect(
    (await graphql(CONFIRM_PAYOUT_ACCOUNT, variables)).confirmPayoutAccount,
    "PayoutAccount",
  );
  $("payout-code").value = "";
  if (CONFIRM_LINK.test(window.location.hash)) history.replaceState(null, "", "#payouts-section");
  await loadPayouts();
  say(`Confirmed: payouts from now on go to IBAN ${confirmed.iban}.`);
}
