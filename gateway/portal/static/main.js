// The creator portal: sign in, upload, consent, offer, withdraw, earnings, payouts and
// chains; a co-creator's answer to their invitation and their own consent.

import { RequestFailed, SignedOut, auth, expect, graphql, session } from "./api.js";
import { showChain } from "./chain.js";
import { $, cell, clearFieldErrors, refused, say, showFieldErrors, warn } from "./dom.js";
import { forgetEarnings, loadEarnings, renderEarnings } from "./earnings.js";
import { membership } from "./members.js";
import { loadNotifications, markNotificationsRead, saveNotificationMail } from "./notifications.js";
import { createKey, loadKeys, revokeKey } from "./keys.js";
import { loadPasskeys, wirePasskeys } from "./passkeys.js";
import { confirmPayoutAccount, loadPayouts, requestPayoutAccount } from "./payouts.js";
import { downloadStatementPdf, showStatement } from "./statement.js";
import {
  ACCEPT_INVITATION,
  CREATE_WORK,
  DECLINE_INVITATION,
  GIVE_CONSENT,
  INVITATIONS,
  ME,
  MY_WORKS,
  SET_OFFER,
  WITHDRAW_CONSENT,
  WITHDRAW_WORK,
} from "./queries.js";
import { sha256OfBlob } from "./sha256.js";
import { completeUpload, sendFile, uploadTarget } from "./upload.js";
import { WORK_STATES, formatBytes, formatMoney, formatShare, offerSummary, useNames } from "./words.js";
import {
  checkedUses,
  currentStatement,
  inviteCoCreator,
  offerValues,
  opened,
  reasonsInWords,
  replaceWorkFile,
  saveWorkEdit,
  showWork,
} from "./work.js";

const state = {
  me: null,
  invitations: [],
  worksCursor: null,
  // The upload the form started, kept so that "Resume" can continue it with the same file.
  upload: null,
};

// --- messages -------------------------------------------------------------------------

// A refusal naming fields: each message beside its field in the form, and the alert
// listing them by the fields' names, with what no field of the form took.
function refuse(form, error) {
  if (!form || !error.fields.length) {
    warn(error.message);
    return;
  }
  const { placed, unplaced } = showFieldErrors(form, error.fields);
  if (!placed.length) {
    warn(error.message);
    return;
  }
  const heading =
    placed.length === 1
      ? "One detail needs a change; it is explained beside its field."
      : `${placed.length} details need a change; each is explained beside its field.`;
  warn([heading, ...placed, ...unplaced.map((field) => field.message)].join("\n"));
}

// Runs a user's action: one at a time per button, errors shown, a refused key signs out.
async function act(button, action) {
  const form = button?.form ?? null;
  if (button) button.disabled = true;
  warn("");
  if (form) clearFieldErrors(form);
  try {
    await action();
  } catch (error) {
    if (error instanceof SignedOut) {
      leave();
      warn(`${error.message} Sign in again.`);
    } else if (error instanceof RequestFailed) {
      refuse(form, error);
    } else {
      warn(`Something went wrong: ${error.message}`);
    }
  } finally {
    if (button) button.disabled = false;
  }
}

// --- signing in -----------------------------------------------------------------------

async function signIn(key) {
  const found = (await graphql(ME, {}, key)).me;
  if (found.__typename !== "Account") throw new SignedOut("That API key was not accepted.");
  session.keep(key);
  await enter(found);
}

// Signed in by a session cookie: the page holds only the session's CSRF token.
async function signInWithPassword(email, password) {
  const signed = await auth("sign-in", { email, password });
  session.keepCsrf(signed.csrf_token);
  $("sign-in-password").value = "";
  await enterSession();
}

async function enterSession() {
  const found = (await graphql(ME)).me;
  if (found.__typename !== "Account") throw new SignedOut("Your session has ended.");
  $("sign-out-everywhere").hidden = false;
  await enter(found);
}

