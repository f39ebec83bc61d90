// The portal's only way to the marketplace: GraphQL, with the API key in a header.
//
// The key lives in sessionStorage: this tab only, gone when the tab closes, and never in a
// URL, a cookie or a query string.

const KEY_ITEM = "assent.apiKey";
const GRAPHQL_URL = new URL("../graphql", document.baseURI);

export class SignedOut extends Error {}

export class RequestFailed extends Error {
  constructor(message, fields = []) {
    super(message);
    this.fields = fields;
  }
}

export const session = {
  key: () => sessionStorage.getItem(KEY_ITEM),
  keep: (key) => sessionStorage.setItem(KEY_ITEM, key),
  forget: () => sessionStorage.removeItem(KEY_ITEM),
};

// The data of a GraphQL operation; throws SignedOut when the key is refused.
export async function graphql(query, variables = {}, key = session.key()) {
  if (!key) throw new SignedOut("sign in first");
  let response;
  try {
    response = await fetch(GRAPHQL_URL, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new RequestFailed("The marketplace did not answer; check your connection and try again.");
  }
  if (response.status === 401) throw new SignedOut("That API key was not accepted.");
  if (response.status === 429) {
    const wait = response.headers.get("retry-after") || "a few";
    throw new RequestFailed(`Too many requests; try again in ${wait} seconds.`);
  }
  const body = await response.json().catch(() => ({}));
  if (body.errors?.length) throw new RequestFailed(body.errors.map((e) => e.message).join("\n"));
  if (!response.ok || !body.data) throw new RequestFailed(`The marketplace answered ${response.status}.`);
  return body.data;
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
