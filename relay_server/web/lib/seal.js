// Sealing a recording chunk by chunk, on the phone (FORMAT.md §3), as vault/seal.py.

import { concat } from "./bytes.js";
import {
  CONTEXT,
  ChunkKind,
  MAX_CHUNK_SIZE_LIMIT,
  MAX_INDEX,
  MAX_STANZAS,
  RECORDING_ID_SIZE,
  chunkAssociatedData,
  chunkBytes,
  chunkHash,
  chunkNonce,
  chunkSignatureMessage,
  headerBytes,
  headerHash,
  headerSignedPart,
  payloadKey,
} from "./format.js";
import * as sodium from "./sodium.js";

/** @typedef {import("./format.js").Header} Header */
/** @typedef {import("./format.js").Chunk} Chunk */

/**
 * What signs for the device: a WebCrypto Ed25519 key that cannot leave the browser, or
 * libsodium's (lib/device_key.js). Its signatures are standard Ed25519 either way.
 * @typedef {object} DeviceSigner
 * @property {Uint8Array} publicKey the 32-byte Ed25519 public key
 * @property {(message: Uint8Array) => Promise<Uint8Array>} sign a detached signature
 */

export const DEFAULT_MAX_CHUNK_SIZE = 4 * 1024 * 1024 + sodium.AEAD_TAG_SIZE;

/** A uniformly shuffled copy (Fisher–Yates with libsodium's random numbers). @template T @param {readonly T[]} items */
function shuffled(items) {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const random = new DataView(sodium.randomBytes(4).buffer).getUint32(0);
    const j = random % (i + 1); // bias below 2^-28 for at most 64 recipients
    const held = /** @type {T} */ (out[i]);
    out[i] = /** @type {T} */ (out[j]);
    out[j] = held;
  }
  return out;
}

/**
 * Seals one recording: a signed header, then chunks, then the final end chunk. Make one
 * with `RecordingSealer.start`, which draws the randomness and the time, as in Python.
 */
export class RecordingSealer {
  /**
   * @param {object} options
   * @param {DeviceSigner} options.signer
   * @param {readonly Uint8Array[]} options.recipients X25519 public keys (1..64)
   * @param {string} options.mediaType
   * @param {number} [options.maxChunkSize]
   * @param {number} [options.createdMs]
   */
  static async start({ signer, recipients, mediaType, maxChunkSize = DEFAULT_MAX_CHUNK_SIZE, createdMs = Date.now() }) {
    return RecordingSealer.fromParts({
      signer,
      recipients: shuffled(recipients),
      mediaType,
      maxChunkSize,
      createdMs,
      recordingId: sodium.randomBytes(RECORDING_ID_SIZE),
      fileKey: sodium.randomBytes(sodium.KEY_SIZE),
    });
  }

  /**
   * The header sealed from given parts, stanzas in recipient order (tests; never reuse
   * a recording id and file key).
   * @param {object} parts
   * @param {DeviceSigner} parts.signer
   * @param {readonly Uint8Array[]} parts.recipients
   * @param {string} parts.mediaType
   * @param {number} parts.maxChunkSize
   * @param {number} parts.createdMs
   * @param {Uint8Array} parts.recordingId
   * @param {Uint8Array} parts.fileKey
   */
  static async fromParts({ signer, recipients, mediaType, maxChunkSize, createdMs, recordingId, fileKey }) {
    if (recipients.length < 1 || recipients.length > MAX_STANZAS) throw new RangeError(`a recording needs 1..${MAX_STANZAS} recipients`);
    if (new Set(recipients.map((r) => r.join(","))).size !== recipients.length) throw new RangeError("a recipient is listed twice");
    if (maxChunkSize < sodium.AEAD_TAG_SIZE || maxChunkSize > MAX_CHUNK_SIZE_LIMIT) throw new RangeError("maxChunkSize out of range");
    /** @type {Header} */
    const header = {
      recordingId,
      deviceKey: signer.publicKey,
      createdMs,
      maxChunkSize,
      mediaType,
      stanzas: recipients.map((r) => sodium.sealTo(r, fileKey)),
      signature: new Uint8Array(sodium.SIGNATURE_SIZE),
    };
    header.signature = await signer.sign(concat(CONTEXT.headerSignature, headerSignedPart(header)));
    return new RecordingSealer(signer, header, fileKey);
  }

  /** Not for callers (use `start`). @param {DeviceSigner} signer @param {Header} header @param {Uint8Array} fileKey */
  constructor(signer, header, fileKey) {
    this.signer = signer;
    this.header = header;
    this.headerBytes = headerBytes(header);
    this.headerHash = headerHash(header);
    this.payloadKey = payloadKey(fileKey, header.recordingId);
    fileKey.fill(0);
    this.prevHash = this.headerHash;
    this.nextIndex = 0;
    this.finished = false;
    /** @type {Promise<unknown>} chunks are sealed one after another, in index order */
    this.queue = Promise.resolve();
  }

  get maxPlaintextSize() {
    return this.header.maxChunkSize - sodium.AEAD_TAG_SIZE;
  }

  /**
   * Seal the next chunk; kind END finishes the recording. Calls are serialised, so the
   * chain and the indices follow the order of the calls.
   * @param {number} kind one of ChunkKind
   * @param {Uint8Array} plaintext
   * @param {number} [deviceTimeMs]
   * @returns {Promise<{chunk: Chunk, bytes: Uint8Array, hash: Uint8Array}>} hash: its chunk_hash (what its receipt names)
   */
  seal(kind, plaintext, deviceTimeMs) {
    const sealed = this.queue.then(() => this.sealNow(kind, plaintext, deviceTimeMs ?? Date.now()));
    this.queue = sealed.catch(() => undefined);
    return sealed;
  }

  /** @param {number} kind @param {Uint8Array} plaintext @param {number} deviceTimeMs */
  async sealNow(kind, plaintext, deviceTimeMs) {
    if (this.finished) throw new Error("the recording is already finished");
    if (plaintext.length > this.maxPlaintextSize) throw new RangeError(`chunk plaintext of ${plaintext.length} bytes exceeds ${this.maxPlaintextSize}`);
    if (this.nextIndex > MAX_INDEX) throw new RangeError("too many chunks in one recording");
    /** @type {Chunk} */
    const chunk = {
      recordingId: this.header.recordingId,
      index: this.nextIndex,
      kind,
      final: kind === ChunkKind.END,
      deviceTimeMs,
      prevHash: this.prevHash,
      ciphertextHash: new Uint8Array(sodium.HASH_SIZE),
      signature: new Uint8Array(sodium.SIGNATURE_SIZE),
      ciphertext: new Uint8Array(0),
    };
    chunk.ciphertext = sodium.aeadEncrypt(this.payloadKey, chunkNonce(chunk), chunkAssociatedData(chunk, this.headerHash), plaintext);
    chunk.ciphertextHash = sodium.hash32(chunk.ciphertext);
    chunk.signature = await this.signer.sign(chunkSignatureMessage(chunk, this.headerHash));
    this.prevHash = chunkHash(chunk);
    this.nextIndex += 1;
    if (chunk.final) {
      this.finished = true;
      this.payloadKey.fill(0);
    }
    return { chunk, bytes: chunkBytes(chunk), hash: this.prevHash };
  }

  /** The end chunk (an empty plaintext or a JSON object such as {"reason": "stopped"}). @param {Record<string, unknown>} [end] */
  finish(end = { reason: "stopped" }) {
    return this.seal(ChunkKind.END, new TextEncoder().encode(JSON.stringify(end)));
  }
}