async function enter(found) {
  if (!found.roles.includes("CREATOR")) {
    await leaveSession();
    throw new RequestFailed(
      `${found.name}'s account is not a creator's account; the portal is for creators.`,
    );
  }
  state.me = { id: found.id, name: found.name };
  $("account-name").textContent = found.name;
  $("account").hidden = false;
  $("sign-in-section").hidden = true;
  $("portal").hidden = false;
  say(`Signed in as ${found.name}.`);
  await Promise.all([
    loadWorks(),
    loadEarnings(),
    loadPayouts(),
    loadKeys(),
    loadPasskeys(),
    loadNotifications(),
  ]);
  if (window.location.hash.startsWith("#payout-confirm/")) {
    $("payouts-heading").scrollIntoView();
  } else {
    $("works-heading").scrollIntoView();
  }
}

async function signOut(everywhere = false) {
  await leaveSession(everywhere);
  leave();
  say(everywhere ? "Signed out on every device." : "Signed out.");
}

// Ends the session at the marketplace too, when the page was signed in with one.
async function leaveSession(everywhere = false) {
  if (session.csrf()) await auth(everywhere ? "sign-out-everywhere" : "sign-out");
}

function leave() {
  session.forget();
  state.me = null;
  opened.work = null;
  opened.member = null;
  state.invitations = [];
  forgetEarnings();
  state.upload = null;
  $("portal").hidden = true;
  $("account").hidden = true;
  $("sign-out-everywhere").hidden = true;
  $("new-key-box").hidden = true;
  $("new-key").textContent = "";
  $("work-section").hidden = true;
  $("sign-in-section").hidden = false;
  $("api-key").value = "";
  $("api-key").focus();
}

// --- my works -------------------------------------------------------------------------

async function loadInvitations() {
  const found = expect((await graphql(INVITATIONS)).invitations, "InvitationList");
  state.invitations = found.items;
}

function consentCell(work, member) {
  if (!member.consentInForce) return "None";
  return member.ownRecord || member.consentUses.length ? useNames(member.consentUses) : "Given";
}

function partCell(member) {
  if (member.isOwner) return "Owner";
  return member.share === null ? "Co-creator" : `Co-creator, ${formatShare(member.share)}`;
}

async function loadWorks(more = false) {
  const after = more ? opened.worksCursor : null;
  const [works] = await Promise.all([graphql(MY_WORKS, { after }), loadInvitations()]);
  const page = expect(works.works, "WorkConnection");
  const body = $("works-table").tBodies[0];
  if (!more) body.replaceChildren();
  for (const work of page.items) {
    const member = membership(work, state.me, state.invitations);
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
      cell(consentCell(work, member)),
      cell(partCell(member)),
    );
    body.append(row);
  }
  opened.worksCursor = page.nextCursor;
  $("more-works").hidden = !page.nextCursor;
  $("works-empty").hidden = body.rows.length > 0;
}

// --- one work -------------------------------------------------------------------------

async function openWork(workId, options) {
  await showWork(workId, state.me, state.invitations, options);
}

async function giveConsent() {
  const work = opened.work;
  const uses = checkedUses($("consent-uses"));
  if (!uses.length) throw refused("uses", "Choose at least one use.");
  if (!$("consent-rights").checked) {
    throw refused("ownsRights", "Only the person who owns or controls the rights may consent.");
  }
  const people = $("consent-people").checked;
  if (people && !$("consent-releases").checked) {
    throw refused("holdsReleases", "A work that depicts identifiable people needs their releases.");
  }
  if (!$("consent-agree").checked) {
    throw refused("agree", "Tick the box to agree to the statement first.");
  }
  const optIn = await currentStatement("OPT_IN");
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
  await loadWorks();
  await openWork(work.id, { focus: false });
  if (!opened.member.isOwner) {
    say(`Consent recorded for "${work.title}": ${useNames(uses)}.`);
    $("work-heading").focus();
    return;
  }
  say(`Consent recorded for "${work.title}": ${useNames(uses)}. Next: set an offer.`);
  $("offer-price").focus();
}

async function answerInvitation(mutation, field) {
  const work = opened.work;
  const answered = (await graphql(mutation, { id: opened.member.invitation.id }))[field];
  const status = expect(answered, "InvitationAnswerRecorded").invitation.status;
  await loadWorks();
  await openWork(work.id, { focus: false });
  say(
    status === "ACCEPTED"
      ? `You accepted your share of "${work.title}". Next: give your consent.`
      : `You declined your share of "${work.title}".`,
  );
  $("work-heading").focus();
}

