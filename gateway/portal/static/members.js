// A work as one of its members sees it: its owner, or a co-creator named with a share.
// The owner lists, prices and withdraws the work; a co-creator answers their invitation,
// gives or withdraws their own consent, and sees their earnings.

import { awaitedStep } from "./words.js";

// The API gives a work's newest consent record, whoever gave it. A member's own consent
// is that record when they gave it last; otherwise the reasons the work is not for sale
// tell whether theirs is in force (a reason names each member whose consent is missing).
function consentInForce(work, meId, isOwner) {
  if (work.consent?.givenBy === meId) return work.consent.kind !== "WITHDRAWN";
  if (isOwner) return !work.saleStatus.some((reason) => reason.code === "NO_CONSENT");
  return !work.saleStatus.some(
    (reason) =>
      reason.code === "AWAITING_CO_CREATOR" &&
      reason.creator?.id === meId &&
      awaitedStep(reason) !== "USES",
  );
}

export function membership(work, me, invitations) {
  const isOwner = work.owner?.id === me.id;
  const inForce = consentInForce(work, me.id, isOwner);
  const ownRecord = work.consent?.givenBy === me.id ? work.consent : null;
  return {
    isOwner,
    share: work.shares.find((share) => share.creator.id === me.id)?.basisPoints ?? null,
    invitation: isOwner ? null : invitations.find((found) => found.work?.id === work.id) ?? null,
    consentInForce: inForce,
    // The uses the member consented to, where the API says them: their own newest record,
    // or else the offer's uses, which no reason says exceed their consent.
    consentUses: !inForce ? [] : ownRecord ? ownRecord.uses : work.offer?.terms.uses ?? [],
    ownRecord,
  };
}
