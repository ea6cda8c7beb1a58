// Public keys and their copy-pasteable text form (FORMAT.md §2.1, §2.2), as vault/keys.py.

import { concat, utf8 } from "./bytes.js";
import { MalformedError } from "./errors.js";
import * as sodium from "./sodium.js";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";
const CHECKSUM_SIZE = 4;
const FINGERPRINT_SIZE = 10;
const ENCODED_LENGTH = 58; // base32 of 32 + 4 bytes, without padding

/** What a parser ignores around a key string (FORMAT.md §2.1). */
export const KEY_STRING_SPACE = "\t\n\v\f\r \u00a0\ufeff\u200b";

/** RFC 4648 base32, lower case, no padding. @param {Uint8Array} data */
export function base32Encode(data) {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of data) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** The bytes of lower-case unpadded base32, or null when a character is outside it. @param {string} text */
function base32Decode(text) {
  const out = [];
  let buffer = 0;
  let bits = 0;
  for (const character of text) {
    const value = ALPHABET.indexOf(character);
    if (value < 0) return null;
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 255);
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  return Uint8Array.from(out);
}

/** @param {string} text */
function stripKeySpace(text) {
  let start = 0;
  let end = text.length;
  while (start < end && KEY_STRING_SPACE.includes(text[start] ?? "")) start += 1;
  while (end > start && KEY_STRING_SPACE.includes(text[end - 1] ?? "")) end -= 1;
  return text.slice(start, end);
}

/** @typedef {{prefix: string, kind: string, signing: boolean}} KeyKind */

/** @type {Readonly<Record<"recipient" | "device" | "relay", KeyKind>>} */
export const KINDS = Object.freeze({
  recipient: { prefix: "tg-recipient-", kind: "recipient", signing: false },
  device: { prefix: "tg-device-", kind: "device", signing: true },
  relay: { prefix: "tg-relay-", kind: "relay", signing: true },
});

/** A 32-byte public key of one kind. */
export class PublicKey {
  /** @param {KeyKind} kind @param {Uint8Array} raw */
  constructor(kind, raw) {
    if (raw.length !== sodium.KEY_SIZE) throw new RangeError(`${kind.kind} key must be 32 bytes`);
    this.kind = kind;
    this.raw = raw;
  }

  checksum() {
    return sodium.hash32(concat(utf8("testigo/v1 key-checksum"), utf8(this.kind.prefix), this.raw)).slice(0, CHECKSUM_SIZE);
  }

  toString() {
    return this.kind.prefix + base32Encode(concat(this.raw, this.checksum()));
  }

  /** Short form for comparing aloud, e.g. K7QD-2MXA-P4ZT-9BWC. */
  get fingerprint() {
    const digest = sodium.hash32(concat(utf8("testigo/v1 fingerprint"), utf8(this.kind.prefix), this.raw));
    const text = base32Encode(digest.slice(0, FINGERPRINT_SIZE)).toUpperCase();
    return [0, 4, 8, 12].map((i) => text.slice(i, i + 4)).join("-");
  }

  /**
   * Parse the text form of a key of one kind; a typo, a wrong kind or a bad length is a
   * MalformedError whose message says which.
   * @param {KeyKind} kind
   * @param {string} input
   */
  static parse(kind, input) {
    const text = stripKeySpace(input);
    // eslint-disable-next-line no-control-regex
    if (!/^[\x00-\x7f]*$/.test(text)) throw new MalformedError(`${kind.kind} key holds characters outside a-z and 2-7`);
    const lower = text.toLowerCase();
    if (!lower.startsWith(kind.prefix)) {
      const other = Object.values(KINDS).find((k) => lower.startsWith(k.prefix));
      if (other !== undefined) throw new MalformedError(`this is a ${other.kind} key, not a ${kind.kind} key`);
      throw new MalformedError(`not a Testigo ${kind.kind} key`);
    }
    const encoded = lower.slice(kind.prefix.length);
    if (encoded.length !== ENCODED_LENGTH) {
      throw new MalformedError(`${kind.kind} key has ${encoded.length} characters after the prefix, expected ${ENCODED_LENGTH}`);
    }
    const data = base32Decode(encoded);
    if (data === null || base32Encode(data) !== encoded) {
      throw new MalformedError(`${kind.kind} key holds characters outside a-z and 2-7, or a typo at its end`);
    }
    const key = new PublicKey(kind, data.slice(0, sodium.KEY_SIZE));
    if (!sodium.constantTimeEqual(key.checksum(), data.slice(sodium.KEY_SIZE))) {
      throw new MalformedError(`${kind.kind} key checksum does not match (a typo?)`);
    }
    if (kind.signing && !sodium.ed25519PublicIsValid(key.raw)) {
      throw new MalformedError(`${kind.kind} key is not a valid Ed25519 public key`);
    }
    return key;
  }
}
