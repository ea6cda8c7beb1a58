// Byte layouts of the header and chunks (FORMAT.md §3), as vault/format.py.
// parseHeader / parseChunk check what can be checked without keys; signatures need only
// the header's device key; opening needs a file key.

import { Writer, concat, equal, readU64, utf8 } from "./bytes.js";
import { MalformedError, NotAChunkError, UnsupportedVersionError } from "./errors.js";
import * as sodium from "./sodium.js";

export const VERSION_LINE = utf8("testigo/v1\n");
const VERSION_PREFIX = utf8("testigo/v");
export const RECORDING_ID_SIZE = 16;
export const MIN_CHUNK_SIZE = sodium.AEAD_TAG_SIZE;
export const MAX_CHUNK_SIZE_LIMIT = 16 * 1024 * 1024 + sodium.AEAD_TAG_SIZE;
export const MAX_STANZAS = 64;
export const MAX_MEDIA_TYPE = 255;
export const MAX_INDEX = 2 ** 31 - 1;
export const MAX_METADATA_SIZE = 64 * 1024;
export const FLAG_FINAL = 0x01;
const HEADER_FIXED_SIZE = 16 + 32 + 8 + 4 + 1;
export const HEADER_MAX_SIZE = VERSION_LINE.length + HEADER_FIXED_SIZE + MAX_MEDIA_TYPE + 1 + MAX_STANZAS * sodium.SEALED_KEY_SIZE + sodium.SIGNATURE_SIZE;

export const CHUNK_MAGIC = utf8("tgck");
export const CHUNK_SIGNED_SIZE = 102;
export const CHUNK_AD_SIZE = 66;
export const CHUNK_PREAMBLE_SIZE = CHUNK_SIGNED_SIZE + sodium.SIGNATURE_SIZE; // 166

export const CONTEXT = Object.freeze({
  headerSignature: utf8("testigo/v1 header-signature"),
  headerHash: utf8("testigo/v1 header-hash"),
  payloadKey: utf8("testigo/v1 payload-key"),
  chunkAd: utf8("testigo/v1 chunk"),
  chunkSignature: utf8("testigo/v1 chunk-signature"),
  chunkHash: utf8("testigo/v1 chunk-hash"),
});

/** @enum {number} */
export const ChunkKind = Object.freeze({ INIT: 1, MEDIA: 2, METADATA: 3, END: 4 });

/**
 * @typedef {object} Header
 * @property {Uint8Array} recordingId
 * @property {Uint8Array} deviceKey
 * @property {number} createdMs
 * @property {number} maxChunkSize
 * @property {string} mediaType
 * @property {Uint8Array[]} stanzas
 * @property {Uint8Array} signature
 */

/**
 * @typedef {object} Chunk
 * @property {Uint8Array} recordingId
 * @property {number} index
 * @property {number} kind one of ChunkKind
 * @property {boolean} final
 * @property {number} deviceTimeMs
 * @property {Uint8Array} prevHash
 * @property {Uint8Array} ciphertextHash
 * @property {Uint8Array} signature
 * @property {Uint8Array} ciphertext
 */

/** @param {string} mediaType */
function isPrintableAscii(mediaType) {
  return /^[\x20-\x7e]*$/.test(mediaType);
}

/** Checks of a header's fields, as vault's Header.__post_init__. @param {Header} header */
export function checkHeader(header) {
  if (header.recordingId.length !== RECORDING_ID_SIZE) throw new MalformedError("header: recording id must be 16 bytes");
  if (header.deviceKey.length !== sodium.KEY_SIZE) throw new MalformedError("header: device key must be 32 bytes");
  if (!(header.maxChunkSize >= MIN_CHUNK_SIZE && header.maxChunkSize <= MAX_CHUNK_SIZE_LIMIT)) {
    throw new MalformedError(`header: max chunk size ${header.maxChunkSize} outside ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE_LIMIT}`);
  }
  if (header.mediaType.length < 1 || header.mediaType.length > MAX_MEDIA_TYPE) throw new MalformedError(`header: media type must be 1..${MAX_MEDIA_TYPE} bytes`);
  if (!isPrintableAscii(header.mediaType)) throw new MalformedError("header: media type must be printable ASCII");
  if (header.stanzas.length < 1 || header.stanzas.length > MAX_STANZAS) throw new MalformedError(`header: stanza count must be 1..${MAX_STANZAS}`);
  if (header.stanzas.some((s) => s.length !== sodium.SEALED_KEY_SIZE)) throw new MalformedError("header: every stanza must be 80 bytes");
  if (header.signature.length !== sodium.SIGNATURE_SIZE) throw new MalformedError("header: signature must be 64 bytes");
}

