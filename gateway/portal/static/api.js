// The portal's only way to the marketplace: GraphQL, with the API key in a header, or
// with the session cookie set by signing in with an email and password, and that
// session's CSRF token in a header; for signing in, /auth; and, with the same
// credentials, files the gateway makes (a statement's PDF).
//
// A key lives in sessionStorage: this tab only, gone when the tab closes, and never in a
// URL, a cookie or a query string. A session's cookie is HttpOnly: this page never sees
// it, only its CSRF token, kept in memory and asked for again when the page loads.

const KEY_ITEM = "assent.apiKey";
const GRAPHQL_URL = new URL("../graphql", document.baseURI);
const AUTH_URL = new URL("../auth/", document.baseURI);

export class SignedOut extends Error {}

export class RequestFailed extends Error {
  constructor(message, fields = []) {
    super(message);
    this.fields = fields;
  }
}

let csrfToken = null;

export const session = {
  key: () => sessionStorage.getItem(KEY_ITEM),
  keep: (key) => sessionStorage.setItem(KEY_ITEM, key),
  forget: () => {
    sessionStorage.removeItem(KEY_ITEM);
    csrfToken = null;
  },
  // Signed in with a password: the cookie goes by itself, the CSRF token with each call.
  csrf: () => csrfToken,
  keepCsrf: (token) => {
    csrfToken = token;
  },
};

// A call to /auth: its JSON answer, or a RequestFailed with the fields it names.
export async function auth(path, body = null, method = "POST") {
  const headers = { "content-type": "application/json" };
  if (csrfToken) headers["x-csrf-token"] = csrfToken;
  let response;
  try {
    response = await fetch(new URL(path, AUTH_URL), {
      method,
      headers,
      body: body === null ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new RequestFailed("The marketplace did not answer; check your connection and try again.");
  }
  if (response.status === 204) return {};
  const answer = await response.json().catch(() => ({}));
  if (response.ok) return answer;
  if (response.status === 429) {
    const wait = response.headers.get("retry-after") || "a few";
    throw new RequestFailed(`Too many attempts; try again in ${wait} seconds.`);
  }
  throw new RequestFailed(answer.detail || `The marketplace answered ${response.status}.`, answer.fields || []);
}

// The data of a GraphQL operation; throws SignedOut when the key is refused.
export async function graphql(query, variables = {}, key = session.key()) {
  if (!key && !csrfToken) throw new SignedOut("sign in first");
  const headers = { "content-type": "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  else headers["x-csrf-token"] = csrfToken;
  let response;
  try {
    response = await fetch(GRAPHQL_URL, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
      credentials: key ? "omit" : "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new RequestFailed("The marketplace did not answer; check your connection and try again.");
  }
  if (response.status === 401) {
    throw new SignedOut(key ? "That API key was not accepted." : "Your session has ended.");
  }
  if (response.status === 429) {
    const wait = response.headers.get("retry-after") || "a few";
    throw new RequestFailed(`Too many requests; try again in ${wait} seconds.`);
  }
  const body = await response.json().catch(() => ({}));
  if (body.errors?.length) throw new RequestFailed(body.errors.map((e) => e.message).join("\n"));
  if (!response.ok || !body.data) throw new RequestFailed(`The marketplace answered ${response.status}.`);
  return body.data;
}

// A file the gateway makes for the caller (a statement's PDF, under the portal's own
// path), asked for with the same credentials as GraphQL: its bytes and the name the
// gateway gives it. A refusal arrives as `{"error", "detail"}` and is thrown in words.
export async function download(path, params = {}, key = session.key()) {
  if (!key && !csrfToken) throw new SignedOut("sign in first");
  const url = new URL(path, document.baseURI);
  for (const [name, value] of Object.entries(params)) {
    if (value) url.searchParams.set(name, value);
  }
  const headers = {};
  if (key) headers.authorization = `Bearer ${key}`;
  else headers["x-csrf-token"] = csrfToken;
  let response;
  try {
    response = await fetch(url, { headers, credentials: key ? "omit" : "same-origin", cache: "no-store" });
  } catch {
    throw new RequestFailed("The marketplace did not answer; check your connection and try again.");
  }
  if (response.ok) {
    const disposition = response.headers.get("content-disposition") || "";
    const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? url.pathname.split("/").pop();
    return { blob: await response.blob(), name };
  }
  const answer = await response.json().catch(() => ({}));
  if (response.status === 401) {
    throw new SignedOut(answer.detail || (key ? "That API key was not accepted." : "Your session has ended."));
  }
  if (response.status === 429) {
    const wait = response.headers.get("retry-after") || "a few";
    throw new RequestFailed(`Too many requests; try again in ${wait} seconds.`);
  }
  throw new RequestFailed(answer.detail || `The marketplace answered ${response.status}.`, answer.fields || []);
}

// A union result that must be `expected`; any other member becomes a readable error.
export function expect(result, expected) {
  if (result.__typename === expected) return result;
  if (result.__typename === "Unauthenticated") throw new SignedOut(result.message);
  const fields = result.fields || [];
  const detail = fields.map((f) => `${f.field}: ${f.message}`).join("\n");
  throw new RequestFailed(
    [result.message || result.__typename, detail].filter(Boolean).join("\n"),
    fields,
  );
}
