// One work's page, as the signed-in member may act on it: its owner uploads, consents,
// offers and withdraws; a co-creator answers their invitation and gives or withdraws their
// own consent. Both see why it is not for sale, in words, and their share of its sales.

import { expect, graphql } from "./api.js";
import { $, fact } from "./dom.js";
import { renderLicences } from "./earnings.js";
import { membership } from "./members.js";
import { CONSENT_STATEMENTS, TRAINED_MODELS, WORK } from "./queries.js";
import {
  USES,
  WORK_STATES,
  currencyDigits,
  formatBytes,
  formatDate,
  formatMoney,
  formatShare,
  offerSummary,
  parseAmount,
  saleReasonWords,
  useNames,
} from "./words.js";

// The open work and the member's view of it (see members.js).
export const opened = { work: null, member: null, meId: null };
// The platform's current statement of each scope, asked for once per page.
const statements = new Map();


// Each reason the work is not for sale, in words for the member reading.
export function reasonsInWords(work, member) {
  return work.saleStatus.map((reason) =>
    saleReasonWords(reason, { meId: opened.meId, isOwner: member.isOwner }),
  );
}

function forSale(work, member) {
  if (work.listed) return "Yes: buyers can find and license it.";
  const list = document.createElement("ul");
  list.className = "reasons";
  for (const words of reasonsInWords(work, member)) {
    const item = document.createElement("li");
    item.textContent = words;
    list.append(item);
  }
  const detail = document.createDocumentFragment();
  detail.append("No:", list);
  return detail;
}

function choices(container, prefix, uses, checked, onChange) {
  container.replaceChildren();
  for (const entry of USES.filter((e) => uses.includes(e.use))) {
    const wrapper = document.createElement("div");
    wrapper.className = "check";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.id = `${prefix}-${entry.use}`;
    box.value = entry.use;
    box.checked = checked.includes(entry.use);
    if (onChange) box.addEventListener("change", onChange);
    const label = document.createElement("label");
    label.htmlFor = box.id;
    label.textContent = entry.name;
    wrapper.append(box, label);
    container.append(wrapper);
  }
}

export function checkedUses(container) {
  return [...container.querySelectorAll("input:checked")].map((box) => box.value);
}

// The platform's current statement of a scope (OPT_IN or WITHDRAWAL), with its words.
export async function currentStatement(scope) {
  if (!statements.size) {
    const published = (await graphql(CONSENT_STATEMENTS, {})).consentStatements;
    for (const statement of published.filter((found) => found.current)) {
      statements.set(statement.scope, statement);
    }
  }
  return statements.get(scope);
}

async function renderConsent(work, member) {
  const optIn = await currentStatement("OPT_IN");
  // A co-creator is asked for the uses offered; they may consent to more or fewer.
  const proposed = member.consentInForce ? member.consentUses : member.isOwner ? [] : work.offer?.terms.uses ?? [];
  choices($("consent-uses"), "consent-use", USES.map((e) => e.use), proposed);
  $("consent-statement").textContent = optIn.text;
  $("consent-statement-version").textContent = `version ${optIn.version}`;
  const own = member.ownRecord;
  $("consent-earlier").hidden =
    !own ||
    own.kind === "WITHDRAWN" ||
    (own.statementId === optIn.id && own.statementVersion === optIn.version);
  for (const id of ["consent-rights", "consent-people", "consent-releases", "consent-agree"]) {
    $(id).checked = false;
  }
  $("consent-releases-row").hidden = true;
  const answered = member.isOwner || member.invitation?.status === "ACCEPTED";
  $("consent-form").hidden = work.status === "WITHDRAWN" || !answered;
}

function renderInvitation(work, member) {
  const invitation = member.invitation;
  $("invitation-panel").hidden = member.isOwner;
  if (member.isOwner) return;
  const share = formatShare(invitation?.basisPoints ?? member.share ?? 0);
  const owner = invitation?.invitedBy?.name ?? work.owner?.name ?? "The owner";
  const status = invitation?.status ?? "PENDING";
  $("invitation-text").textContent = {
    PENDING:
      `${owner} named you as a co-creator of this work with a ${share} share. Accept it, ` +
      "then give your consent below; or decline it.",
    ACCEPTED: `You accepted your ${share} share of this work from ${owner}.`,
    DECLINED: `You declined your ${share} share. The work is not sold while it names you.`,
  }[status];
  $("invitation-answer").hidden = status !== "PENDING" || !invitation;
}

