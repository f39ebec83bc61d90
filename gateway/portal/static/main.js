// The creator portal: sign in, upload, consent, offer, withdraw, earnings and chains.

import { RequestFailed, SignedOut, expect, graphql, session } from "./api.js";
import { drawChart, periodLabel, periodSeries } from "./chart.js";
import { proves } from "./merkle.js";
import {
  CHAIN,
  CONSENT_STATEMENTS,
  CREATE_WORK,
  EARNINGS,
  GIVE_CONSENT,
  ME,
  MY_WORKS,
  SET_OFFER,
  WITHDRAW_WORK,
  WORK,
} from "./queries.js";
import { sha256OfBlob } from "./sha256.js";
import { completeUpload, sendFile, uploadTarget } from "./upload.js";
import {
  STEP_NAMES,
  USES,
  WORK_STATES,
  currencyDigits,
  formatBytes,
  formatDate,
  formatMoney,
  offerSummary,
  parseAmount,
  useNames,
} from "./words.js";

const $ = (id) => document.getElementById(id);

const state = {
  work: null,
  earnings: null,
  worksCursor: null,
  // The upload the form started, kept so that "Resume" can continue it with the same file.
  upload: null,
  chainUrl: null,
  // The platform's current opt-in statement, asked for once per page.
  optIn: null,
};

// --- messages -------------------------------------------------------------------------

function say(text) {
  $("status").textContent = text;
}

