// Sending a work's bytes straight to the object store, with progress, resumably.
//
// Small files go up in one presigned PUT. Above the store's threshold the upload target
// names a part size: each part is hashed here, presigned on its own, and PUT; the target
// lists the parts already stored, so a resumed upload sends only the rest.

import { expect, graphql } from "./api.js";
import { COMPLETE_UPLOAD, PRESIGN_PARTS, UPLOAD_TARGET } from "./queries.js";
import { digestHex } from "./sha256.js";

const PARALLEL_PARTS = 3;
// The browser sets these itself and refuses to let a page set them.
const BROWSER_HEADERS = new Set(["content-length", "host", "connection"]);

class UploadInterrupted extends Error {}

function put(url, headers, body, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", url);
    for (const { name, value } of headers) {
      if (!BROWSER_HEADERS.has(name.toLowerCase())) request.setRequestHeader(name, value);
    }
    request.upload.onprogress = (event) => onProgress(event.loaded);
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) {
        onProgress(body.size);
        resolve();
      } else {
        reject(new UploadInterrupted(`the object store answered ${request.status}`));
      }
    };
    request.onerror = () => reject(new UploadInterrupted("the connection to the object store failed"));
    request.onabort = () => reject(new UploadInterrupted("the upload was stopped"));
    request.send(body);
  });
}

export async function uploadTarget(workId) {
  const found = await graphql(UPLOAD_TARGET, { id: workId });
  return expect(found.uploadTarget, "UploadTarget");
}

// Sends what the target still lacks; onProgress(bytesStored, totalBytes).
export async function sendFile(target, file, onProgress) {
  // A Blob slice without a type, so the browser adds no Content-Type of its own.
  const whole = file.slice(0, file.size);
  if (target.method === "SINGLE") {
    await put(target.put.url, target.put.headers, whole, (sent) => onProgress(sent, file.size));
    return;
  }
  const partSize = Number(target.partSize);
  const stored = new Set(target.uploadedParts.map((part) => part.partNumber));
  const sizeOf = (number) => Math.min(partSize, file.size - (number - 1) * partSize);
  let done = 0;
  for (const number of stored) done += sizeOf(number);
  const inFlight = new Map();
  const report = () => {
    let sending = 0;
    for (const sent of inFlight.values()) sending += sent;
    onProgress(done + sending, file.size);
  };
  report();
  const waiting = [];
  for (let number = 1; number <= target.partCount; number++) {
    if (!stored.has(number)) waiting.push(number);
  }
  let failure = null;
  const worker = async () => {
    while (waiting.length && failure === null) {
      const number = waiting.shift();
      const body = file.slice((number - 1) * partSize, (number - 1) * partSize + sizeOf(number));
      try {
        const sha256 = await digestHex(await body.arrayBuffer());
        const presigned = await graphql(PRESIGN_PARTS, {
          id: target.workId,
          parts: [{ partNumber: number, sha256 }],
        });
        const [part] = expect(presigned.presignUploadParts, "PartsPresigned").parts;
        inFlight.set(number, 0);
        await put(part.url, part.headers, body, (sent) => {
          inFlight.set(number, sent);
          report();
        });
        done += body.size;
      } catch (error) {
        failure ??= error;
      } finally {
        inFlight.delete(number);
        report();
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL_PARTS }, worker));
  if (failure !== null) throw failure;
}

// The marketplace checks the stored bytes against the declared size and sha256.
export async function completeUpload(workId) {
  const completed = (await graphql(COMPLETE_UPLOAD, { id: workId })).completeUpload;
  if (completed.__typename === "UploadRejected") {
    throw new Error(`The file was refused: ${completed.reason}`);
  }
  return expect(completed, "UploadCompleted").work;
}
