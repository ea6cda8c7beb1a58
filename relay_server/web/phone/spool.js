// The phone's spool in IndexedDB (the browser's FORMAT.md §5.1): every sealed chunk is
// stored, and its transaction committed with strict durability, before it is sent, so a
// reload, a crash or going offline loses nothing that was sealed. A chunk stays until
// it has a receipt that verifies; stopping a recording never deletes anything.

const DB_NAME = "testigo";
const DB_VERSION = 1;

/**
 * @typedef {object} SpooledRecording
 * @property {string} id the recording id, lower-case hex
 * @property {Uint8Array} header
 * @property {number} createdMs
 */

/**
 * @typedef {object} SpooledChunk
 * @property {string} recording
 * @property {number} index
 * @property {Uint8Array} bytes
 * @property {Uint8Array} chunkHash
 * @property {number} deviceTimeMs
 * @property {Uint8Array | null} receipt the verified receipt, once there is one
 */

/** @typedef {{recording: string, index: number}} ChunkKey */

/** @template T @param {IDBRequest<T>} request @returns {Promise<T>} */
function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** @param {IDBTransaction} transaction @returns {Promise<void>} */
function committed(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error ?? new Error("the browser's storage refused the write"));
  });
}

/** @returns {Promise<IDBDatabase>} */
function openDatabase() {
  const request = indexedDB.open(DB_NAME, DB_VERSION);
  request.onupgradeneeded = () => {
    const db = request.result;
    db.createObjectStore("config");
    db.createObjectStore("recordings", { keyPath: "id" });
    const chunks = db.createObjectStore("chunks", { keyPath: ["recording", "index"] });
    chunks.createIndex("unreceipted", "unreceipted");
  };
  return done(request);
}

export class Spool {
  /** @param {IDBDatabase} db */
  constructor(db) {
    this.db = db;
  }

  static async open() {
    return new Spool(await openDatabase());
  }

  /**
   * @param {string[]} stores
   * @param {(transaction: IDBTransaction) => void} work
   */
  async write(stores, work) {
    const transaction = this.db.transaction(stores, "readwrite", { durability: "strict" });
    const finished = committed(transaction);
    work(transaction);
    await finished;
  }

  /** @param {string} key @returns {Promise<unknown>} */
  async getConfig(key) {
    return done(this.db.transaction("config").objectStore("config").get(key));
  }

  /** @param {string} key @param {unknown} value */
  async putConfig(key, value) {
    await this.write(["config"], (t) => t.objectStore("config").put(value, key));
  }

  /** @param {SpooledRecording} recording */
  async putRecording(recording) {
    await this.write(["recordings"], (t) => t.objectStore("recordings").put(recording));
  }

  /** A sealed chunk, stored durably; only then may it be sent. @param {Omit<SpooledChunk, "receipt">} chunk */
  async putChunk(chunk) {
    await this.write(["chunks"], (t) => {
      t.objectStore("chunks").add({ ...chunk, receipt: null, unreceipted: 1 });
    });
  }

  /** Keep a receipt that verified for a chunk. @param {string} recording @param {number} index @param {Uint8Array} receipt */
  async putReceipt(recording, index, receipt) {
    await this.write(["chunks"], (t) => {
      const chunks = t.objectStore("chunks");
      const request = chunks.get([recording, index]);
      request.onsuccess = () => {
        const found = /** @type {SpooledChunk & {unreceipted?: number}} */ (request.result);
        if (found === undefined) return;
        const { unreceipted: _, ...rest } = found;
        chunks.put({ ...rest, receipt });
      };
    });
  }

  /** @returns {Promise<SpooledRecording[]>} */
  async recordings() {
    const all = /** @type {SpooledRecording[]} */ (await done(this.db.transaction("recordings").objectStore("recordings").getAll()));
    return all.sort((a, b) => a.createdMs - b.createdMs);
  }

  /** @param {string} id @returns {Promise<SpooledRecording | undefined>} */
  async recording(id) {
    return /** @type {SpooledRecording | undefined} */ (await done(this.db.transaction("recordings").objectStore("recordings").get(id)));
  }

  /** One spooled chunk, or undefined. @param {string} recording @param {number} index @returns {Promise<SpooledChunk | undefined>} */
  async chunk(recording, index) {
    return /** @type {SpooledChunk | undefined} */ (await done(this.db.transaction("chunks").objectStore("chunks").get([recording, index])));
  }

  /**
   * Which chunks, of every recording, have no verified receipt: their keys only, so that
   * a phone that was offline for an hour does not read every waiting chunk to count them.
   * @returns {Promise<ChunkKey[]>}
   */
  async unreceipted() {
    const index = this.db.transaction("chunks").objectStore("chunks").index("unreceipted");
    const keys = /** @type {[string, number][]} */ (await done(index.getAllKeys(1)));
    return keys.map(([recording, chunkIndex]) => ({ recording, index: chunkIndex }));
  }
}
