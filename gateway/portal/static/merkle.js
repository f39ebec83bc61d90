// Checks a chain entry's inclusion proof against a checkpoint's root (RFC 9162 2.1.3.2),
// the same check `assent verify` makes: leaf = H(0x00 || entry), node = H(0x01 || l || r).

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

// True when an entry sits at `index` of the tree of `treeSize` with `rootHex`. The entry is
// its logged text, or, for another party's entry withheld from this viewer, null with the
// leaf hash the log gave it: the proof then shows that leaf is in the log, not what it says.
export async function proves(entry, leafHex, index, treeSize, proofHex, rootHex) {
  if (!(index >= 0 && index < treeSize)) return false;
  let result =
    entry === null ? fromHex(leafHex) : await hashOf(0x00, new TextEncoder().encode(entry));
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
