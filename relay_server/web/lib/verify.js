// Checking a whole recording: signatures, order, hash chain, gaps, completeness
// (FORMAT.md §3.2, §3.3), as vault/verify.py and vault/archive.py. Same rules, same
// vectors (tests/vectors/), same verdicts.

import { equal } from "./bytes.js";
import { MalformedError, NotAChunkError, TamperedError } from "./errors.js";
import {
  CHUNK_PREAMBLE_SIZE,
  ChunkKind,
  MAX_METADATA_SIZE,
  chunkFromParts,
  chunkHash,
  chunkSignatureMessage,
  headerHash,
  headerSignatureIsValid,
  parseChunkPreamble,
  parseHeaderPrefix,
} from "./format.js";
import { RecordingOpener } from "./open.js";
import * as sodium from "./sodium.js";

/** @typedef {import("./format.js").Header} Header */
/** @typedef {import("./format.js").Chunk} Chunk */
/** @typedef {import("./open.js").RecipientIdentity} RecipientIdentity */
/** @typedef {"complete" | "incomplete" | "tampered" | "malformed"} Status */

export const INVALID_CHUNK = "failed authentication";
export const MAX_METADATA_DEPTH = 64;

/**
 * @typedef {object} ChunkCheck
 * @property {Chunk | null} chunk
 * @property {number} size
 * @property {string | null} problem
 * @property {Uint8Array | null} plaintext
 * @property {Record<string, unknown> | null} metadata
 */

/** @typedef {{first: number, last: number}} Gap */
/** @typedef {{index: number | null, what: string}} Problem */

/** How deeply arrays and objects nest in JSON text (brackets in strings ignored). @param {string} text */
export function nestingDepth(text) {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  let escaped = false;
  for (const character of text) {
    if (inString) {
      if (escaped) escaped = false;
      else if (character === "\\") escaped = true;
      else if (character === '"') inString = false;
    } else if (character === '"') inString = true;
    else if (character === "[" || character === "{") {
      depth += 1;
      deepest = Math.max(deepest, depth);
    } else if (character === "]" || character === "}") depth -= 1;
  }
  return deepest;
}

// fatal: invalid UTF-8 is an error; ignoreBOM: a byte order mark stays, and JSON refuses it.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * A metadata chunk's JSON object ({} when empty); MalformedError otherwise. RFC 8259 only,
 * at most MAX_METADATA_DEPTH levels, at most 64 KiB (FORMAT.md §3.2).
 * @param {Uint8Array} plaintext
 * @returns {Record<string, unknown>}
 */
