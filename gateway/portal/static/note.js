// Checks a checkpoint's C2SP signed note in the browser, as `assent verify` does:
// the log's Ed25519 signature over "<origin>\n<size>\n<base64 root>\n" (c2sp.org/signed-note,
// tlog-checkpoint), made with the published audit-checkpoint key, and each witness's
// cosignature/v1 (c2sp.org/tlog-cosignature) over "cosignature/v1\ntime <t>\n" + that text.
// Key IDs are SHA-256(name || "\n" || type || public key)[:4]; type 0x01 for the log's key,
// 0x04 for a witness's. Ed25519 is WebCrypto's where the browser has it, else the vendored
// @noble/ed25519 (vendor/VENDORED.md).

const ORIGIN = "assent-audit-log";
const KEYS_URL = new URL("../.well-known/assent-keys.json", document.baseURI);
const DASH = "\u2014";
const encoder = new TextEncoder();

function fromBase64(text) {
  const binary = atob(text);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function toBase64(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

function fromHex(hex) {
  return Uint8Array.from(hex.match(/../g) ?? [], (byte) => parseInt(byte, 16));
}

function equal(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

async function keyId(name, type, publicKey) {
  const bytes = new Uint8Array([...encoder.encode(`${name}\n`), type, ...publicKey]);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).slice(0, 4);
}

let nobleVerify = null;

// Ed25519 through WebCrypto; the vendored library only where WebCrypto lacks it.
export async function verifyEd25519(publicKey, signature, message) {
  if (nobleVerify === null) {
    try {
      const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, [
        "verify",
      ]);
      return await crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
    } catch (error) {
      if (error instanceof DOMException && error.name === "DataError") return false;
      const noble = await import("./vendor/noble-ed25519.js");
      nobleVerify = noble.verifyAsync;
    }
  }
  try {
    return await nobleVerify(signature, message, publicKey);
  } catch {
    return false;
  }
}

// The note's text and signature lines; null when it is not a signed note.
function parseNote(note) {
  if (typeof note !== "string" || !note.endsWith("\n")) return null;
  const split = note.lastIndexOf("\n\n");
  if (split < 0) return null;
  const signatures = [];
  for (const line of note.slice(split + 2, -1).split("\n")) {
    const match = line.match(new RegExp(`^${DASH} (\\S+) ([A-Za-z0-9+/=]+)$`));
    if (!match) return null;
    const raw = fromBase64(match[2]);
    if (raw.length < 5) return null;
    signatures.push({ name: match[1], id: raw.slice(0, 4), signature: raw.slice(4) });
  }
  return { text: note.slice(0, split + 1), signatures };
}

// A vkey "<name>+<hex key ID>+<base64(type || key)>" of a witness (type 0x04).
async function witnessKey(vkey) {
  const [name, hexId, encoded] = [...vkey.split("+", 2), vkey.split("+").slice(2).join("+")];
  const raw = fromBase64(encoded);
  if (raw.length !== 33 || raw[0] !== 0x04) return null;
  const id = await keyId(name, 0x04, raw.slice(1));
  return equal(id, fromHex(hexId)) ? { name, id, publicKey: raw.slice(1) } : null;
}

let publishedKeys = null;

async function logKey(keyIdHex) {
  const find = () =>
    publishedKeys?.find((key) => key.key_id === keyIdHex && key.purpose === "audit-checkpoint");
  // Read once per page, and again for a key not seen yet (the log's key rotated since).
  if (!find()) {
    const response = await fetch(KEYS_URL, { credentials: "omit", cache: "no-store" });
    if (!response.ok) throw new Error(`the published keys answered ${response.status}`);
    publishedKeys = (await response.json()).keys;
  }
  return find();
}

// {ok, problem, witnesses: [{name, time}]} for a checkpoint as the gateway serves it.
export async function checkNote(checkpoint) {
  const fail = (problem) => ({ ok: false, problem, witnesses: [] });
  const parsed = parseNote(checkpoint.note);
  if (parsed === null) return fail("the checkpoint carries no signed note");
  const expected = `${ORIGIN}\n${checkpoint.treeSize}\n${toBase64(fromHex(checkpoint.rootHash))}\n`;
  if (parsed.text !== expected) return fail("its signed note states another tree head");
  let published;
  try {
    published = await logKey(checkpoint.keyId);
  } catch (error) {
    return fail(`the log's published keys could not be read (${error.message})`);
  }
  if (!published) return fail(`key ${checkpoint.keyId} is not a published checkpoint key`);
  const publicKey = fromBase64(published.public_key);
  const id = await keyId(ORIGIN, 0x01, publicKey);
  const text = encoder.encode(parsed.text);
  const logLine = parsed.signatures.find((s) => s.name === ORIGIN && equal(s.id, id));
  if (!logLine) return fail("its signed note carries no signature of the log's key");
  if (!(await verifyEd25519(publicKey, logLine.signature, text))) {
    return fail("the log's signature on the checkpoint does not verify");
  }
  const witnesses = [];
  for (const vkey of checkpoint.witnesses) {
    const key = await witnessKey(vkey);
    if (key === null) return fail(`${vkey.split("+")[0]} is not a witness key`);
    const line = parsed.signatures.find((s) => s.name === key.name && equal(s.id, key.id));
    if (!line || line.signature.length !== 72) return fail(`${key.name} did not cosign it`);
    const time = new DataView(line.signature.buffer, line.signature.byteOffset).getBigUint64(0);
    const message = new Uint8Array([
      ...encoder.encode(`cosignature/v1\ntime ${time}\n`),
      ...text,
    ]);
    if (!(await verifyEd25519(key.publicKey, line.signature.slice(8), message))) {
      return fail(`the cosignature of witness ${key.name} does not verify`);
    }
    witnesses.push({ name: key.name, time: new Date(Number(time) * 1000).toISOString() });
  }
  return { ok: true, problem: null, witnesses };
}
