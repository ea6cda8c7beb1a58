// The phone's uploader (PROTOCOL.md §14), mirroring stream/phone/upload_machine.py:
// every spooled chunk without a verified receipt is sent, over WebRTC when its data
// channel is open, else over HTTPS, until the relay has receipted it. Nothing is ever
// given up for a refusal that means "later"; a refusal that is final is told to the
// person, with what to do.

import { fromHex } from "../lib/bytes.js";
import { MalformedError } from "../lib/errors.js";
import { checkReceipt, parseReceipt, receiptNames } from "../lib/receipts.js";
import { RelayRefusal, reactionTo } from "../lib/wire/errors.js";
import { HttpsTransport, LinkLost, WebRtcTransport } from "./transports.js";

/** @typedef {import("./spool.js").Spool} Spool */
/** @typedef {import("./spool.js").ChunkKey} ChunkKey */
/** @typedef {import("./transports.js").Transport} Transport */
/** @typedef {import("../lib/seal.js").DeviceSigner} DeviceSigner */

const IN_FLIGHT = 8;
const BACKOFF_FIRST_S = 0.25;
const BACKOFF_MAX_S = 5;
const WEBRTC_RETRY_S = 30;

/** @typedef {"webrtc" | "https" | "offline"} Network */
/** @typedef {null | "relay_key_mismatch" | "unknown_device" | "bad_header" | "refused_chunk" | "out_of_reach" | "relay_busy"} Problem */

/**
 * @typedef {object} UploadStatus
 * @property {Network} network
 * @property {number} receipted chunks with a verified receipt (this session's recordings)
 * @property {number} pending chunks spooled without one
 * @property {Problem} problem what the person should know, or null
 * @property {boolean} current whether `pending` counted every chunk spooled so far
 */

/** One jittered backoff: 0.25 s doubling to 5 s, each wait shortened at random by up to a quarter. */
class Backoff {
  constructor() {
    this.next = BACKOFF_FIRST_S;
  }

  delay() {
    const seconds = this.next * (1 - Math.random() / 4);
    this.next = Math.min(BACKOFF_MAX_S, this.next * 2);
    return seconds;
  }

  reset() {
    this.next = BACKOFF_FIRST_S;
  }
}

export class Uploader {
  /**
   * @param {object} options
   * @param {Spool} options.spool
   * @param {string} options.origin the relay's origin (it served this page)
   * @param {Uint8Array} options.relayKey the relay key pinned at setup
   * @param {DeviceSigner} options.signer
   * @param {string} options.deviceKeyString tg-device-…
   * @param {(status: UploadStatus) => void} options.onStatus
   * @param {(recording: string, index: number) => void} [options.onReceipt] after a verified receipt is kept
   * @param {boolean} [options.webrtc] try WebRTC (true), or HTTPS only
   */
  constructor({ spool, origin, relayKey, signer, deviceKeyString, onStatus, onReceipt = () => {}, webrtc = true }) {
    this.spool = spool;
    this.origin = origin;
    this.relayKey = relayKey;
    this.signer = signer;
    this.device = deviceKeyString;
    this.onStatus = onStatus;
    this.onReceipt = onReceipt;
    this.useWebrtc = webrtc;
    this.https = new HttpsTransport(origin);
    /** @type {WebRtcTransport | null} */
    this.webrtc = null;
    this.backoff = new Backoff();
    this.stopped = false;
    /** @type {Set<string>} recordings no chunk of which the relay will take */
    this.blocked = new Set();
    /** @type {Set<string>} chunks ("recording/index") refused for good */
    this.refused = new Set();
    /** @type {Map<Transport, Set<string>>} recordings whose header this transport sent */
    this.hellos = new Map();
    /** @type {UploadStatus} */
    this.status = { network: "https", receipted: 0, pending: 0, problem: null, current: false };
    /** Bumped by every wake(): a count read before the last bump may miss a chunk. */
    this.generation = 0;
    /** @type {() => void} ends the idle wait (something new to send) */
    this.wakeUp = () => {};
    /** @type {() => void} ends the backoff wait too (the network is back) */
    this.retryNow = () => {};
    this.online = () => {
      this.retryNow();
      this.wake();
    };
  }

  /** Something new to send (a chunk was spooled, the network came back). */
  wake() {
    this.generation += 1;
    if (this.status.current) this.tell({ current: false });
    this.wakeUp();
  }

  /** @param {Partial<UploadStatus>} change */
  tell(change) {
    this.status = { ...this.status, ...change };
    this.onStatus(this.status);
  }

