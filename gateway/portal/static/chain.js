// A work's verifiable chain: the checkpoint's signed note and its witnesses' cosignatures
// checked here, in the browser (note.js), then each step's inclusion proof against it; a
// step is "proven" only when both hold. The whole export is offered as a download.

import { expect, graphql } from "./api.js";
import { $, say } from "./dom.js";
import { proves } from "./merkle.js";
import { checkNote } from "./note.js";
import { CHAIN } from "./queries.js";
import { STEP_NAMES, formatDate } from "./words.js";

// The download link's object URL, released when the next chain replaces it.
let downloadUrl = null;

export async function showChain(work) {
  const chain = expect((await graphql(CHAIN, { id: work.id })).licenceChain, "LicenceChain");
  const { treeSize, rootHash, issuedAt } = chain.checkpoint;
  // Nothing is proven against a root whose signature does not check out.
  const signed = await checkNote(chain.checkpoint);
  const list = $("chain-entries");
  list.replaceChildren();
  let proven = 0;
  for (const entry of chain.entries) {
    const ok = signed.ok && await proves(
      entry,
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
    mark.textContent = !signed.ok
      ? "Not proven: the checkpoint's signature does not check out."
      : !ok
      ? "Its proof does not check out."
      : entry.entry === null
        ? "Another party's step: its details are withheld from you; that it is in the log is proven."
        : "Proven in the log.";
    item.append(what, detail, mark);
    list.append(item);
  }
  const witnessed = signed.witnesses.length
    ? ` Cosigned by ${signed.witnesses.map((w) => `${w.name} (${formatDate(w.time)})`).join(", ")}.`
    : " No witness cosigned it.";
  $("chain-checkpoint").textContent = signed.ok
    ? `Checkpoint: the log held ${treeSize} entries at ${formatDate(issuedAt)}; ` +
      `root hash ${rootHash}, signed by the log's key ${chain.checkpoint.keyId}.${witnessed} ` +
      `${proven} of ${chain.entries.length} steps proven against it.`
    : `Checkpoint NOT proven: ${signed.problem}. No step is proven against it.`;
  $("chain-pending").textContent = chain.pendingEntries
    ? `${chain.pendingEntries} newer steps wait for the next checkpoint (about a second); show the chain again to include them.`
    : "";
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = URL.createObjectURL(new Blob([chain.document], { type: "application/json" }));
  $("chain-download").href = downloadUrl;
  $("chain-download").download = `chain-work-${work.id}.json`;
  $("chain").hidden = false;
  $("load-chain").textContent = "Show the chain again";
  say(`The chain of "${work.title}": ${chain.entries.length} steps, ${proven} proven.`);
}
