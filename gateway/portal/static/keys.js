// API keys, for programs a creator runs: made with a name (the key is shown this once),
// listed by their visible start, and revoked.

import { expect, graphql } from "./api.js";
import { $, cell, say } from "./dom.js";
import { API_KEYS, CREATE_API_KEY, REVOKE_API_KEY } from "./queries.js";
import { formatDate } from "./words.js";

export async function loadKeys() {
  const me = (await graphql(API_KEYS)).me;
  const keys = expect(expect(me, "Account").apiKeys, "ApiKeyPage").items;
  $("keys-table").tBodies[0].replaceChildren(
    ...keys.map((key) => {
      const row = document.createElement("tr");
      const action = document.createElement("td");
      if (!key.revokedAt) {
        const revoke = document.createElement("button");
        revoke.type = "button";
        revoke.className = "secondary";
        revoke.textContent = `Revoke ${key.name}`;
        revoke.dataset.keyId = key.id;
        action.append(revoke);
      }
      row.append(
        cell(key.name),
        cell(`${key.prefix}…`),
        cell(formatDate(key.createdAt)),
        cell(key.revokedAt ? `Revoked ${formatDate(key.revokedAt)}` : key.lastUsedAt ? `Used ${formatDate(key.lastUsedAt)}` : "Never used"),
        action,
      );
      return row;
    }),
  );
}

export async function createKey() {
  const name = $("key-name").value.trim();
  const made = expect((await graphql(CREATE_API_KEY, { name })).createApiKey, "ApiKeyCreated");
  $("key-name").value = "";
  $("new-key").textContent = made.apiKey.secret;
  $("new-key-box").hidden = false;
  await loadKeys();
  say(`The key “${made.apiKey.key.name}” is made: copy it now, it is shown this once.`);
}

export async function revokeKey(keyId) {
  const revoked = expect((await graphql(REVOKE_API_KEY, { id: keyId })).revokeApiKey, "ApiKeyRevoked");
  await loadKeys();
  say(`The key “${revoked.key.name}” is revoked: programs using it are refused from now on.`);
}
