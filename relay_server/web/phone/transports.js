// The two ways a chunk reaches the relay (PROTOCOL.md §3, §4): a WebRTC data channel and
// HTTPS requests. Both carry out the same three steps for the uploader (uploader.js):
// open, hello (send the header, learn what the relay holds), send (a chunk, get its
// receipt). A refusal is thrown as a RelayRefusal, a lost link as a LinkLost.

import { MalformedError } from "../lib/errors.js";
import { CHANNEL_LABEL, chunkFrames, helloMessage, parseRelayMessage } from "../lib/wire/datachannel.js";
import { proofHeader } from "../lib/wire/device_proof.js";
import { RelayRefusal, refusalOfBody } from "../lib/wire/errors.js";
import { HEADERS, WEBRTC_CONFIG, WEBRTC_OFFER, chunksPath } from "../lib/wire/routes.js";

/** @typedef {import("../lib/seal.js").DeviceSigner} DeviceSigner */

export const REQUEST_SECONDS = 10; // one HTTPS request, or one answer on the channel
const ICE_GATHER_SECONDS = 5;
const CHANNEL_OPEN_SECONDS = 10;
const BUFFERED_HIGH = 1024 * 1024;

/** The relay is out of reach: the link broke, or an answer did not come in time. */
export class LinkLost extends Error {
  /** @param {string} why @param {boolean} [reachable] the relay answered: it will take the chunk later */
  constructor(why, reachable = false) {
    super(why);
    this.name = "LinkLost";
    this.reachable = reachable;
  }
}

/**
 * @typedef {object} Transport
 * @property {"https" | "webrtc"} name
 * @property {(header: Uint8Array) => Promise<Set<number>>} hello
 * @property {(device: string, recordingId: string, index: number, chunk: Uint8Array) => Promise<Uint8Array>} send
 * @property {() => void} close
 * @property {boolean} closed
 */

/** @param {Set<number>} held @param {[number, number][]} ranges */
function addRanges(held, ranges) {
  for (const [first, last] of ranges) for (let i = first; i <= last; i += 1) held.add(i);
}

/** @implements {Transport} */
export class HttpsTransport {
  /** @param {string} origin the relay's origin */
  constructor(origin) {
    this.origin = origin;
    /** @type {"https"} */
    this.name = "https";
    this.closed = false;
  }

  /** @param {string} path @param {Uint8Array} body @param {number | null} index */
  async post(path, body, index) {
    let response;
    try {
      response = await fetch(this.origin + path, {
        method: "POST",
        body: new Uint8Array(body),
        headers: { "Content-Type": "application/octet-stream" },
        signal: AbortSignal.timeout(REQUEST_SECONDS * 1000),
        cache: "no-store",
      });
    } catch {
      throw new LinkLost("the relay is out of reach");
    }
    if (response.ok) return response;
    let body_ = null;
    try {
      body_ = await response.json();
    } catch {
      if (response.status >= 500) throw new LinkLost(`the relay answered ${response.status}`);
    }
    throw refusalOfBody(body_, index);
  }

  /** @param {Uint8Array} header */
  async hello(header) {
    const response = await this.post(HEADERS, header, null);
    /** @type {unknown} */
    const answer = await response.json().catch(() => null);
    const held = new Set();
    if (typeof answer === "object" && answer !== null && Array.isArray(/** @type {{held?: unknown}} */ (answer).held)) {
      const ranges = /** @type {unknown[]} */ (/** @type {{held: unknown[]}} */ (answer).held);
      addRanges(held, ranges.filter((r) => Array.isArray(r) && r.length === 2).map((r) => /** @type {[number, number]} */ (r)));
    }
    return held;
  }

  /** @param {string} device @param {string} recordingId @param {number} index @param {Uint8Array} chunk */
  async send(device, recordingId, index, chunk) {
    const response = await this.post(chunksPath(device, recordingId), chunk, index);
    try {
      return new Uint8Array(await response.arrayBuffer());
    } catch {
      throw new LinkLost("the relay's answer was cut off");
    }
  }

  close() {
    this.closed = true;
  }
}

/**
 * @typedef {object} Waiter
 * @property {(value: Uint8Array) => void} resolve
 * @property {(error: Error) => void} reject
 * @property {number} index
 */

/** @implements {Transport} */
export class WebRtcTransport {
  /** @param {RTCPeerConnection} connection @param {RTCDataChannel} channel */
  constructor(connection, channel) {
    this.connection = connection;
    this.channel = channel;
    /** @type {"webrtc"} */
    this.name = "webrtc";
    this.closed = false;
    /** @type {Waiter[]} receipts and errors come in the order the chunks were sent */
    this.waiting = [];
    /** @type {{resolve: (held: Set<number>) => void, reject: (error: Error) => void, held: Set<number>} | null} */
    this.welcome = null;
    channel.binaryType = "arraybuffer";
    channel.bufferedAmountLowThreshold = BUFFERED_HIGH / 2;
    channel.onmessage = (event) => this.receive(event.data);
    channel.onclose = () => this.fail(new LinkLost("the data channel closed"));
    connection.onconnectionstatechange = () => {
      if (connection.connectionState === "failed" || connection.connectionState === "closed") this.fail(new LinkLost("the connection failed"));
    };
  }

