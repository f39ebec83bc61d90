// Plain words for what a creator agrees to, and how amounts and states read.

import { countryName } from "./territory.js";

// The words a creator agrees to are the platform's statements, served by the gateway
// (consentStatements); these are only the names the portal shows for each use.
export const USES = [
  {
    use: "TRAINING",
    name: "Training new AI models",
    phrase: "training new AI models",
  },
  {
    use: "FINE_TUNING",
    name: "Fine-tuning existing models",
    phrase: "fine-tuning existing models",
  },
  {
    use: "RETRIEVAL",
    name: "Retrieval by AI systems",
    phrase: "retrieval by AI systems",
  },
  {
    use: "EVALUATION",
    name: "Testing models",
    phrase: "testing models",
  },
  {
    use: "SYNTHETIC_DATA",
    name: "Making synthetic data",
    phrase: "making synthetic data",
  },
];

const BY_USE = new Map(USES.map((entry) => [entry.use, entry]));

function useName(use) {
  return BY_USE.get(use)?.name ?? use;
}

export function useNames(uses) {
  return uses.length ? uses.map(useName).join(", ") : "none";
}

export function currencyDigits(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
      .maximumFractionDigits;
  } catch {
    return 2;
  }
}

export function formatMoney({ amountMinor, currency }) {
  const digits = currencyDigits(currency);
  return new Intl.NumberFormat(undefined, {
    style: "currency",
    currency,
    minimumFractionDigits: digits,
  }).format(amountMinor / 10 ** digits);
}

// "12.50" in EUR -> 1250; null when the text is not an amount of that currency.
export function parseAmount(text, currency) {
  const digits = currencyDigits(currency);
  const match = /^\s*(\d{1,12})(?:[.,](\d+))?\s*$/.exec(text);
  if (!match || (match[2] ?? "").length > digits) return null;
  const fraction = (match[2] ?? "").padEnd(digits, "0");
  return Number(match[1]) * 10 ** digits + Number(fraction || 0);
}

export function offerSummary({ price, uses, commercial, attribution, days, territory }) {
  if (price === null) return "Enter a price to see the offer.";
  if (!uses.length) return "Choose at least one use the licence grants.";
  const where = territory.includes("WORLD")
    ? "anywhere in the world"
    : `in ${territory.map(countryName).join(", ")}`;
  return [
    `A buyer pays ${formatMoney(price)} for a licence to use this work for ` +
      `${uses.map((use) => BY_USE.get(use)?.phrase ?? use).join(", ")}, ${where}, ` +
      `for ${days} days.`,
    commercial ? "They may use it commercially." : "They may not use it commercially.",
    attribution ? "They must credit you." : "They need not credit you.",
  ].join(" ");
}

export const WORK_STATES = {
  PENDING_UPLOAD: "Waiting for its file",
  READY: "Ready",
  WITHDRAWN: "Withdrawn",
};

export const STEP_NAMES = {
  ACCOUNT: "Account",
  CONSENT: "Consent",
  OFFER: "Offer",
  LICENCE: "Licence",
  PAYMENT: "Payment and royalty split",
  REFUND: "Refund",
  DELIVERY: "Delivery",
  DOWNLOAD: "Download",
  WITHDRAWAL: "Withdrawal",
};

export function formatBytes(size) {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${size} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatDate(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function formatShare(basisPoints) {
  return `${basisPoints / 100} %`;
}

// The catalogue's detail about a co-creator the work waits for, told apart by its words:
// the code alone does not say which of their steps is missing.
const AWAITED_STEPS = [
  [/has not accepted/, "ACCEPT"],
  [/declined/, "DECLINED"],
  [/has not given their consent/, "CONSENT"],
  [/has not consented to/, "USES"],
];

export function awaitedStep(reason) {
  return AWAITED_STEPS.find(([words]) => words.test(reason.detail))?.[1] ?? null;
}

function sentence(text) {
  const trimmed = text.trim();
  return trimmed.charAt(0).toUpperCase() + trimmed.slice(1) + (/[.!?]$/.test(trimmed) ? "" : ".");
}

// The uses named after the detail's colon, e.g. "…consented to: training, evaluation".
function usesAfterColon(detail) {
  const named = detail.slice(detail.indexOf(":") + 1).split(",");
  return useNames(named.map((use) => use.trim().toUpperCase()).filter(Boolean));
}

function awaitedCoCreator(reason, isMe) {
  const name = reason.creator?.name ?? "a co-creator";
  switch (awaitedStep(reason)) {
    case "ACCEPT":
      return isMe ? "Waiting for you to accept your share." : `Waiting for ${name} to accept their share.`;
    case "DECLINED":
      return isMe
        ? "You declined your share: it is not sold while it names you."
        : `${name} declined their share: it is not sold while it names them.`;
    case "CONSENT":
      return isMe ? "Waiting for your consent." : `Waiting for ${name} to consent.`;
    case "USES":
      return isMe
        ? `Waiting for your consent to: ${usesAfterColon(reason.detail)}.`
        : `Waiting for ${name} to consent to: ${usesAfterColon(reason.detail)}.`;
    default:
      return sentence(reason.detail);
  }
}

// Why a work is not for sale, said to the member reading: its owner, or a co-creator.
export function saleReasonWords(reason, { meId, isOwner }) {
  switch (reason.code) {
    case "AWAITING_CO_CREATOR":
      return awaitedCoCreator(reason, reason.creator?.id === meId);
    case "WITHDRAWN":
      return isOwner ? "You withdrew it." : "Its owner withdrew it.";
    case "NO_FILE":
      return "Its file is not uploaded and checked yet.";
    case "NO_CONSENT":
      return isOwner ? "It needs your consent." : "Waiting for its owner's consent.";
    case "NO_OFFER":
      return isOwner ? "It needs an offer: a price and terms." : "Waiting for its owner's offer.";
    case "OFFER_WIDER_THAN_CONSENT":
      return `Its offer includes uses ${isOwner ? "you have" : "its owner has"} not consented to: ${usesAfterColon(reason.detail)}.`;
    default:
      // HELD_FOR_REVIEW, and any reason newer than this page: the catalogue's own words.
      return sentence(reason.detail);
  }
}