/** header[0 : 73+M+80·S] @param {Header} header */
export function headerSignedPart(header) {
  const mediaType = utf8(header.mediaType);
  const writer = new Writer().bytes(VERSION_LINE).bytes(header.recordingId).bytes(header.deviceKey);
  writer.u64(header.createdMs).u32(header.maxChunkSize).u8(mediaType.length).bytes(mediaType);
  writer.u8(header.stanzas.length);
  for (const stanza of header.stanzas) writer.bytes(stanza);
  return writer.done();
}

/** @param {Header} header */
export function headerBytes(header) {
  return concat(headerSignedPart(header), header.signature);
}

/** @param {Header} header */
export function headerHash(header) {
  return sodium.hash32(concat(CONTEXT.headerHash, headerBytes(header)));
}

/** @param {Header} header */
export function headerSignatureIsValid(header) {
  return (
    sodium.ed25519PublicIsValid(header.deviceKey) &&
    sodium.ed25519Verify(header.deviceKey, concat(CONTEXT.headerSignature, headerSignedPart(header)), header.signature)
  );
}

/** @param {Uint8Array} data @param {Uint8Array} prefix */
function startsWith(data, prefix) {
  return data.length >= prefix.length && equal(data.subarray(0, prefix.length), prefix);
}

/**
 * Parse a header at the start of data; returns it and its length in bytes.
 * @param {Uint8Array} data
 * @returns {{header: Header, length: number}}
 */
