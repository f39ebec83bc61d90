// Passkeys: signing in with one (the browser offers the passkeys it holds for this site,
// so no email is typed), and adding, listing and removing them while signed in with an
// email and password. The browser's own navigator.credentials does the work; the
// marketplace sends options and checks answers with bytes as base64url text, which the
// helpers below turn into and out of the ArrayBuffers the browser wants.

import { RequestFailed, auth, session } from "./api.js";
import { $, cell, refused, say } from "./dom.js";
import { formatDate } from "./words.js";

// --- base64url ------------------------------------------------------------------------

export function toBytes(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

export function toText(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const described = (list = []) => list.map((known) => ({ ...known, id: toBytes(known.id) }));

// --- the browser's ceremonies ---------------------------------------------------------

export function passkeysWork() {
  return Boolean(window.PublicKeyCredential && navigator.credentials && window.isSecureContext);
}

// A passkey belongs to one host: a portal opened by its IP address (the local default,
// 127.0.0.1) keeps its passkeys at "localhost", the same machine by name.
function checkHost(rpId) {
  const host = window.location.hostname;
  if (host === rpId || host.endsWith(`.${rpId}`)) return;
  const here = new URL(window.location.href);
  here.hostname = rpId;
  here.hash = "";
  throw new RequestFailed(`Passkeys work on this marketplace at ${here.href}: open the portal there to use one.`);
}

function refusedByBrowser(error) {
  if (error.name === "NotAllowedError") return new RequestFailed("No passkey was used: the request was cancelled or timed out.");
  if (error.name === "InvalidStateError") return new RequestFailed("This device already holds a passkey for your account.");
  return new RequestFailed(`The browser could not use a passkey: ${error.message}`);
}

function credentialJSON(credential) {
  const { response } = credential;
  const answer = { clientDataJSON: toText(response.clientDataJSON) };
  if (response.attestationObject) {
    answer.attestationObject = toText(response.attestationObject);
    answer.transports = response.getTransports?.() ?? [];
  } else {
    answer.authenticatorData = toText(response.authenticatorData);
    answer.signature = toText(response.signature);
    if (response.userHandle) answer.userHandle = toText(response.userHandle);
  }
  return {
    id: credential.id,
    rawId: toText(credential.rawId),
    type: credential.type,
    response: answer,
    clientExtensionResults: credential.getClientExtensionResults(),
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
  };
}

async function ceremony(make) {
  if (!passkeysWork()) throw new RequestFailed("This browser cannot use passkeys here; sign in with your email and password.");
  try {
    return await make();
  } catch (error) {
    throw refusedByBrowser(error);
  }
}

// Signs in: the session's answer (as a password's sign-in gives), its CSRF token kept.
export async function signInWithPasskey() {
  const { options } = await auth("passkeys/sign-in-options");
  checkHost(options.rpId);
  const credential = await ceremony(() =>
    navigator.credentials.get({
      publicKey: { ...options, challenge: toBytes(options.challenge), allowCredentials: described(options.allowCredentials) },
    }),
  );
  const signed = await auth("passkeys/sign-in", { credential: credentialJSON(credential) });
  session.keepCsrf(signed.csrf_token);
  return signed;
}

export async function addPasskey() {
  const name = $("passkey-name").value.trim();
  if (!name) throw refused("name", "Name the passkey, e.g. after the device that holds it.");
  const { options } = await auth("passkeys/registration-options");
  checkHost(options.rp.id);
  const credential = await ceremony(() =>
    navigator.credentials.create({
      publicKey: {
        ...options,
        challenge: toBytes(options.challenge),
        user: { ...options.user, id: toBytes(options.user.id) },
        excludeCredentials: described(options.excludeCredentials),
      },
    }),
  );
  const added = await auth("passkeys", { name, credential: credentialJSON(credential) });
  $("passkey-name").value = "";
  await loadPasskeys();
  say(`The passkey “${added.name}” is added: you can sign in with it instead of your password.`);
}

export async function removePasskey(button) {
  await auth(`passkeys/${encodeURIComponent(button.dataset.passkeyId)}`, null, "DELETE");
  await loadPasskeys();
  say(`The passkey “${button.dataset.passkeyName}” is removed: it no longer signs you in.`);
}

// Passkeys are managed from a session signed in with an email; a key's tab sees why not.
export async function loadPasskeys() {
  const bySession = Boolean(session.csrf()) && !session.key();
  $("passkey-form").hidden = !bySession;
  $("passkeys-table").hidden = !bySession;
  $("passkeys-need-session").hidden = bySession;
  $("passkeys-empty").hidden = true;
  if (!bySession) return;
  const passkeys = await auth("passkeys", null, "GET");
  $("passkeys-table").tBodies[0].replaceChildren(
    ...passkeys.map((passkey) => {
      const row = document.createElement("tr");
      const action = document.createElement("td");
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary";
      remove.textContent = `Remove ${passkey.name}`;
      remove.dataset.passkeyId = passkey.id;
      remove.dataset.passkeyName = passkey.name;
      action.append(remove);
      row.append(
        cell(passkey.name),
        cell(formatDate(passkey.created_at)),
        cell(passkey.last_used_at ? `Used ${formatDate(passkey.last_used_at)}` : "Never used"),
        action,
      );
      return row;
    }),
  );
  $("passkeys-empty").hidden = passkeys.length > 0;
}

// The page's passkey controls: `act` runs an action with its errors shown, `enterSession`
// opens the portal on the session a passkey's sign-in made.
export function wirePasskeys(act, enterSession) {
  $("passkey-sign-in").hidden = !passkeysWork();
  $("passkey-sign-in").addEventListener("click", (event) =>
    act(event.currentTarget, async () => {
      await signInWithPasskey();
      await enterSession();
    }),
  );
  $("passkey-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act(event.submitter, addPasskey);
  });
  $("passkeys-table").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-passkey-id]");
    if (button) act(button, () => removePasskey(button));
  });
}
