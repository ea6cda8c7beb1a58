// The device's proof for GET /v1/webrtc/config (PROTOCOL.md §3.1), as
// vault/wire/device_proof.py: a fresh signature over the relay key and the time.

import { Writer, toHex, utf8 } from "../bytes.js";

const ICE_PROOF_CONTEXT = utf8("testigo/v1 ice-request");

/** @typedef {import("../seal.js").DeviceSigner} DeviceSigner */

/**
 * The Authorization header value: `Testigo-Device <tg-device-…> <time_ms> <signature hex>`.
 * @param {DeviceSigner} signer
 * @param {string} deviceKeyString
 * @param {Uint8Array} relayKey the pinned relay key (32 bytes)
 * @param {number} timeMs
 */
export async function proofHeader(signer, deviceKeyString, relayKey, timeMs) {
  const message = new Writer().bytes(ICE_PROOF_CONTEXT).bytes(relayKey).u64(timeMs).done();
  return `Testigo-Device ${deviceKeyString} ${timeMs} ${toHex(await signer.sign(message))}`;
}
