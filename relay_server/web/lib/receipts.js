// Receipts: the relay's signed word that it stored a chunk (PROTOCOL.md §2), as
// vault/receipts.py. The phone counts a chunk as safe off the device only with a receipt
// that verifies under the relay key it pinned at setup and names that very chunk.

import { Writer, concat, equal, readU64, utf8 } from "./bytes.js";
import { MalformedError } from "./errors.js";
import * as sodium from "./sodium.js";

export const RECEIPT_SIZE = 160;
const RECEIPT_MAGIC = utf8("tgrc");
const RECEIPT_CONTEXT = utf8("testigo/v1 receipt");

/**
 * @typedef {object} Receipt
 * @property {Uint8Array} recordingId
 * @property {number} index
 * @property {Uint8Array} chunkHash
 * @property {number} receivedMs
 * @property {Uint8Array} relayKey
 * @property {Uint8Array} signature
 * @property {Uint8Array} bytes the 160 bytes as received
 */

/** @param {Uint8Array} data @returns {Receipt} */
export function parseReceipt(data) {
  if (data.length !== RECEIPT_SIZE) throw new MalformedError(`a receipt is ${RECEIPT_SIZE} bytes, got ${data.length}`);
  if (!equal(data.subarray(0, 4), RECEIPT_MAGIC)) throw new MalformedError("not a Testigo receipt (bad magic)");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return {
    recordingId: data.slice(4, 20),
    index: view.getUint32(20),
    chunkHash: data.slice(24, 56),
    receivedMs: readU64(view, 56),
    relayKey: data.slice(64, 96),
    signature: data.slice(96, 160),
    bytes: data.slice(),
  };
}

/** @param {Receipt} receipt */
function signatureMessage(receipt) {
  return concat(RECEIPT_CONTEXT, receipt.bytes.subarray(4, 64));
}

/** Whether the receipt is for that very chunk (not whether it is signed). @param {Receipt} receipt @param {Uint8Array} recordingId @param {number} index @param {Uint8Array} chunkHash */
export function receiptNames(receipt, recordingId, index, chunkHash) {
  return equal(receipt.recordingId, recordingId) && receipt.index === index && equal(receipt.chunkHash, chunkHash);
}

/**
 * What a receipt is worth to the phone, against the relay key it pinned.
 * @param {Receipt} receipt
 * @param {Uint8Array} pinnedRelayKey
 * @returns {"valid" | "other relay" | "bad signature"}
 */
export function checkReceipt(receipt, pinnedRelayKey) {
  if (!sodium.constantTimeEqual(receipt.relayKey, pinnedRelayKey)) return "other relay";
  return sodium.ed25519Verify(pinnedRelayKey, signatureMessage(receipt), receipt.signature) ? "valid" : "bad signature";
}

/** A receipt's bytes from its fields (tests). @param {Omit<Receipt, "bytes">} fields */
export function receiptBytes(fields) {
  return new Writer()
    .bytes(RECEIPT_MAGIC)
    .bytes(fields.recordingId)
    .u32(fields.index)
    .bytes(fields.chunkHash)
    .u64(fields.receivedMs)
    .bytes(fields.relayKey)
    .bytes(fields.signature)
    .done();
}
