// The only module that touches libsodium.js (as vault/_primitives.py is for PyNaCl).
// Everything else calls these small functions. Sizes are named constants and every
// function checks its inputs' lengths exactly.

import sodium from "libsodium-wrappers-sumo";

export const KEY_SIZE = 32;
export const HASH_SIZE = 32;
export const SIGNATURE_SIZE = 64;
export const SEALED_KEY_SIZE = 80; // crypto_box_seal of a 32-byte key
export const AEAD_NONCE_SIZE = 24;
export const AEAD_TAG_SIZE = 16;

/** Raised by the functions below when an authentication check fails. */
export class AuthenticationFailed extends Error {
  constructor() {
    super("authentication failed");
    this.name = "AuthenticationFailed";
  }
}

/** @type {Promise<void> | null} */
let loading = null;

/** Resolves once libsodium is usable; call (and await) before anything else here. */
export function ready() {
  if (loading === null) loading = sodium.ready;
  return loading;
}

/**
 * @param {string} name
 * @param {Uint8Array} value
 * @param {number} size
 */
function check(name, value, size) {
  if (value.length !== size) throw new RangeError(`${name} must be ${size} bytes, got ${value.length}`);
}

/** @param {number} size */
export function randomBytes(size) {
  return sodium.randombytes_buf(size);
}

/** BLAKE2b-256 of data, no key. @param {Uint8Array} data */
export function hash32(data) {
  return sodium.crypto_generichash(HASH_SIZE, data, null);
}

/** BLAKE2b-256 of data under a 32-byte key. @param {Uint8Array} key @param {Uint8Array} data */
export function keyedHash32(key, data) {
  check("key", key, KEY_SIZE);
  return sodium.crypto_generichash(HASH_SIZE, data, key);
}

/** @param {Uint8Array} key @param {Uint8Array} nonce @param {Uint8Array} ad @param {Uint8Array} plaintext */
export function aeadEncrypt(key, nonce, ad, plaintext) {
  check("key", key, KEY_SIZE);
  check("nonce", nonce, AEAD_NONCE_SIZE);
  return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
}

/** @param {Uint8Array} key @param {Uint8Array} nonce @param {Uint8Array} ad @param {Uint8Array} ciphertext */
export function aeadDecrypt(key, nonce, ad, ciphertext) {
  check("key", key, KEY_SIZE);
  check("nonce", nonce, AEAD_NONCE_SIZE);
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, key);
  } catch {
    throw new AuthenticationFailed();
  }
}

/** The X25519 public key of a 32-byte secret. @param {Uint8Array} secret */
export function x25519Public(secret) {
  check("X25519 secret key", secret, KEY_SIZE);
  return sodium.crypto_scalarmult_base(secret);
}

/** Anonymous sealed box to an X25519 public key. @param {Uint8Array} publicKey @param {Uint8Array} message */
export function sealTo(publicKey, message) {
  check("X25519 public key", publicKey, KEY_SIZE);
  return sodium.crypto_box_seal(message, publicKey);
}

/** @param {Uint8Array} publicKey @param {Uint8Array} secret @param {Uint8Array} sealed */
export function openSealed(publicKey, secret, sealed) {
  check("X25519 public key", publicKey, KEY_SIZE);
  check("X25519 secret key", secret, KEY_SIZE);
  try {
    return sodium.crypto_box_seal_open(sealed, publicKey, secret);
  } catch {
    throw new AuthenticationFailed();
  }
}

/**
 * The Ed25519 key pair made from a 32-byte seed.
 * @param {Uint8Array} seed
 * @returns {{publicKey: Uint8Array, secretKey: Uint8Array}}
 */
export function ed25519Keypair(seed) {
  check("Ed25519 seed", seed, KEY_SIZE);
  const pair = sodium.crypto_sign_seed_keypair(seed);
  return { publicKey: pair.publicKey, secretKey: pair.privateKey };
}

/** Detached signature by a 64-byte expanded secret key. @param {Uint8Array} secretKey @param {Uint8Array} message */
export function ed25519Sign(secretKey, message) {
  check("Ed25519 secret key", secretKey, 64);
  return sodium.crypto_sign_detached(message, secretKey);
}

/** @param {Uint8Array} publicKey @param {Uint8Array} message @param {Uint8Array} signature */
export function ed25519Verify(publicKey, message, signature) {
  check("Ed25519 public key", publicKey, KEY_SIZE);
  if (signature.length !== SIGNATURE_SIZE) return false;
  try {
    return sodium.crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    return false;
  }
}

/** True when 32 bytes decode to a usable Ed25519 point (as PyNaCl's check). @param {Uint8Array} publicKey */
export function ed25519PublicIsValid(publicKey) {
  if (publicKey.length !== KEY_SIZE) return false;
  try {
    sodium.crypto_sign_ed25519_pk_to_curve25519(publicKey);
    return true;
  } catch {
    return false;
  }
}

/** Constant-time comparison; different lengths are unequal. @param {Uint8Array} a @param {Uint8Array} b */
export function constantTimeEqual(a, b) {
  return a.length === b.length && sodium.memcmp(a, b);
}

/** Unpadded base64url (RFC 4648 §5). @param {Uint8Array} data */
export function toBase64Url(data) {
  return sodium.to_base64(data, sodium.base64_variants.URLSAFE_NO_PADDING);
}

/**
 * The bytes of canonical unpadded base64url, or null for anything else (padding, another
 * alphabet, white space, unused bits set: one value has one spelling).
 * @param {string} text
 */
export function fromBase64Url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  let data;
  try {
    data = sodium.from_base64(text, sodium.base64_variants.URLSAFE_NO_PADDING);
  } catch {
    return null;
  }
  return toBase64Url(data) === text ? data : null;
}