async function withdrawConsent() {
  const work = opened.work;
  const withdrawal = await currentStatement("WITHDRAWAL");
  const variables = { id: work.id, statementId: withdrawal.id, statementVersion: withdrawal.version };
  expect((await graphql(WITHDRAW_CONSENT, variables)).withdrawConsent, "ConsentRecorded");
  await loadWorks();
  await openWork(work.id, { focus: false });
  say(`Your consent to "${work.title}" is withdrawn: it leaves future sales.`);
  $("work-heading").focus();
}

async function setOffer() {
  const work = opened.work;
  const values = offerValues();
  if (values.price === null) throw refused("price", "Enter a price, e.g. 12.50.");
  if (!values.uses.length) throw refused("uses", "Choose at least one use the licence grants.");
  if (!values.territory.length) {
    throw refused("territory", "Choose at least one country, or worldwide.");
  }
  const input = {
    priceMinor: values.price.amountMinor,
    currency: values.price.currency,
    terms: {
      uses: values.uses,
      commercialUse: values.commercial,
      attributionRequired: values.attribution,
      durationDays: values.days,
      territory: values.territory,
    },
  };
  const set = (await graphql(SET_OFFER, { id: work.id, input })).setOffer;
  expect(set, "OfferSet");
  await openWork(work.id, { focus: false });
  await loadWorks();
  const listed = opened.work.listed
    ? "It is for sale now."
    : `Not for sale yet: ${reasonsInWords(opened.work, opened.member).join(" ")}`;
  say(`Offer published for "${work.title}": ${formatMoney(values.price)}. ${listed}`);
}

async function withdrawWork() {
  const work = opened.work;
  const withdrawn = (await graphql(WITHDRAW_WORK, { id: work.id })).withdrawWork;
  expect(withdrawn, "WorkWithdrawn");
  await openWork(work.id, { focus: false });
  await loadWorks();
  say(`"${work.title}" is withdrawn: no new buyer can license it.`);
  $("work-heading").focus();
}

// An edit of the open work (its details, or its file), then the work as it now is.
async function changeWork(change) {
  const done = await change();
  await openWork(opened.work.id, { focus: false });
  await loadWorks();
  say(done);
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
  if (!file) throw refused("file", "Choose the file of your work.");
  if (!title) throw refused("title", "Give your work a title.");
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
  say(`"${opened.work.title}" is uploaded and its checksum matches. Next: give your consent.`);
  $("work-heading").focus();
}

async function resumeUpload() {
  $("resume-upload").hidden = true;
  await finishUpload(await uploadTarget(state.upload.workId));
}