  /**
   * Connect to the relay: ICE servers from its config (asked with a device proof, so a
   * TURN login comes with them), an offer with the data channel, the answer.
   * @param {string} origin
   * @param {DeviceSigner} signer
   * @param {string} deviceKeyString
   * @param {Uint8Array} relayKey
   */
  static async connect(origin, signer, deviceKeyString, relayKey) {
    const authorization = await proofHeader(signer, deviceKeyString, relayKey, Date.now());
    const config = await fetch(origin + WEBRTC_CONFIG, { headers: { Authorization: authorization }, cache: "no-store", signal: AbortSignal.timeout(REQUEST_SECONDS * 1000) });
    /** @type {{ice_servers?: RTCIceServer[]}} */
    const document = config.ok ? await config.json() : {};
    const connection = new RTCPeerConnection({ iceServers: document.ice_servers ?? [] });
    try {
      const channel = connection.createDataChannel(CHANNEL_LABEL);
      await connection.setLocalDescription(await connection.createOffer());
      await gathered(connection);
      const local = connection.localDescription;
      if (local === null) throw new LinkLost("no offer");
      const answer = await fetch(origin + WEBRTC_OFFER, {
        method: "POST",
        body: JSON.stringify({ sdp: local.sdp, type: local.type }),
        headers: { "Content-Type": "application/json" },
        signal: AbortSignal.timeout(REQUEST_SECONDS * 1000),
      });
      if (!answer.ok) throw refusalOfBody(await answer.json().catch(() => null), null);
      await connection.setRemoteDescription(await answer.json());
      await opened(channel);
      return new WebRtcTransport(connection, channel);
    } catch (error) {
      connection.close();
      if (error instanceof RelayRefusal || error instanceof LinkLost) throw error;
      throw new LinkLost("WebRTC did not connect");
    }
  }

  /** @param {unknown} data */
  receive(data) {
    if (!(data instanceof ArrayBuffer)) return this.fail(new LinkLost("the relay sent text"));
    let message;
    try {
      message = parseRelayMessage(new Uint8Array(data));
    } catch (error) {
      if (error instanceof MalformedError) return this.fail(new LinkLost("the relay's message did not parse"));
      throw error;
    }
    if (message.type === "welcome") {
      if (this.welcome === null) return this.fail(new LinkLost("an unexpected WELCOME"));
      addRanges(this.welcome.held, message.ranges);
      if (!message.more) {
        this.welcome.resolve(this.welcome.held);
        this.welcome = null;
      }
    } else if (message.type === "receipt") {
      const waiter = this.waiting.shift();
      if (waiter === undefined) return this.fail(new LinkLost("an unexpected RECEIPT"));
      waiter.resolve(message.receipt);
    } else {
      const refusal = new RelayRefusal(message.code, message.message, message.index);
      if (message.index === null && this.welcome !== null) {
        this.welcome.reject(refusal);
        this.welcome = null;
      } else {
        const waiter = this.waiting.shift();
        if (waiter !== undefined) waiter.reject(refusal);
      }
      if (message.fatal) this.fail(refusal);
    }
  }

  /** Everything waiting fails with error, and the connection is closed. @param {Error} error */
  fail(error) {
    if (this.closed) return;
    this.closed = true;
    this.welcome?.reject(error);
    this.welcome = null;
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
    this.channel.close();
    this.connection.close();
  }

  /** @param {Uint8Array} header */
  hello(header) {
    if (this.closed) return Promise.reject(new LinkLost("the data channel closed"));
    return new Promise((resolve, reject) => {
      this.welcome = { resolve, reject, held: new Set() };
      this.channel.send(helloMessage(header));
    });
  }

  /** @param {string} _device @param {string} _recordingId @param {number} index @param {Uint8Array} chunk */
  async send(_device, _recordingId, index, chunk) {
    if (this.closed) throw new LinkLost("the data channel closed");
    while (this.channel.bufferedAmount > BUFFERED_HIGH) await bufferedLow(this.channel);
    /** @type {Promise<Uint8Array>} */
    const answer = new Promise((resolve, reject) => this.waiting.push({ resolve, reject, index }));
    for (const frame of chunkFrames(index, chunk)) this.channel.send(frame);
    // a relay that goes silent must not stall the phone: no answer in time drops the link
    const timer = setTimeout(() => this.fail(new LinkLost("the relay did not answer")), REQUEST_SECONDS * 1000);
    return answer.finally(() => clearTimeout(timer));
  }

  close() {
    this.fail(new LinkLost("closed"));
  }
}

/** @param {RTCPeerConnection} connection */
function gathered(connection) {
  return new Promise((resolve) => {
    if (connection.iceGatheringState === "complete") return resolve(undefined);
    const timer = setTimeout(resolve, ICE_GATHER_SECONDS * 1000); // send what was gathered
    connection.addEventListener("icegatheringstatechange", () => {
      if (connection.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve(undefined);
      }
    });
  });
}

/** @param {RTCDataChannel} channel */
function opened(channel) {
  return new Promise((resolve, reject) => {
    if (channel.readyState === "open") return resolve(undefined);
    const timer = setTimeout(() => reject(new LinkLost("the data channel did not open")), CHANNEL_OPEN_SECONDS * 1000);
    channel.addEventListener("open", () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    channel.addEventListener("close", () => {
      clearTimeout(timer);
      reject(new LinkLost("the data channel closed"));
    });
  });
}

/** @param {RTCDataChannel} channel */
function bufferedLow(channel) {
  return new Promise((resolve) => channel.addEventListener("bufferedamountlow", () => resolve(undefined), { once: true }));
}

