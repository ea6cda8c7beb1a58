// Small helpers on Uint8Array, the only byte type used in lib/.

const encoder = new TextEncoder();

/** UTF-8 bytes of a string. @param {string} text */
export function utf8(text) {
  return encoder.encode(text);
}

/** @param {...Uint8Array} parts */
export function concat(...parts) {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** @param {Uint8Array} data */
export function toHex(data) {
  return Array.from(data, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** @param {string} text */
export function fromHex(text) {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) throw new RangeError("not hex");
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Byte-wise equality, not constant time (use sodium.constantTimeEqual for secrets). @param {Uint8Array} a @param {Uint8Array} b */
export function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

/** Big-endian writer of fixed-size fields. */
export class Writer {
  constructor() {
    /** @type {Uint8Array[]} */
    this.parts = [];
  }

  /** @param {Uint8Array} data */
  bytes(data) {
    this.parts.push(data);
    return this;
  }

  /** @param {number} value */
  u8(value) {
    this.parts.push(Uint8Array.of(value));
    return this;
  }

  /** @param {number} value */
  u32(value) {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value);
    this.parts.push(out);
    return this;
  }

  /** @param {number} value a non-negative integer below 2^53 */
  u64(value) {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(value));
    this.parts.push(out);
    return this;
  }

  done() {
    return concat(...this.parts);
  }
}

/**
 * A big-endian uint64 as a number; above 2^53 it is rounded (times are ms since 1970).
 * @param {DataView} view
 * @param {number} offset
 */
export function readU64(view, offset) {
  return Number(view.getBigUint64(offset));
}
