// Data channel messages (PROTOCOL.md §3.2), the client's half, as vault/wire/datachannel.py:
// it writes HELLO and CHUNK frames and reads WELCOME, RECEIPT and ERROR.

import { MalformedError } from "../errors.js";
import { HEADER_MAX_SIZE, MAX_INDEX } from "../format.js";
import { RECEIPT_SIZE } from "../receipts.js";

export const PROTOCOL_VERSION = 1;
export const CHANNEL_LABEL = "testigo/v1";
export const MAX_MESSAGE_SIZE = 65536;
const CHUNK_FIELDS_SIZE = 13;
export const MAX_FRAME_DATA = MAX_MESSAGE_SIZE - CHUNK_FIELDS_SIZE; // 65 523
const MAX_ERROR_TEXT = 1024;
const NO_INDEX = 0xffffffff;

export const MessageType = Object.freeze({ HELLO: 0x01, CHUNK: 0x02, WELCOME: 0x81, RECEIPT: 0x82, ERROR: 0x83 });

/** @param {Uint8Array} header @returns {Uint8Array<ArrayBuffer>} */
export function helloMessage(header) {
  if (header.length > HEADER_MAX_SIZE) throw new RangeError("a header is at most 5 512 bytes");
  const out = new Uint8Array(2 + header.length);
  out[0] = MessageType.HELLO;
  out[1] = PROTOCOL_VERSION;
  out.set(header, 2);
  return out;
}

/**
 * The CHUNK frames that carry a chunk, in order.
 * @param {number} index
 * @param {Uint8Array} chunk
 * @param {number} [frameSize]
 */
export function chunkFrames(index, chunk, frameSize = MAX_FRAME_DATA) {
  if (!(index >= 0 && index <= MAX_INDEX)) throw new RangeError("CHUNK index out of range");
  if (!(frameSize >= 1 && frameSize <= MAX_FRAME_DATA)) throw new RangeError("frame size out of range");
  /** @type {Uint8Array<ArrayBuffer>[]} */
  const frames = [];
  for (let offset = 0; offset < chunk.length; offset += frameSize) {
    const data = chunk.subarray(offset, offset + frameSize);
    const frame = new Uint8Array(CHUNK_FIELDS_SIZE + data.length);
    const view = new DataView(frame.buffer);
    view.setUint8(0, MessageType.CHUNK);
    view.setUint32(1, index);
    view.setUint32(5, chunk.length);
    view.setUint32(9, offset);
    frame.set(data, CHUNK_FIELDS_SIZE);
    frames.push(frame);
  }
  return frames;
}

/**
 * @typedef {{type: "welcome", more: boolean, ranges: [number, number][]}
 *   | {type: "receipt", duplicate: boolean, receipt: Uint8Array}
 *   | {type: "error", code: number, index: number | null, fatal: boolean, message: string}} RelayMessage
 */

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * One message from the relay; MalformedError when it is not valid.
 * @param {Uint8Array} data
 * @returns {RelayMessage}
 */
export function parseRelayMessage(data) {
  if (data.length === 0) throw new MalformedError("empty message");
  if (data.length > MAX_MESSAGE_SIZE) throw new MalformedError(`message larger than ${MAX_MESSAGE_SIZE} bytes`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (data[0]) {
    case MessageType.WELCOME: {
      if (data.length < 4) throw new MalformedError("WELCOME is truncated");
      const more = view.getUint8(1);
      const count = view.getUint16(2);
      if (more > 1 || data.length !== 4 + 8 * count) throw new MalformedError("WELCOME length does not match its range count");
      /** @type {[number, number][]} */
      const ranges = [];
      for (let i = 0; i < count; i += 1) {
        const first = view.getUint32(4 + 8 * i);
        const last = view.getUint32(8 + 8 * i);
        if (!(first <= last && last <= MAX_INDEX)) throw new MalformedError("WELCOME holds an invalid range");
        ranges.push([first, last]);
      }
      return { type: "welcome", more: more === 1, ranges };
    }
    case MessageType.RECEIPT: {
      if (data.length !== 2 + RECEIPT_SIZE || view.getUint8(1) > 1) throw new MalformedError("RECEIPT has the wrong length");
      return { type: "receipt", duplicate: data[1] === 1, receipt: data.slice(2) };
    }
    case MessageType.ERROR: {
      if (data.length < 8 || data.length > 8 + MAX_ERROR_TEXT) throw new MalformedError("ERROR has the wrong length");
      const fatal = view.getUint8(7);
      if (fatal > 1) throw new MalformedError("ERROR fatal flag must be 0 or 1");
      let message;
      try {
        message = strictUtf8.decode(data.subarray(8));
      } catch {
        throw new MalformedError("ERROR text is not UTF-8");
      }
      const index = view.getUint32(3);
      return { type: "error", code: view.getUint16(1), index: index === NO_INDEX ? null : index, fatal: fatal === 1, message };
    }
    default:
      throw new MalformedError(`unknown message type 0x${(data[0] ?? 0).toString(16).padStart(2, "0")}`);
  }
}