export function parseHeaderPrefix(data) {
  if (!startsWith(data, VERSION_LINE)) {
    if (startsWith(data, VERSION_PREFIX)) throw new UnsupportedVersionError("unsupported format version");
    throw new MalformedError("not a Testigo recording (no testigo/v1 version line)");
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let offset = VERSION_LINE.length;
  if (data.length < offset + HEADER_FIXED_SIZE) throw new MalformedError("header is truncated");
  const recordingId = data.slice(offset, offset + 16);
  const deviceKey = data.slice(offset + 16, offset + 48);
  const createdMs = readU64(view, offset + 48);
  const maxChunkSize = view.getUint32(offset + 56);
  const mediaLength = view.getUint8(offset + 60);
  offset += HEADER_FIXED_SIZE;
  if (data.length < offset + mediaLength + 1) throw new MalformedError("header is truncated");
  const rawMedia = data.subarray(offset, offset + mediaLength);
  offset += mediaLength;
  if (rawMedia.some((c) => c < 0x20 || c > 0x7e)) throw new MalformedError("header: media type must be printable ASCII");
  const stanzaCount = view.getUint8(offset);
  offset += 1;
  const end = offset + stanzaCount * sodium.SEALED_KEY_SIZE + sodium.SIGNATURE_SIZE;
  if (data.length < end) throw new MalformedError("header is truncated");
  const stanzas = [];
  for (let i = 0; i < stanzaCount; i += 1) {
    stanzas.push(data.slice(offset + i * sodium.SEALED_KEY_SIZE, offset + (i + 1) * sodium.SEALED_KEY_SIZE));
  }
  offset += stanzaCount * sodium.SEALED_KEY_SIZE;
  /** @type {Header} */
  const header = {
    recordingId,
    deviceKey,
    createdMs,
    maxChunkSize,
    mediaType: String.fromCharCode(...rawMedia),
    stanzas,
    signature: data.slice(offset, end),
  };
  checkHeader(header);
  return { header, length: end };
}

/** Exactly one header. @param {Uint8Array} data */
export function parseHeader(data) {
  const { header, length } = parseHeaderPrefix(data);
  if (length !== data.length) throw new MalformedError("header is followed by unexpected bytes");
  return header;
}

/**
 * Frame a chunk from its first 166 bytes: (index, ciphertext length). Only what framing
 * needs is checked (the magic, a length a reader can skip).
 * @param {Uint8Array} preamble
 */
export function parseChunkPreamble(preamble) {
  if (preamble.length < CHUNK_PREAMBLE_SIZE) throw new MalformedError("chunk is truncated");
  if (!startsWith(preamble, CHUNK_MAGIC)) throw new NotAChunkError("not a Testigo chunk (bad magic)");
  const view = new DataView(preamble.buffer, preamble.byteOffset, preamble.byteLength);
  const length = view.getUint32(98);
  if (length > MAX_CHUNK_SIZE_LIMIT) throw new MalformedError(`chunk: ciphertext length ${length} out of range`);
  return { index: view.getUint32(20), length };
}

/**
 * A chunk from its 166-byte preamble and its ciphertext.
 * @param {Uint8Array} preamble
 * @param {Uint8Array} ciphertext
 * @returns {Chunk}
 */
export function chunkFromParts(preamble, ciphertext) {
  const { length } = parseChunkPreamble(preamble);
  if (preamble.length !== CHUNK_PREAMBLE_SIZE || ciphertext.length !== length) throw new MalformedError("chunk length does not match its ciphertext");
  const view = new DataView(preamble.buffer, preamble.byteOffset, preamble.byteLength);
  const kind = view.getUint8(24);
  const flags = view.getUint8(25);
  if (kind < ChunkKind.INIT || kind > ChunkKind.END) throw new MalformedError(`chunk: unknown kind ${kind}`);
  if (flags & ~FLAG_FINAL) throw new MalformedError(`chunk: unknown flags 0x${flags.toString(16).padStart(2, "0")}`);
  /** @type {Chunk} */
  const chunk = {
    recordingId: preamble.slice(4, 20),
    index: view.getUint32(20),
    kind,
    final: (flags & FLAG_FINAL) !== 0,
    deviceTimeMs: readU64(view, 26),
    prevHash: preamble.slice(34, 66),
    ciphertextHash: preamble.slice(66, 98),
    signature: preamble.slice(CHUNK_SIGNED_SIZE, CHUNK_PREAMBLE_SIZE),
    ciphertext,
  };
  checkChunk(chunk);
  return chunk;
}

/** Exactly one chunk. @param {Uint8Array} data */
export function parseChunk(data) {
  const { length } = parseChunkPreamble(data);
  if (data.length !== CHUNK_PREAMBLE_SIZE + length) {
    throw new MalformedError(data.length < CHUNK_PREAMBLE_SIZE + length ? "chunk is truncated" : "chunk is followed by unexpected bytes");
  }
  return chunkFromParts(data.subarray(0, CHUNK_PREAMBLE_SIZE), data.subarray(CHUNK_PREAMBLE_SIZE));
}

/** Checks of a chunk's fields, as vault's Chunk.__post_init__. @param {Chunk} chunk */
export function checkChunk(chunk) {
  if (chunk.recordingId.length !== RECORDING_ID_SIZE) throw new MalformedError("chunk: recording id must be 16 bytes");
  if (!(Number.isInteger(chunk.index) && chunk.index >= 0 && chunk.index <= MAX_INDEX)) throw new MalformedError(`chunk: index ${chunk.index} out of range`);
  if (chunk.final !== (chunk.kind === ChunkKind.END)) throw new MalformedError("chunk: the final flag must be set on the end chunk only");
  if (chunk.ciphertext.length < MIN_CHUNK_SIZE || chunk.ciphertext.length > MAX_CHUNK_SIZE_LIMIT) throw new MalformedError("chunk: ciphertext size out of range");
}

/** chunk[0:102] @param {Chunk} chunk */
export function chunkSignedPart(chunk) {
  return new Writer()
    .bytes(CHUNK_MAGIC)
    .bytes(chunk.recordingId)
    .u32(chunk.index)
    .u8(chunk.kind)
    .u8(chunk.final ? FLAG_FINAL : 0)
    .u64(chunk.deviceTimeMs)
    .bytes(chunk.prevHash)
    .bytes(chunk.ciphertextHash)
    .u32(chunk.ciphertext.length)
    .done();
}

/** @param {Chunk} chunk */
export function chunkBytes(chunk) {
  return concat(chunkSignedPart(chunk), chunk.signature, chunk.ciphertext);
}

/** @param {Chunk} chunk */
export function chunkHash(chunk) {
  return sodium.hash32(concat(CONTEXT.chunkHash, chunkSignedPart(chunk)));
}

/** recording_id || index(4) || kind(1) || flags(1) || 0x00 0x00 @param {Chunk} chunk */
export function chunkNonce(chunk) {
  return new Writer().bytes(chunk.recordingId).u32(chunk.index).u8(chunk.kind).u8(chunk.final ? FLAG_FINAL : 0).u8(0).u8(0).done();
}

/** @param {Chunk} chunk @param {Uint8Array} hashOfHeader */
export function chunkAssociatedData(chunk, hashOfHeader) {
  return concat(CONTEXT.chunkAd, hashOfHeader, chunkSignedPart(chunk).subarray(0, CHUNK_AD_SIZE));
}

/** @param {Chunk} chunk @param {Uint8Array} hashOfHeader */
export function chunkSignatureMessage(chunk, hashOfHeader) {
  return concat(CONTEXT.chunkSignature, hashOfHeader, chunkSignedPart(chunk));
}

/** @param {Uint8Array} fileKey @param {Uint8Array} recordingId */
export function payloadKey(fileKey, recordingId) {
  return sodium.keyedHash32(fileKey, concat(CONTEXT.payloadKey, recordingId));
}
