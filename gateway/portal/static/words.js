// Plain words for what a creator agrees to, and how amounts and states read.

// Bump when the consent wording changes: each consent records the version it was given under.
export const STATEMENT_VERSION = "portal-2026-12";

export const USES = [
  {
    use: "TRAINING",
    name: "Training new AI models",
    phrase: "training new AI models",
    means: "copied into the data a new AI model, or a new version of one, learns from",
  },
  {
    use: "FINE_TUNING",
    name: "Fine-tuning existing models",
    phrase: "fine-tuning existing models",
    means:
      "used to adjust a model that has already been trained, for example to a style or a subject",
  },
  {
    use: "RETRIEVAL",
    name: "Retrieval by AI systems",
    phrase: "retrieval by AI systems",
    means: "kept in an index that an AI system searches, and may quote or show when it answers",
  },
  {
    use: "EVALUATION",
    name: "Testing models",
    phrase: "testing models",
    means: "used to measure how well a model performs, without training the model on it",
  },
  {
    use: "SYNTHETIC_DATA",
    name: "Making synthetic data",
    phrase: "making synthetic data",
    means: "used as an example from which new, artificial data is generated",
  },
];

const BY_USE = new Map(USES.map((entry) => [entry.use, entry]));

function useName(use) {
  return BY_USE.get(use)?.name ?? use;
}

export function useNames(uses) {
  return uses.length ? uses.map(useName).join(", ") : "none";
}

// The exact words recorded with a consent: what the chosen uses allow, and nothing more.
export function consentStatement(title, uses) {
  if (!uses.length) return "Choose at least one use to see what you would agree to.";
  const allowed = uses.map((use) => `- ${useName(use)}: my work may be ${BY_USE.get(use).means}.`);
  const refused = USES.filter((entry) => !uses.includes(entry.use)).map((entry) => entry.phrase);
  return [
    `I opt in to my work "${title}" being licensed through Assent, to buyers who pay the ` +
      "price I set, for these uses only:",
    ...allowed,
    refused.length
      ? `It may not be used for anything else, including ${refused.join(", ")}.`
      : "It may not be used for anything else.",
    "Each buyer's licence states its own terms and how long it lasts; I set them in my offer.",
    "I can withdraw this work from sale at any time. Licences sold before then stay valid " +
      "on their terms; no new buyer can license it.",
  ].join("\n");
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
  const where = territory.includes("WORLD") ? "anywhere in the world" : `in ${territory.join(", ")}`;
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