async function renderConsentWithdrawal(work, member) {
  const withdrawable = !member.isOwner && member.consentInForce && member.invitation?.status === "ACCEPTED";
  $("consent-withdraw-panel").hidden = !withdrawable;
  $("consent-withdraw-confirm").hidden = true;
  $("consent-withdraw-start").hidden = false;
  if (!withdrawable) return;
  const withdrawal = await currentStatement("WITHDRAWAL");
  $("withdrawal-statement").textContent = withdrawal.text;
  $("withdrawal-statement-version").textContent = `version ${withdrawal.version}`;
}

export function offerValues() {
  const currency = $("offer-currency").value;
  const amount = parseAmount($("offer-price").value, currency);
  return {
    price: amount === null || amount <= 0 ? null : { amountMinor: amount, currency },
    uses: checkedUses($("offer-uses")),
    commercial: $("offer-commercial").checked,
    attribution: $("offer-attribution").checked,
    days: Number($("offer-duration").value),
    territory: $("offer-territory")
      .value.split(",")
      .map((code) => code.trim().toUpperCase())
      .filter(Boolean),
  };
}

function renderOffer(work, member) {
  const consented = member.consentUses;
  const offer = work.offer;
  const update = () => {
    $("offer-summary").textContent = offerSummary(offerValues());
  };
  if (offer) {
    const digits = currencyDigits(offer.price.currency);
    $("offer-currency").value = offer.price.currency;
    $("offer-price").value = (Number(offer.price.amountMinor) / 10 ** digits).toFixed(digits);
    $("offer-commercial").checked = offer.terms.commercialUse;
    $("offer-attribution").checked = offer.terms.attributionRequired;
    $("offer-duration").value = offer.terms.durationDays;
    $("offer-territory").value = offer.terms.territory.join(", ");
  }
  choices($("offer-uses"), "offer-use", consented, offer ? offer.terms.uses : consented, update);
  $("offer-form").hidden = !member.isOwner || work.status === "WITHDRAWN" || !consented.length;
  update();
}

export async function showWork(workId, me, invitations, { focus = true } = {}) {
  const work = expect((await graphql(WORK, { id: workId })).work, "Work");
  const member = membership(work, me, invitations);
  Object.assign(opened, { work, member, meId: me.id });
  $("work-heading").textContent = work.title;
  const facts = $("work-facts");
  facts.replaceChildren();
  fact(facts, "State", WORK_STATES[work.status] ?? work.status);
  fact(facts, "For sale", forSale(work, member));
  if (!member.isOwner && work.owner) fact(facts, "Owner", work.owner.name);
  if (work.shares.length > 1) {
    const shares = work.shares.map((share) => `${share.creator.name} ${formatShare(share.basisPoints)}`);
    fact(facts, "Shares", shares.join(", "));
  }
  const version = work.currentVersion ?? work.pendingVersion;
  if (version) {
    fact(facts, "File", `${version.fileName}, ${formatBytes(Number(version.size))}`);
    fact(facts, "SHA-256", version.sha256, "hash");
  }
  if (work.pendingVersion?.failureReason) fact(facts, "Last upload", work.pendingVersion.failureReason);
  const own = member.ownRecord;
  if (own) {
    fact(
      facts,
      "Your consent",
      own.kind === "WITHDRAWN"
        ? `Withdrawn on ${formatDate(own.givenAt)}`
        : `${useNames(own.uses)} (given ${formatDate(own.givenAt)})`,
    );
  }
  if (work.offer) {
    fact(facts, "Offer", `${formatMoney(work.offer.price)} for ${useNames(work.offer.terms.uses)}`);
  }
  if (work.withdrawnAt) fact(facts, "Withdrawn", formatDate(work.withdrawnAt));
  const answer = await graphql(TRAINED_MODELS, { ids: [work.id] });
  const trained = expect(answer.trainedModels, "TrainedModelList");
  for (const run of trained.items) {
    const model = `${run.modelName} ${run.modelVersion}`;
    fact(facts, "Trained into", `${model}, by ${run.labName} (${formatDate(run.recordedAt)})`);
  }
  // The owner's controls: finishing the upload, the offer, withdrawing the work, its chain.
  const owner = member.isOwner;
  $("resume-panel").hidden = !owner || work.status !== "PENDING_UPLOAD";
  renderInvitation(work, member);
  await renderConsent(work, member);
  renderOffer(work, member);
  await renderConsentWithdrawal(work, member);
  $("withdraw-panel").hidden = !owner || work.status === "WITHDRAWN";
  $("withdraw-confirm").hidden = true;
  $("withdraw-start").hidden = false;
  renderLicences(work.id);
  $("chain-panel").hidden = !owner;
  $("chain").hidden = true;
  $("load-chain").textContent = "Show the chain";
  $("work-section").hidden = false;
  if (focus) $("work-heading").focus();
}