function warn(text) {
  $("alert").textContent = text;
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

// Runs a user's action: one at a time per button, errors shown, a refused key signs out.
async function act(button, action) {
  if (button) button.disabled = true;
  warn("");
  try {
    await action();
  } catch (error) {
    if (error instanceof SignedOut) {
      leave();
      warn(`${error.message} Sign in again.`);
    } else {
      warn(error instanceof RequestFailed ? error.message : `Something went wrong: ${error.message}`);
    }
  } finally {
    if (button) button.disabled = false;
  }
}

// --- signing in -----------------------------------------------------------------------

async function signIn(key) {
  const found = (await graphql(ME, {}, key)).me;
  if (found.__typename !== "Account") throw new SignedOut("That API key was not accepted.");
  if (!found.roles.includes("CREATOR")) {
    throw new RequestFailed(
      `${found.name}'s account is not a creator's account; the portal is for creators.`,
    );
  }
  session.keep(key);
  $("account-name").textContent = found.name;
  $("account").hidden = false;
  $("sign-in-section").hidden = true;
  $("portal").hidden = false;
  say(`Signed in as ${found.name}.`);
  await Promise.all([loadWorks(), loadEarnings()]);
  $("works-heading").scrollIntoView();
}

function signOut() {
  leave();
  say("Signed out.");
}

function leave() {
  session.forget();
  state.work = null;
  state.earnings = null;
  state.upload = null;
  $("portal").hidden = true;
  $("account").hidden = true;
  $("work-section").hidden = true;
  $("sign-in-section").hidden = false;
  $("api-key").value = "";
  $("api-key").focus();
}

// --- my works -------------------------------------------------------------------------

async function loadWorks(more = false) {
  const after = more ? state.worksCursor : null;
  const page = expect((await graphql(MY_WORKS, { after })).works, "WorkConnection");
  const body = $("works-table").tBodies[0];
  if (!more) body.replaceChildren();
  for (const work of page.items) {
    const row = document.createElement("tr");
    row.dataset.workId = work.id;
    const title = document.createElement("td");
    const open = document.createElement("button");
    open.type = "button";
    open.className = "link";
    open.textContent = work.title;
    open.addEventListener("click", () => act(open, () => openWork(work.id)));
    title.append(open);
    row.append(
      title,
      cell(WORK_STATES[work.status] ?? work.status),
      cell(work.listed ? "Yes" : "No"),
      cell(work.offer ? formatMoney(work.offer.price) : "No offer"),
      cell(work.consent && work.consent.kind !== "WITHDRAWN" ? useNames(work.consent.uses) : "None"),
    );
    body.append(row);
  }
  state.worksCursor = page.nextCursor;
  $("more-works").hidden = !page.nextCursor;
  $("works-empty").hidden = body.rows.length > 0;
}

// --- one work -------------------------------------------------------------------------

function fact(list, term, detail, className = "") {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = detail;
  if (className) dd.className = className;
  list.append(dt, dd);
}

function whyNotListed(work) {
  if (work.status === "WITHDRAWN") return "No: you withdrew it.";
  if (work.status !== "READY") return "No: its file is not complete yet.";
  if (!work.consent || work.consent.kind === "WITHDRAWN") return "No: it needs your consent.";
  if (!work.offer) return "No: it needs an offer.";
  return "No.";
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

function checkedUses(container) {
  return [...container.querySelectorAll("input:checked")].map((box) => box.value);
}

async function currentOptIn() {
  if (!state.optIn) {
    const statements = (await graphql(CONSENT_STATEMENTS, {})).consentStatements;
    state.optIn = statements.find((s) => s.scope === "OPT_IN" && s.current);
  }
  return state.optIn;
}

async function renderConsent(work) {
  const optIn = await currentOptIn();
  const consent = work.consent && work.consent.kind !== "WITHDRAWN" ? work.consent : null;
  choices($("consent-uses"), "consent-use", USES.map((e) => e.use), consent ? consent.uses : []);
  $("consent-statement").textContent = optIn.text;
  $("consent-statement-version").textContent = `version ${optIn.version}`;
  $("consent-earlier").hidden =
    !consent || (consent.statementId === optIn.id && consent.statementVersion === optIn.version);
  for (const id of ["consent-rights", "consent-people", "consent-releases", "consent-agree"]) {
    $(id).checked = false;
  }
  $("consent-releases-row").hidden = true;
  $("consent-form").hidden = work.status === "WITHDRAWN";
}

function offerValues() {
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

function renderOffer(work) {
  const consented = work.consent && work.consent.kind !== "WITHDRAWN" ? work.consent.uses : [];
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
  $("offer-form").hidden = work.status === "WITHDRAWN" || consented.length === 0;
  update();
}

function renderLicences(workId) {
  const lines = (state.earnings?.lines ?? []).filter((line) => line.workId === workId);
  const body = $("licences-table").tBodies[0];
  body.replaceChildren();
  for (const line of lines) {
    const row = document.createElement("tr");
    const licence = cell(line.licenceId);
    licence.className = "hash";
    row.append(
      cell(line.buyerName),
      cell(useNames(line.uses)),
      cell(formatMoney(line.amount)),
      cell(line.kind === "SALE" ? "Sale" : line.kind === "REFUND" ? "Refund" : line.kind),
      cell(formatDate(line.recordedAt)),
      licence,
    );
    body.append(row);
  }
  $("licences-table").hidden = lines.length === 0;
  $("licences-empty").hidden = lines.length > 0;
}

async function openWork(workId, { focus = true } = {}) {
  const work = expect((await graphql(WORK, { id: workId })).work, "Work");
  state.work = work;
  $("work-heading").textContent = work.title;
  const facts = $("work-facts");
  facts.replaceChildren();
  fact(facts, "State", WORK_STATES[work.status] ?? work.status);
  fact(facts, "For sale", work.listed ? "Yes: buyers can find and license it." : whyNotListed(work));
  const version = work.currentVersion ?? work.pendingVersion;
  if (version) {
    fact(facts, "File", `${version.fileName}, ${formatBytes(Number(version.size))}`);
    fact(facts, "SHA-256", version.sha256, "hash");
  }
  if (work.pendingVersion?.failureReason) fact(facts, "Last upload", work.pendingVersion.failureReason);
  if (work.consent) {
    fact(
      facts,
      "Consent",
      work.consent.kind === "WITHDRAWN"
        ? `Withdrawn on ${formatDate(work.consent.givenAt)}`
        : `${useNames(work.consent.uses)} (given ${formatDate(work.consent.givenAt)})`,
    );
  }
  if (work.offer) {
    fact(facts, "Offer", `${formatMoney(work.offer.price)} for ${useNames(work.offer.terms.uses)}`);
  }
  if (work.withdrawnAt) fact(facts, "Withdrawn", formatDate(work.withdrawnAt));
  $("resume-panel").hidden = work.status !== "PENDING_UPLOAD";
  await renderConsent(work);
  renderOffer(work);
  $("withdraw-panel").hidden = work.status === "WITHDRAWN";
  $("withdraw-confirm").hidden = true;
  $("withdraw-start").hidden = false;
  renderLicences(work.id);
  $("chain").hidden = true;
  $("load-chain").textContent = "Show the chain";
  $("work-section").hidden = false;
  if (focus) $("work-heading").focus();
}

async function giveConsent() {
  const work = state.work;
  const uses = checkedUses($("consent-uses"));
  if (!uses.length) throw new RequestFailed("Choose at least one use.");
  if (!$("consent-rights").checked) {
    $("consent-rights").focus();
    throw new RequestFailed("Only the person who owns or controls the rights may consent.");
  }
  const people = $("consent-people").checked;
  if (people && !$("consent-releases").checked) {
    $("consent-releases").focus();
    throw new RequestFailed("A work that depicts identifiable people needs their releases.");
  }
  if (!$("consent-agree").checked) {
    $("consent-agree").focus();
    throw new RequestFailed("Tick the box to agree to the statement first.");
  }
  const optIn = await currentOptIn();
  const input = {
    uses,
    statementId: optIn.id,
    statementVersion: optIn.version,
    attestation: {
      ownsRights: true,
      depictsIdentifiablePeople: people,
      holdsReleases: people,
    },
  };
  const recorded = (await graphql(GIVE_CONSENT, { id: work.id, input })).giveConsent;
  expect(recorded, "ConsentRecorded");
  await openWork(work.id, { focus: false });
  await loadWorks();
  say(`Consent recorded for "${work.title}": ${useNames(uses)}. Next: set an offer.`);
  $("offer-price").focus();
}

async function setOffer() {
  const work = state.work;
  const values = offerValues();
  if (values.price === null) {
    $("offer-price").focus();
    throw new RequestFailed("Enter a price, e.g. 12.50.");
  }
  if (!values.uses.length) throw new RequestFailed("Choose at least one use the licence grants.");
  const input = {
    priceMinor: values.price.amountMinor,
    currency: values.price.currency,
    terms: {
      uses: values.uses,
      commercialUse: values.commercial,
      attributionRequired: values.attribution,
      durationDays: values.days,
      territory: values.territory.length ? values.territory : ["WORLD"],
    },
  };
  const set = (await graphql(SET_OFFER, { id: work.id, input })).setOffer;
  expect(set, "OfferSet");
  await openWork(work.id, { focus: false });
  await loadWorks();
  const listed = state.work.listed ? "It is for sale now." : whyNotListed(state.work);
  say(`Offer published for "${work.title}": ${formatMoney(values.price)}. ${listed}`);
}

async function withdrawWork() {
  const work = state.work;
  const withdrawn = (await graphql(WITHDRAW_WORK, { id: work.id })).withdrawWork;
  expect(withdrawn, "WorkWithdrawn");
  await openWork(work.id, { focus: false });
  await loadWorks();
  say(`"${work.title}" is withdrawn: no new buyer can license it.`);
  $("work-heading").focus();
}

async function showChain() {
  const work = state.work;
  const chain = expect((await graphql(CHAIN, { id: work.id })).licenceChain, "LicenceChain");
  const { treeSize, rootHash, issuedAt } = chain.checkpoint;
  const list = $("chain-entries");
  list.replaceChildren();
  let proven = 0;
  for (const entry of chain.entries) {
    const ok = await proves(
      entry.entry,
      entry.leafHash,
      entry.index,
      treeSize,
      entry.inclusionProof,
      rootHash,
    );
    if (ok) proven += 1;
    const item = document.createElement("li");
    item.dataset.step = entry.step;
    const what = document.createElement("strong");
    what.textContent = STEP_NAMES[entry.step] ?? entry.step;
    const detail = document.createElement("span");
    detail.textContent = ` (${entry.topic}), ${formatDate(entry.occurredAt)}, log index ${entry.index}. `;
    const mark = document.createElement("span");
    mark.className = ok ? "proof-ok" : "proof-bad";
    mark.textContent = !ok
      ? "Its proof does not check out."
      : entry.entry === null
        ? "Another party's step: its details are withheld from you; that it is in the log is proven."
        : "Proven in the log.";
    item.append(what, detail, mark);
    list.append(item);
  }
  $("chain-checkpoint").textContent =
    `Checkpoint: the log held ${treeSize} entries at ${formatDate(issuedAt)}; ` +
    `root hash ${rootHash}. ${proven} of ${chain.entries.length} steps proven against it.`;
  $("chain-pending").textContent = chain.pendingEntries
    ? `${chain.pendingEntries} newer steps wait for the next checkpoint (about a second); show the chain again to include them.`
    : "";
  if (state.chainUrl) URL.revokeObjectURL(state.chainUrl);
  state.chainUrl = URL.createObjectURL(new Blob([chain.document], { type: "application/json" }));
  $("chain-download").href = state.chainUrl;
  $("chain-download").download = `chain-work-${work.id}.json`;
  $("chain").hidden = false;
  $("load-chain").textContent = "Show the chain again";
  say(`The chain of "${work.title}": ${chain.entries.length} steps, ${proven} proven.`);
}

// --- uploading ------------------------------------------------------------------------

function progress(phase, done, total) {
  const percent = total ? Math.floor((done / total) * 100) : 100;
  $("upload-progress").value = percent;
  $("upload-progress-text").textContent =
    `${phase}: ${formatBytes(done)} of ${formatBytes(total)} (${percent} %)`;
}

async function sendAndComplete(workId, file, target) {
  try {
    await sendFile(target, file, (done, total) => progress("Uploading", done, total));
  } catch (error) {
    $("resume-upload").hidden = false;
    throw new RequestFailed(
      `The upload stopped (${error.message}). The parts already sent are kept: choose Resume the upload to send the rest.`,
    );
  }
  $("upload-progress-text").textContent = "Checking the stored file…";
  const work = await completeUpload(workId);
  progress("Uploaded and checked", file.size, file.size);
  return work;
}

async function uploadNew() {
  const file = $("upload-file").files[0];
  const title = $("upload-title").value.trim();
  if (!file) {
    $("upload-file").focus();
    throw new RequestFailed("Choose the file of your work.");
  }
  if (!title) {
    $("upload-title").focus();
    throw new RequestFailed("Give your work a title.");
  }
  $("resume-upload").hidden = true;
  const sha256 = await sha256OfBlob(file, (done, total) => progress("Checking the file", done, total));
  const input = {
    title,
    description: $("upload-description").value.trim(),
    mediaType: $("upload-media").value,
    language: $("upload-language").value.trim(),
    tags: $("upload-tags")
      .value.split(",")
      .map((tag) => tag.trim())
      .filter(Boolean),
    file: { fileName: file.name, size: file.size, sha256 },
  };
  const created = expect((await graphql(CREATE_WORK, { input })).createWork, "WorkCreated");
  state.upload = { workId: created.work.id, file };
  await loadWorks();
  await finishUpload(created.upload);
}

async function finishUpload(target) {
  const { workId, file } = state.upload;
  await sendAndComplete(workId, file, target);
  state.upload = null;
  $("upload-form").reset();
  await loadWorks();
  await openWork(workId, { focus: false });
  say(`"${state.work.title}" is uploaded and its checksum matches. Next: give your consent.`);
  $("work-heading").focus();
}

async function resumeUpload() {
  $("resume-upload").hidden = true;
  await finishUpload(await uploadTarget(state.upload.workId));
}

async function resumeWorkUpload() {
  const work = state.work;
  const file = $("resume-file").files[0];
  const expected = work.pendingVersion;
  if (!file) throw new RequestFailed("Choose the work's file.");
  if (file.size !== Number(expected.size)) {
    throw new RequestFailed(
      `That file has ${formatBytes(file.size)}; this work's file has ${formatBytes(Number(expected.size))}.`,
    );
  }
  state.upload = { workId: work.id, file };
  await finishUpload(await uploadTarget(work.id));
}

function guessMediaType(file) {
  const [kind] = (file.type || "").split("/");
  return { image: "IMAGE", text: "TEXT", audio: "AUDIO", video: "VIDEO" }[kind] ?? "OTHER";
}

// --- earnings -------------------------------------------------------------------------

async function loadEarnings() {
  const period = $("earnings-period").value;
  state.earnings = expect((await graphql(EARNINGS, { period })).earnings, "Earnings");
  const earnings = state.earnings;
  const currencies = [
    ...new Set([...earnings.byPeriod, ...earnings.byWork].map((p) => p.amount.currency)),
  ];
  const select = $("earnings-currency");
  const chosen = currencies.includes(select.value) ? select.value : currencies[0] ?? "EUR";
  select.replaceChildren(
    ...(currencies.length ? currencies : ["EUR"]).map((code) => new Option(code, code)),
  );
  select.value = chosen;
  renderEarnings();
  if (state.work) renderLicences(state.work.id);
}

function renderEarnings() {
  const earnings = state.earnings;
  const period = $("earnings-period").value;
  const currency = $("earnings-currency").value;
  const series = periodSeries(earnings.byPeriod, period, currency);
  drawChart($("earnings-chart"), series, period, currency);
  const total = series.reduce((sum, point) => sum + point.amountMinor, 0);
  $("earnings-caption").textContent =
    `Your share of sales per ${period.toLowerCase()}, after the platform fee and refunds: ` +
    `${formatMoney({ amountMinor: total, currency })} in the periods shown.`;
  const owed = earnings.owed.filter((money) => Number(money.amountMinor) !== 0);
  $("earnings-owed").textContent = owed.length
    ? `Earned and not yet paid out: ${owed.map(formatMoney).join(", ")}.`
    : "Nothing is owed to you right now.";
  const periods = $("earnings-periods").tBodies[0];
  periods.replaceChildren(
    ...series.map((point) => {
      const row = document.createElement("tr");
      row.append(
        cell(periodLabel(point.start, period)),
        cell(formatMoney({ amountMinor: point.amountMinor, currency })),
      );
      return row;
    }),
  );
  const byWork = $("earnings-by-work").tBodies[0];
  byWork.replaceChildren(
    ...earnings.byWork.map((work) => {
      const row = document.createElement("tr");
      row.append(cell(work.title), cell(String(work.licences)), cell(formatMoney(work.amount)));
      return row;
    }),
  );
}

// --- wiring ---------------------------------------------------------------------------

function on(id, event, handler) {
  $(id).addEventListener(event, handler);
}

function submit(id, action) {
  on(id, "submit", (event) => {
    event.preventDefault();
    act(event.submitter ?? $(id).querySelector("button[type=submit]"), action);
  });
}

submit("sign-in-form", async () => {
  const key = $("api-key").value.trim();
  if (!key) {
    $("api-key").focus();
    throw new RequestFailed("Enter your API key.");
  }
  await signIn(key);
});
on("sign-out", "click", () => signOut());
on("refresh-works", "click", (event) => act(event.currentTarget, () => loadWorks()));
on("more-works", "click", (event) => act(event.currentTarget, () => loadWorks(true)));
submit("consent-form", giveConsent);
on("consent-people", "change", () => {
  $("consent-releases-row").hidden = !$("consent-people").checked;
});
submit("offer-form", setOffer);
for (const id of ["offer-price", "offer-currency", "offer-commercial", "offer-attribution", "offer-duration", "offer-territory"]) {
  on(id, "input", () => {
    $("offer-summary").textContent = offerSummary(offerValues());
  });
}
on("withdraw-start", "click", () => {
  $("withdraw-start").hidden = true;
  $("withdraw-confirm").hidden = false;
  $("withdraw-no").focus();
});
on("withdraw-no", "click", () => {
  $("withdraw-confirm").hidden = true;
  $("withdraw-start").hidden = false;
  $("withdraw-start").focus();
});
on("withdraw-yes", "click", (event) => act(event.currentTarget, withdrawWork));
on("load-chain", "click", (event) => act(event.currentTarget, showChain));
submit("upload-form", uploadNew);
on("resume-upload", "click", (event) => act(event.currentTarget, resumeUpload));
on("resume-work-upload", "click", (event) => act(event.currentTarget, resumeWorkUpload));
on("upload-file", "change", () => {
  const file = $("upload-file").files[0];
  if (!file) return;
  $("upload-media").value = guessMediaType(file);
  if (!$("upload-title").value.trim()) $("upload-title").value = file.name.replace(/\.[^.]+$/, "");
});
on("refresh-earnings", "click", (event) => act(event.currentTarget, loadEarnings));
on("earnings-period", "change", () => act(null, loadEarnings));
on("earnings-currency", "change", () => act(null, async () => renderEarnings()));

const kept = session.key();
if (kept) {
  act(null, () => signIn(kept));
} else {
  $("api-key").focus();
}
