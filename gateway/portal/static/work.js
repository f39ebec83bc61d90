// One work's page, as the signed-in member may act on it: its owner uploads, edits its
// details, replaces its file, consents, offers and withdraws; a co-creator answers their
// invitation and gives or withdraws their own consent. Both see its preview as buyers do,
// the history of its details, why it is not for sale, in words, and their share of its sales.

import { RequestFailed, expect, graphql } from "./api.js";
import { $, fact, refused } from "./dom.js";
import { renderLicences } from "./earnings.js";
import { membership } from "./members.js";
import {
  CONSENT_STATEMENTS,
  INVITE_CO_CREATOR,
  REPLACE_WORK_FILE,
  TRAINED_MODELS,
  UPDATE_WORK,
  WORK,
} from "./queries.js";
import { sha256OfBlob } from "./sha256.js";
import { selectedTerritory, setTerritory } from "./territory.js";
import { completeUpload, sendFile } from "./upload.js";
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
    territory: selectedTerritory(),
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
  }
  setTerritory(offer ? offer.terms.territory : ["WORLD"]);
  choices($("offer-uses"), "offer-use", consented, offer ? offer.terms.uses : consented, update);
  $("offer-form").hidden = !member.isOwner || work.status === "WITHDRAWN" || !consented.length;
  update();
}

const KINDS = { IMAGE: "Image", TEXT: "Text", AUDIO: "Audio", VIDEO: "Video", OTHER: "Other" };
const DETAIL_NAMES = { title: "title", description: "description", tags: "tags", mediaType: "kind" };

