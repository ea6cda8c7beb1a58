// Live viewing (PROTOCOL.md §12), the viewer's half, as vault/wire/live.py and
// vault/wire/live_auth.py: the relay's messages, and a browser's first message.

import { readU64 } from "../bytes.js";
import { MalformedError } from "../errors.js";

export const LIVE_AUTH_PROTOCOL = "testigo-live-auth.v1"; // Sec-WebSocket-Protocol
const LIVE_AUTH_PREFIX = "testigo-live-auth/1 ";
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_BUSY = 4503;
const MAX_END_TEXT = 1024;
const TOKEN = /^tg-token-[a-z2-7]{52}$/;

/**
 * @typedef {{type: "header", header: Uint8Array}
 *   | {type: "chunk", chunk: Uint8Array}
 *   | {type: "dropped", count: number}
 *   | {type: "end", reason: number, text: string}
 *   | {type: "silent", recordingId: Uint8Array, sinceMs: number, silentMs: number}} LiveMessage
 */

const lenientUtf8 = new TextDecoder("utf-8"); // an END text is only shown, never trusted

/** One live message; MalformedError when it is not one. @param {Uint8Array} data @returns {LiveMessage} */
export function parseLiveMessage(data) {
  if (data.length === 0) throw new MalformedError("empty message");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (data[0]) {
    case 0x01:
      if (data.length < 2) throw new MalformedError("live HEADER is empty");
      return { type: "header", header: data.slice(1) };
    case 0x02:
      if (data.length < 2) throw new MalformedError("live CHUNK is empty");
      return { type: "chunk", chunk: data.slice(1) };
    case 0x03:
      if (data.length !== 5) throw new MalformedError("live DROPPED has the wrong length");
      return { type: "dropped", count: view.getUint32(1) };
    case 0x04:
      if (data.length < 2 || data.length > 2 + MAX_END_TEXT) throw new MalformedError("live END has the wrong length");
      return { type: "end", reason: view.getUint8(1), text: lenientUtf8.decode(data.subarray(2)) };
    case 0x05:
      if (data.length !== 29) throw new MalformedError("live SILENT has the wrong length");
      return { type: "silent", recordingId: data.slice(1, 17), sinceMs: readU64(view, 17), silentMs: view.getUint32(25) };
    default:
      throw new MalformedError(`unknown message type 0x${(data[0] ?? 0).toString(16).padStart(2, "0")}`);
  }
}

/** The first message of a browser's live WebSocket (§12.1). @param {string} token */
export function liveAuthMessage(token) {
  if (!TOKEN.test(token)) throw new MalformedError("not a capability token");
  return LIVE_AUTH_PREFIX + token;
}

/** The token in a first message, or MalformedError (the relay's reading, for tests). @param {string} text */
export function parseLiveAuth(text) {
  if (text.length > 128 || !text.startsWith(LIVE_AUTH_PREFIX)) throw new MalformedError("not a live authentication message");
  return liveAuthMessage(text.slice(LIVE_AUTH_PREFIX.length)).slice(LIVE_AUTH_PREFIX.length);
}