  /**
   * Wait seconds, or until woken: an idle wait ends at the next spooled chunk; a backoff
   * only when the network comes back or the uploader stops (a chunk spooled every 0.25 s
   * must not turn the backoff into a retry every 0.25 s).
   * @param {number} seconds
   * @param {"idle" | "backoff"} kind
   */
  sleep(seconds, kind) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, seconds * 1000);
      const end = () => {
        clearTimeout(timer);
        resolve(undefined);
      };
      this.retryNow = end;
      this.wakeUp = kind === "idle" ? end : () => {};
    });
  }

  /** Runs until stop(); returns when it has stopped. */
  async run() {
    window.addEventListener("online", this.online);
    if (this.useWebrtc) void this.keepWebrtc();
    try {
      while (!this.stopped) {
        const generation = this.generation;
        const work = (await this.spool.unreceipted()).filter((c) => !this.blocked.has(c.recording) && !this.refused.has(`${c.recording}/${c.index}`));
        this.tell({ pending: work.length, current: generation === this.generation });
        if (work.length === 0) {
          await this.sleep(60, "idle");
          continue;
        }
        const transport = this.webrtc !== null && !this.webrtc.closed ? this.webrtc : this.https;
        try {
          await this.sendAll(transport, work);
          if (this.status.problem === "out_of_reach" || this.status.problem === "relay_busy") this.tell({ problem: null });
        } catch (error) {
          // nothing stops the upload while chunks wait: every failure is retried, backed off
          if (!(error instanceof LinkLost)) console.error("upload:", error);
          if (error instanceof LinkLost && error.reachable) this.tell({ problem: "relay_busy" });
          else if (transport === this.https) this.tell({ network: "offline", problem: "out_of_reach" });
          if (transport !== this.https) transport.close();
          await this.sleep(this.backoff.delay(), "backoff");
        }
      }
    } finally {
      window.removeEventListener("online", this.online);
    }
  }

  stop() {
    this.stopped = true;
    this.webrtc?.close();
    this.retryNow();
  }

  /** Connect WebRTC alongside HTTPS, and again 30 s after it failed or closed. */
  async keepWebrtc() {
    while (!this.stopped) {
      if (this.webrtc === null || this.webrtc.closed) {
        try {
          this.webrtc = await WebRtcTransport.connect(this.origin, this.signer, this.device, this.relayKey);
          this.tell({ network: "webrtc" });
          this.wake();
        } catch {
          this.webrtc = null;
          if (this.status.network === "webrtc") this.tell({ network: "https" });
        }
      }
      await new Promise((resolve) => setTimeout(resolve, WEBRTC_RETRY_S * 1000));
    }
  }

  /**
   * Send every chunk in work over transport, recording by recording, in index order,
   * with at most IN_FLIGHT chunks awaiting their receipts.
   * @param {Transport} transport
   * @param {ChunkKey[]} work
   */
  async sendAll(transport, work) {
    const byRecording = new Map();
    for (const chunk of work) {
      const list = byRecording.get(chunk.recording) ?? [];
      list.push(chunk);
      byRecording.set(chunk.recording, list);
    }
    for (const [recording, chunks] of byRecording) {
      if (this.stopped) return;
      if (!(await this.sayHello(transport, recording))) continue;
      /** @type {Set<Promise<void>>} */
      const flying = new Set();
      for (const chunk of /** @type {ChunkKey[]} */ (chunks).sort((a, b) => a.index - b.index)) {
        if (this.blocked.has(recording) || this.stopped) break;
        const sent = this.sendOne(transport, chunk).finally(() => flying.delete(sent));
        flying.add(sent);
        if (flying.size >= IN_FLIGHT) await Promise.race(flying);
      }
      await Promise.all(flying);
    }
  }

  /** Send the recording's header once per transport; false when the recording is blocked. @param {Transport} transport @param {string} recording */
  async sayHello(transport, recording) {
    const said = this.hellos.get(transport) ?? new Set();
    this.hellos.set(transport, said);
    if (said.has(recording)) return true;
    const spooled = await this.spool.recording(recording);
    if (spooled === undefined) return false;
    try {
      await transport.hello(spooled.header);
    } catch (error) {
      if (!(error instanceof RelayRefusal)) throw error;
      const reaction = reactionTo(error.code, true);
      if (reaction === "final for recording") return this.block(recording, error.code === 3 ? "unknown_device" : "bad_header");
      throw new LinkLost(`the relay refused the header for now (${error.message})`, true);
    }
    said.add(recording);
    return true;
  }

  /** @param {string} recording @param {Problem} problem */
  block(recording, problem) {
    this.blocked.add(recording);
    this.tell({ problem });
    return false;
  }

  /** @param {Transport} transport @param {ChunkKey} key */
  async sendOne(transport, key) {
    const chunk = await this.spool.chunk(key.recording, key.index); // read when sent, not before
    if (chunk === undefined || chunk.receipt !== null) return;
    let answer;
    try {
      answer = await transport.send(this.device, chunk.recording, chunk.index, chunk.bytes);
    } catch (error) {
      if (!(error instanceof RelayRefusal)) throw error;
      const reaction = reactionTo(error.code, false);
      if (reaction === "final for recording") {
        this.block(chunk.recording, error.code === 3 ? "unknown_device" : "bad_header");
        return;
      }
      if (reaction === "final for chunk") {
        this.refused.add(`${chunk.recording}/${chunk.index}`);
        this.tell({ problem: "refused_chunk" });
        return;
      }
      if (reaction === "resend header") this.hellos.get(transport)?.delete(chunk.recording);
      throw new LinkLost(`the relay will take the chunk later (${error.message})`, true);
    }
    let receipt;
    try {
      receipt = parseReceipt(answer);
    } catch (error) {
      if (error instanceof MalformedError) throw new LinkLost("the relay's receipt did not parse");
      throw error;
    }
    const verdict = checkReceipt(receipt, this.relayKey);
    if (verdict === "other relay") {
      this.block(chunk.recording, "relay_key_mismatch");
      return;
    }
    if (verdict !== "valid" || !receiptNames(receipt, fromHex(chunk.recording), chunk.index, chunk.chunkHash)) {
      throw new LinkLost("the relay's receipt did not verify");
    }
    await this.spool.putReceipt(chunk.recording, chunk.index, receipt.bytes);
    this.onReceipt(chunk.recording, chunk.index);
    this.backoff.reset(); // after a verified receipt, not after a HELLO (PROTOCOL.md §14)
    this.tell({ receipted: this.status.receipted + 1, pending: Math.max(0, this.status.pending - 1), network: transport.name });
  }
}