function formatDuration(ms) {
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

// The file as buyers see it in search results: its picture, its opening, or why neither.
function renderPreview(work) {
  const preview = work.currentVersion?.preview;
  const image = $("preview-image");
  const excerpt = $("preview-excerpt");
  $("work-preview").hidden = !preview;
  image.hidden = true;
  excerpt.hidden = true;
  if (!preview) return;
  const size = formatBytes(Number(work.currentVersion.size));
  if (preview.imageUrl) {
    image.src = preview.imageUrl;
    image.alt =
      preview.kind === "WAVEFORM" ? `Waveform of ${work.title}` : `Thumbnail of ${work.title}`;
    image.hidden = false;
  }
  if (preview.excerpt) {
    excerpt.textContent = preview.excerpt;
    excerpt.hidden = false;
  }
  const parts = [`Preview as buyers see it, with the file's size: ${size}`];
  if (preview.durationMs !== null) parts.push(`${formatDuration(preview.durationMs)} long`);
  if (preview.note) parts.push(preview.note);
  // Each part a sentence of its own: the notes come from the API in lower case.
  const sentences = parts.map((part) => part.charAt(0).toUpperCase() + part.slice(1));
  $("preview-caption").textContent = sentences.join(". ") + ".";
}

function editorName(work, accountId) {
  if (accountId === opened.meId) return "you";
  if (work.owner?.id === accountId) return work.owner.name;
  return work.shares.find((share) => share.creator.id === accountId)?.creator.name ?? "a member";
}

function renderHistory(work) {
  const list = $("history-list");
  list.replaceChildren();
  for (const version of [...work.history].reverse()) {
    const item = document.createElement("li");
    const when = formatDate(version.editedAt);
    const what = version.changed.length
      ? `${version.changed.map((name) => DETAIL_NAMES[name] ?? name).join(", ")} changed`
      : "listed";
    item.textContent = `Version ${version.number}: “${version.title}”, ${what} by ${editorName(work, version.editedBy)}, ${when}`;
    list.append(item);
  }
}

function renderEditor(work, member) {
  const editable = member.isOwner && work.status !== "WITHDRAWN";
  $("edit-form").hidden = !editable;
  $("replace-form").hidden = !editable || work.status === "PENDING_UPLOAD";
  $("replace-progress").hidden = true;
  $("replace-progress-text").textContent = "";
  $("edit-title").value = work.title;
  $("edit-description").value = work.description;
  $("edit-tags").value = work.tags.join(", ");
  $("edit-media").value = work.mediaType;
}

// Sends only what changed; the page then shows the work as saved. A refusal is placed
// beside its field by the form's handler (main.js), as every form's is.
export async function saveWorkEdit() {
  const work = opened.work;
  const wanted = {
    title: $("edit-title").value.trim(),
    description: $("edit-description").value.trim(),
    tags: $("edit-tags")
      .value.split(",")
      .map((tag) => tag.trim().toLowerCase())
      .filter(Boolean),
    mediaType: $("edit-media").value,
  };
  const input = {};
  if (wanted.title !== work.title) input.title = wanted.title;
  if (wanted.description !== work.description) input.description = wanted.description;
  if (wanted.tags.join(",") !== work.tags.join(",")) input.tags = wanted.tags;
  if (wanted.mediaType !== work.mediaType) input.mediaType = wanted.mediaType;
  if (!wanted.title) throw refused("title", "A work needs a title.");
  if (!Object.keys(input).length) throw new RequestFailed("Nothing to save: the details are as they were.");
  expect((await graphql(UPDATE_WORK, { id: work.id, input })).updateWork, "WorkUpdated");
  const changed = Object.keys(input).map((name) => DETAIL_NAMES[name]);
  return `Saved: the ${changed.join(", ")} of “${wanted.title}”, as a new version of its details.`;
}

function replaceProgress(phase, done, total) {
  const percent = total ? Math.floor((done / total) * 100) : 100;
  $("replace-progress").hidden = false;
  $("replace-progress").value = percent;
  $("replace-progress-text").textContent = `${phase}: ${formatBytes(done)} of ${formatBytes(total)} (${percent} %)`;
}

// A new version of the file, as replaceWorkFile starts it: uploaded, then checked.
export async function replaceWorkFile() {
  const work = opened.work;
  const file = $("replace-file").files[0];
  if (!file) throw refused("file", "Choose the new file.");
  const sha256 = await sha256OfBlob(file, (done, total) => replaceProgress("Checking the file", done, total));
  const started = (
    await graphql(REPLACE_WORK_FILE, {
      id: work.id,
      file: { fileName: file.name, size: file.size, sha256 },
    })
  ).replaceWorkFile;
  const target = expect(started, "VersionStarted").upload;
  await sendFile(target, file, (done, total) => replaceProgress("Uploading", done, total));
  $("replace-progress-text").textContent = "Checking the stored file…";
  await completeUpload(work.id);
  return `“${work.title}” has a new file, ${file.name}: it is the version future sales deliver.`;
}

// A co-creator named by email: the answer is the same whether or not they have an account.
export async function inviteCoCreator() {
  const points = Math.round(Number($("invite-share").value) * 100);
  const variables = { id: opened.work.id, email: $("invite-email").value, points };
  const invited = expect((await graphql(INVITE_CO_CREATOR, variables)).inviteCoCreator, "CoCreatorInvited");
  $("invite-form").reset();
  return `${invited.message[0].toUpperCase()}${invited.message.slice(1)}.`;
}

export async function showWork(workId, me, invitations, { focus = true } = {}) {
  const work = expect((await graphql(WORK, { id: workId })).work, "Work");
  const member = membership(work, me, invitations);
  Object.assign(opened, { work, member, meId: me.id });
  $("work-heading").textContent = work.title;
  $("work-description").textContent = work.description;
  renderPreview(work);
  const facts = $("work-facts");
  facts.replaceChildren();
  fact(facts, "Kind", KINDS[work.mediaType] ?? work.mediaType);
  if (work.tags.length) fact(facts, "Tags", work.tags.join(", "));
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
  renderEditor(work, member);
  renderHistory(work);
  renderInvitation(work, member);
  await renderConsent(work, member);
  renderOffer(work, member);
  await renderConsentWithdrawal(work, member);
  $("invite-form").hidden = !owner || work.status === "WITHDRAWN";
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
