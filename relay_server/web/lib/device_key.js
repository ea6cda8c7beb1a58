// The device's signing key, made and kept in the browser (issue 12): a non-extractable
// WebCrypto Ed25519 key where the browser has one (standard Ed25519 signatures), else a
// libsodium key. Either way it is stored in IndexedDB by lib/phone_store.js and never
// leaves the browser; only its public key is sent (to enroll).

import * as sodium from "./sodium.js";

/**
 * A stored device key: the form IndexedDB holds.
 * @typedef {{kind: "webcrypto", privateKey: CryptoKey, publicKey: Uint8Array} | {kind: "sodium", seed: Uint8Array, publicKey: Uint8Array}} StoredDeviceKey
 */

/** @typedef {import("./seal.js").DeviceSigner} DeviceSigner */

/** A new key: WebCrypto's when it can make one, else libsodium's. @returns {Promise<StoredDeviceKey>} */
export async function newDeviceKey() {
  try {
    const pair = /** @type {CryptoKeyPair} */ (await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]));
    const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    return { kind: "webcrypto", privateKey: pair.privateKey, publicKey };
  } catch {
    const seed = sodium.randomBytes(sodium.KEY_SIZE);
    return { kind: "sodium", seed, publicKey: sodium.ed25519Keypair(seed).publicKey };
  }
}

/** The signer of a stored key. @param {StoredDeviceKey} stored @returns {DeviceSigner} */
export function deviceSigner(stored) {
  if (stored.kind === "webcrypto") {
    const privateKey = stored.privateKey;
    return {
      publicKey: stored.publicKey,
      sign: async (message) => new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, privateKey, new Uint8Array(message))),
    };
  }
  const { secretKey, publicKey } = sodium.ed25519Keypair(stored.seed);
  return { publicKey, sign: async (message) => sodium.ed25519Sign(secretKey, message) };
}
