// Which release of the app this browser installed, and which one the person accepted
// (PROTOCOL-free: the app's own bookkeeping). Read by the service worker (sw.js) and by
// the page (phone/app_update.js), so both live in one small IndexedDB database.

const DB_NAME = "testigo-app";
const STORE = "release";

/** @returns {Promise<IDBDatabase>} */
function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** @param {"installed" | "accepted"} key @returns {Promise<string | undefined>} */
export async function getRelease(key) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const request = db.transaction(STORE).objectStore(STORE).get(key);
    request.onsuccess = () => resolve(typeof request.result === "string" ? request.result : undefined);
    request.onerror = () => reject(request.error);
  });
}

/** @param {"installed" | "accepted"} key @param {string} release */
export async function setRelease(key, release) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(STORE, "readwrite", { durability: "strict" });
    transaction.objectStore(STORE).put(release, key);
    transaction.oncomplete = () => resolve(undefined);
    transaction.onerror = () => reject(transaction.error);
  });
}

/** Lower-case hex sha256 of bytes (WebCrypto). @param {BufferSource} data */
export async function sha256Hex(data) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The canonical text of a release's file listing, as relay_server/web_app.py hashes it
 * (keys sorted, no spaces): its sha256 is the release id.
 * @param {Record<string, string>} files
 */
export function canonicalListing(files) {
  /** @type {Record<string, string>} */
  const sorted = {};
  for (const key of Object.keys(files).sort()) sorted[key] = /** @type {string} */ (files[key]);
  return JSON.stringify(sorted);
}