export function parseMetadata(plaintext) {
  if (plaintext.length === 0) return {};
  if (plaintext.length > MAX_METADATA_SIZE) throw new MalformedError("metadata chunk larger than 64 KiB");
  let text;
  try {
    text = strictUtf8.decode(plaintext);
  } catch {
    throw new MalformedError("metadata chunk is not JSON");
  }
  if (nestingDepth(text) > MAX_METADATA_DEPTH) throw new MalformedError(`metadata chunk nests more than ${MAX_METADATA_DEPTH} levels`);
  /** @type {unknown} */
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MalformedError("metadata chunk is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new MalformedError("metadata chunk is not a JSON object");
  return /** @type {Record<string, unknown>} */ (value);
}

/** What a reader found; the fields mirror vault's VerifyReport. */
export class VerifyReport {
  /** @param {Header} header @param {boolean} decrypted */
  constructor(header, decrypted) {
    this.createdMs = header.createdMs;
    this.mediaType = header.mediaType;
    this.recipients = header.stanzas.length;
    this.decrypted = decrypted;
    this.chunksValid = 0;
    this.bytesValid = 0;
    /** @type {Gap[]} */
    this.gaps = [];
    /** @type {Problem[]} */
    this.problems = [];
    /** @type {number | null} */
    this.finalIndex = null;
    /** @type {number | null} */
    this.lastIndex = null;
    this.chainIntact = true;
    /** @type {string | null} */
    this.framingError = null;
    this.locations = 0;
    /** @type {number | null} the first media chunk with no init before it */
    this.mediaBeforeInit = null;
  }

  get tampered() {
    return this.problems.length > 0 || !this.chainIntact;
  }

  /** @returns {Status} */
  get status() {
    if (this.tampered) return "tampered";
    if (this.framingError !== null) return "malformed";
    if (this.gaps.length > 0 || this.finalIndex === null || this.mediaBeforeInit !== null) return "incomplete";
    return "complete";
  }

  get missingIndices() {
    /** @type {number[]} */
    const out = [];
    for (const gap of this.gaps) for (let i = gap.first; i <= gap.last; i += 1) out.push(i);
    return out;
  }

  /** The last index of a recording without a final chunk (null if it has one). */
  get interruptedAfter() {
    return this.finalIndex !== null ? null : this.lastIndex;
  }
}

/** Verifies one recording whose header signature has been checked. */
export class RecordingVerifier {
  /** @param {Header} header @param {RecordingOpener | null} opener */
  constructor(header, opener) {
    if (!headerSignatureIsValid(header)) throw new TamperedError("the recording header failed authentication");
    this.header = header;
    this.headerHash = headerHash(header);
    this.opener = opener;
    this.report = new VerifyReport(header, opener !== null);
    /** @type {Uint8Array | null} */
    this.lastHash = null;
    this.lastIndex = -1;
    this.initSeen = false;
  }

  /**
   * The checks of one chunk on its own.
   * @param {Uint8Array} preamble
   * @param {Uint8Array} ciphertext
   * @returns {ChunkCheck}
   */
  check(preamble, ciphertext) {
    const size = preamble.length + ciphertext.length;
    /** @type {Chunk} */
    let chunk;
    try {
      chunk = chunkFromParts(preamble, ciphertext);
    } catch (error) {
      if (error instanceof MalformedError) return { chunk: null, size, problem: error.message, plaintext: null, metadata: null };
      throw error;
    }
    return this.checkParsed(chunk, size);
  }

  /** @param {Chunk} chunk @param {number} size @returns {ChunkCheck} */
  checkParsed(chunk, size) {
    /** @param {string | null} problem @returns {ChunkCheck} */
    const result = (problem) => ({ chunk, size, problem, plaintext: null, metadata: null });
    if (!equal(chunk.recordingId, this.header.recordingId)) return result("belongs to another recording");
    if (chunk.ciphertext.length > this.header.maxChunkSize) return result("larger than the header allows");
    if (
      !(
        sodium.constantTimeEqual(sodium.hash32(chunk.ciphertext), chunk.ciphertextHash) &&
        sodium.ed25519Verify(this.header.deviceKey, chunkSignatureMessage(chunk, this.headerHash), chunk.signature)
      )
    ) {
      return result(INVALID_CHUNK);
    }
    if (this.opener === null) return result(null);
    /** @type {Uint8Array} */
    let plaintext;
    try {
      plaintext = this.opener.open(chunk);
    } catch (error) {
      if (error instanceof TamperedError) return result(INVALID_CHUNK);
      throw error;
    }
    /** @type {Record<string, unknown> | null} */
    let metadata = null;
    if (chunk.kind === ChunkKind.METADATA) {
      try {
        metadata = parseMetadata(plaintext);
      } catch (error) {
        if (error instanceof MalformedError) return result(error.message);
        throw error;
      }
    }
    return { chunk, size, problem: null, plaintext, metadata };
  }

  /**
   * Apply the sequence checks; true when the chunk counts as valid evidence.
   * @param {ChunkCheck} check
   */
  accept(check) {
    const report = this.report;
    const chunk = check.chunk;
    if (check.problem !== null || chunk === null) {
      report.problems.push({ index: chunk !== null ? chunk.index : null, what: check.problem ?? "unreadable" });
      return false;
    }
    if (report.finalIndex !== null) {
      report.problems.push({ index: chunk.index, what: "follows the final chunk" });
      return false;
    }
    if (chunk.index <= this.lastIndex) {
      report.problems.push({ index: chunk.index, what: chunk.index === this.lastIndex ? "duplicate" : "out of order" });
      return false;
    }
    if (chunk.kind === ChunkKind.INIT) {
      if (this.initSeen) {
        report.problems.push({ index: chunk.index, what: "second init segment" });
        return false;
      }
      this.initSeen = true;
    } else if (chunk.kind === ChunkKind.MEDIA && !this.initSeen && report.mediaBeforeInit === null) {
      report.mediaBeforeInit = chunk.index;
    }
    const expectedPrev = chunk.index === 0 ? this.headerHash : this.lastHash;
    if (chunk.index === this.lastIndex + 1 && expectedPrev !== null && !sodium.constantTimeEqual(chunk.prevHash, expectedPrev)) {
      report.chainIntact = false;
      report.problems.push({ index: chunk.index, what: "hash chain broken" });
    }
    if (chunk.index > this.lastIndex + 1) report.gaps.push({ first: this.lastIndex + 1, last: chunk.index - 1 });
    this.lastIndex = chunk.index;
    this.lastHash = chunkHash(chunk);
    report.lastIndex = chunk.index;
    report.chunksValid += 1;
    report.bytesValid += check.size;
    if (chunk.final) report.finalIndex = chunk.index;
    if (check.metadata !== null && check.metadata["type"] === "location") report.locations += 1;
    return true;
  }
}

/**
 * Split a recording file (FORMAT.md §3) into its header, its chunks' parts and, when the
 * bytes stop making sense, a framing error; nothing after it is read.
 * @param {Uint8Array} data
 */
export function frameRecording(data) {
  const { header, length } = parseHeaderPrefix(data);
  /** @type {{preamble: Uint8Array, ciphertext: Uint8Array}[]} */
  const chunks = [];
  /** @type {string | null} */
  let framingError = null;
  let offset = length;
  while (offset < data.length) {
    const preamble = data.subarray(offset, offset + CHUNK_PREAMBLE_SIZE);
    if (preamble.length < CHUNK_PREAMBLE_SIZE) {
      framingError = "the file ends inside a chunk (truncated)";
      break;
    }
    let ciphertextLength;
    try {
      ciphertextLength = parseChunkPreamble(preamble).length;
    } catch (error) {
      if (error instanceof NotAChunkError) framingError = "unexpected bytes after the last chunk (trailing garbage)";
      else if (error instanceof MalformedError) framingError = error.message;
      else throw error;
      break;
    }
    const ciphertext = data.subarray(offset + CHUNK_PREAMBLE_SIZE, offset + CHUNK_PREAMBLE_SIZE + ciphertextLength);
    if (ciphertext.length < ciphertextLength) {
      framingError = "the file ends inside a chunk (truncated)";
      break;
    }
    chunks.push({ preamble, ciphertext });
    offset += CHUNK_PREAMBLE_SIZE + ciphertextLength;
  }
  return { header, headerLength: length, chunks, framingError };
}

/**
 * Verify (and with identities, open) a whole recording file. Throws MalformedError when
 * the header does not parse, TamperedError when its signature fails, NotForMeError when
 * identities are given and none opens it. Problems with chunks do not throw.
 * @param {Uint8Array} data
 * @param {RecipientIdentity[]} identities
 * @returns {{report: VerifyReport, valid: {chunk: Chunk, plaintext: Uint8Array | null}[]}}
 */
export function verifyRecording(data, identities = []) {
  const framed = frameRecording(data);
  const opener = identities.length > 0 ? new RecordingOpener(framed.header, identities) : null;
  const verifier = new RecordingVerifier(framed.header, opener);
  /** @type {{chunk: Chunk, plaintext: Uint8Array | null}[]} */
  const valid = [];
  for (const { preamble, ciphertext } of framed.chunks) {
    const check = verifier.check(preamble, ciphertext);
    if (verifier.accept(check) && check.chunk !== null) valid.push({ chunk: check.chunk, plaintext: check.plaintext });
  }
  if (framed.framingError !== null) {
    const at = framed.headerLength + framed.chunks.reduce((sum, c) => sum + c.preamble.length + c.ciphertext.length, 0);
    verifier.report.framingError = `at byte ${at}: ${framed.framingError}`;
  }
  return { report: verifier.report, valid };
}
