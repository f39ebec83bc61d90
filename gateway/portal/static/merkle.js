// Checks a chain entry's inclusion proof against a checkpoint's root (RFC 9162 2.1.3.2),
// the same check `assent verify` makes: leaf = H(0x00 || leaf bytes), node = H(0x01 || l || r).
// An entry logged before links began is its own leaf bytes; a linked entry's leaf bytes are
// the canonical JSON {"event_sha256": sha256 of the entry, "links": [...]}
// (assent/protocol/_links.py), so its links to each subject's previous entry are proven too.

function fromHex(hex) {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${hex.slice(0, 70)} is not a sha256 in hex`);
  return Uint8Array.from(hex.match(/../g), (byte) => parseInt(byte, 16));
}

async function hashOf(prefix, ...parts) {
  const length = parts.reduce((sum, part) => sum + part.length, 1);
  const bytes = new Uint8Array(length);
  bytes[0] = prefix;
  let offset = 1;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function equal(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

const encoder = new TextEncoder();

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function toHex(bytes) {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// RFC 8785 of {"event_sha256", "links"}: every value is hex, a UUID, a kind name or an
// integer, which JSON writes without escapes, and keys go in the order JCS sorts them.
function linkedLeafBytes(eventSha256, links) {
  const parts = links.map(({ kind, id, previous }) => {
    const shown =
      previous === null ? "null" : `{"index":${previous.index},"leaf_hash":"${previous.leafHash}"}`;
    return `{"id":"${id}","kind":"${kind}","previous":${shown}}`;
  });
  return `{"event_sha256":"${eventSha256}","links":[${parts.join(",")}]}`;
}

// The entry's leaf hash: from its bytes, its links, or, for another party's entry withheld
// from this viewer, as the log gave it (then checked against its links where it has them).
// Null when what is shown does not add up.
async function leafOf(entry) {
  if (entry.links) {
    const eventSha256 =
      entry.entry === null ? entry.eventSha256 : toHex(await sha256(encoder.encode(entry.entry)));
    if (!/^[0-9a-f]{64}$/.test(eventSha256 ?? "")) return null;
    const leaf = await hashOf(0x00, encoder.encode(linkedLeafBytes(eventSha256, entry.links)));
    if (entry.leafHash && !equal(leaf, fromHex(entry.leafHash))) return null;
    return leaf;
  }
  return entry.entry === null
    ? fromHex(entry.leafHash)
    : await hashOf(0x00, encoder.encode(entry.entry));
}

// True when an entry (as the chain shows it: entry, leafHash, links, eventSha256) sits at
// `index` of the tree of `treeSize` with `rootHex`. A withheld entry's proof shows that its
// leaf is in the log, not what it says.
export async function proves(entry, index, treeSize, proofHex, rootHex) {
  if (!(index >= 0 && index < treeSize)) return false;
  let result = await leafOf(entry);
  if (result === null) return false;
  // Sizes stay far below 2^53; plain arithmetic instead of 32-bit shifts keeps them exact.
  let fn = index;
  let sn = treeSize - 1;
  for (const siblingHex of proofHex) {
    const sibling = fromHex(siblingHex);
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      result = await hashOf(0x01, sibling, result);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      result = await hashOf(0x01, result, sibling);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(result, fromHex(rootHex));
}