async function resumeWorkUpload() {
  const work = opened.work;
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
  if (!key) throw refused("apiKey", "Enter your API key.");
  await signIn(key);
});
on("sign-out", "click", (event) => act(event.currentTarget, () => signOut()));
on("sign-out-everywhere", "click", (event) => act(event.currentTarget, () => signOut(true)));
wirePasskeys(act, enterSession);
submit("password-form", async () => {
  await signInWithPassword($("sign-in-email").value.trim(), $("sign-in-password").value);
});
submit("sign-up-form", async () => {
  const answered = await auth("sign-up", {
    name: $("sign-up-name").value.trim(),
    email: $("sign-up-email").value.trim(),
    password: $("sign-up-password").value,
  });
  $("sign-up-form").reset();
  say(answered.message);
});
submit("forgot-form", async () => {
  const answered = await auth("reset-request", { email: $("forgot-email").value.trim() });
  say(answered.message);
});
submit("reset-form", async () => {
  const token = LINK.exec(window.location.hash)?.[2];
  const answered = await auth("reset", { token, password: $("reset-password").value });
  $("reset-form").hidden = true;
  history.replaceState(null, "", "#sign-in-section");
  say(answered.message);
  $("sign-in-email").focus();
});
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
submit("edit-form", () => changeWork(saveWorkEdit));
submit("replace-form", () => changeWork(replaceWorkFile));
submit("invite-form", () => changeWork(inviteCoCreator));
on("load-chain", "click", (event) => act(event.currentTarget, () => showChain(opened.work)));
on("accept-invitation", "click", (event) =>
  act(event.currentTarget, () => answerInvitation(ACCEPT_INVITATION, "acceptInvitation")),
);
on("decline-invitation", "click", (event) =>
  act(event.currentTarget, () => answerInvitation(DECLINE_INVITATION, "declineInvitation")),
);
on("consent-withdraw-start", "click", () => {
  $("consent-withdraw-start").hidden = true;
  $("consent-withdraw-confirm").hidden = false;
  $("consent-withdraw-no").focus();
});
on("consent-withdraw-no", "click", () => {
  $("consent-withdraw-confirm").hidden = true;
  $("consent-withdraw-start").hidden = false;
  $("consent-withdraw-start").focus();
});
on("consent-withdraw-yes", "click", (event) => act(event.currentTarget, withdrawConsent));
submit("upload-form", uploadNew);
on("resume-upload", "click", (event) => act(event.currentTarget, resumeUpload));
on("resume-work-upload", "click", (event) => act(event.currentTarget, resumeWorkUpload));
on("upload-file", "change", () => {
  const file = $("upload-file").files[0];
  if (!file) return;
  $("upload-media").value = guessMediaType(file);
  if (!$("upload-title").value.trim()) $("upload-title").value = file.name.replace(/\.[^.]+$/, "");
});
on("refresh-earnings", "click", (event) =>
  act(event.currentTarget, () => loadEarnings(opened.work?.id)),
);
on("earnings-period", "change", () => act(null, () => loadEarnings(opened.work?.id)));
on("earnings-currency", "change", () => act(null, async () => renderEarnings()));
submit("statement-form", showStatement);
on("statement-pdf", "click", (event) => act(event.currentTarget, downloadStatementPdf));
submit("key-form", createKey);
on("keys-table", "click", (event) => {
  const button = event.target.closest("button[data-key-id]");
  if (button) act(button, () => revokeKey(button.dataset.keyId));
});
submit("payout-account-form", requestPayoutAccount);
submit("payout-confirm-form", confirmPayoutAccount);
on("refresh-payouts", "click", (event) => act(event.currentTarget, loadPayouts));
on("refresh-notifications", "click", (event) => act(event.currentTarget, loadNotifications));
on("mark-notifications-read", "click", (event) => act(event.currentTarget, markNotificationsRead));
submit("notification-mail-form", saveNotificationMail);

// A mailed link: verify the address at once; a reset shows its form.
const LINK = /^#(verify|reset)\/([\w.-]+)$/;

// Returns what the address's link was: "verified", "reset" (its form shown), or null.
async function takeLink() {
  const link = LINK.exec(window.location.hash);
  if (link?.[1] === "verify") {
    const answered = await auth("verify", { token: link[2] });
    history.replaceState(null, "", "#sign-in-section");
    say(answered.message);
    return "verified";
  }
  if (link?.[1] === "reset") {
    $("reset-form").hidden = false;
    $("reset-password").focus();
    return "reset";
  }
  return null;
}

async function start() {
  const taken = await takeLink();
  if (taken === "reset") return;
  const kept = session.key();
  if (kept) return signIn(kept);
  const current = await auth("session", null, "GET").catch(() => null);
  if (current) {
    session.keepCsrf(current.csrf_token);
    return enterSession();
  }
  if (openSignUp()) return;
  $(taken ? "sign-in-email" : "api-key").focus();
}

// An invitation's mail links to the sign-up form: the person invited has no account yet.
function openSignUp() {
  if (state.me || window.location.hash !== "#sign-up-details") return false;
  $("sign-up-details").open = true;
  $("sign-up-name").focus();
  return true;
}

// A link opened in a tab already on the portal changes only the address's fragment.
window.addEventListener("hashchange", () => {
  if (LINK.test(window.location.hash)) {
    act(null, async () => {
      if ((await takeLink()) === "verified") $("sign-in-email").focus();
    });
  } else if (state.me && window.location.hash.startsWith("#payout-confirm/")) {
    act(null, loadPayouts);
  } else {
    openSignUp();
  }
});

act(null, start);
