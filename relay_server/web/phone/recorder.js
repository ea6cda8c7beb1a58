// The phone's recorder: camera and microphone → MediaRecorder (fragmented MP4, a
// keyframe starting every fragment) → chunks cut at box boundaries → sealed → spooled
// (committed to IndexedDB) → handed to the uploader. Location, when the person turned
// it on, is sealed as metadata at most once a second and never leaves unsealed.

import { toHex } from "../lib/bytes.js";
import { ChunkKind, chunkHash } from "../lib/format.js";
import { RecordingSealer } from "../lib/seal.js";
import { Fmp4Splitter } from "./fmp4_split.js";

/** @typedef {import("./spool.js").Spool} Spool */
/** @typedef {import("../lib/seal.js").DeviceSigner} DeviceSigner */

// What this browser's MediaRecorder can write, best first. Chromium: H.264 + Opus in MP4;
// Safari: H.264 + AAC in MP4 (BROWSER_NOTES). Each is fragmented MP4 that testigo decrypt
// writes as a playable .mp4.
const CANDIDATE_TYPES = ['video/mp4;codecs="avc1.42E01E,opus"', 'video/mp4;codecs="avc1.42E01E,mp4a.40.2"', "video/mp4"];
// As the Python recorder's default (capture/settings.py), chosen from bench/fragment_length.py:
// the only length that keeps both the loss window (≤ 0.5 s p95) and the live delay
// (≤ 1.0 s p95) on target. 0.25..2 s are allowed.
export const DEFAULT_FRAGMENT_SECONDS = 0.25;
const TIMESLICE_MS = 100; // how often the recorder hands over bytes (not where chunks are cut)
const LOCATION_EVERY_MS = 1000;

/** The media type this browser records, or null when it cannot record fragmented MP4. */
export function recordableType() {
  if (typeof MediaRecorder !== "function") return null;
  return CANDIDATE_TYPES.find((type) => MediaRecorder.isTypeSupported(type)) ?? null;
}

/**
 * The camera and microphone: the rear camera unless told otherwise.
 * @param {"environment" | "user"} facing
 */
export function openCamera(facing) {
  return navigator.mediaDevices.getUserMedia({
    video: { facingMode: { ideal: facing }, width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
    audio: { echoCancellation: true, noiseSuppression: true },
  });
}

/**
 * @typedef {object} SpooledEvent
 * @property {string} recording
 * @property {number} index
 * @property {number} kind
 * @property {number} deviceTimeMs
 */

export class Recorder {
  /**
   * Start recording stream into a new sealed recording.
   * @param {object} options
   * @param {MediaStream} options.stream
   * @param {Spool} options.spool
   * @param {DeviceSigner} options.signer
   * @param {readonly Uint8Array[]} options.recipients X25519 public keys of the contacts
   * @param {number} [options.fragmentSeconds] 0.25..2
   * @param {boolean} [options.location]
   * @param {(event: SpooledEvent) => void} options.onSpooled after each chunk is committed
   * @param {(error: Error) => void} options.onFailure
   */
  static async start({ stream, spool, signer, recipients, fragmentSeconds = DEFAULT_FRAGMENT_SECONDS, location = false, onSpooled, onFailure }) {
    if (!(fragmentSeconds >= 0.25 && fragmentSeconds <= 2)) throw new RangeError("a fragment is 0.25 to 2 s long");
    const mimeType = recordableType();
    if (mimeType === null) throw new Error("this browser cannot record fragmented MP4");
    const media = new MediaRecorder(stream, {
      mimeType,
      videoBitsPerSecond: 1_500_000,
      audioBitsPerSecond: 64_000,
      // @ts-ignore: Chromium's option (a keyframe, hence a fragment, every this many ms)
      videoKeyFrameIntervalDuration: Math.round(fragmentSeconds * 1000),
    });
    const sealer = await RecordingSealer.start({ signer, recipients, mediaType: mimeType.replaceAll('"', "") });
    const id = toHex(sealer.header.recordingId);
    await spool.putRecording({ id, header: sealer.headerBytes, createdMs: sealer.header.createdMs, ended: false });
    const recorder = new Recorder(media, sealer, spool, id, onSpooled, onFailure);
    if (location) recorder.watchLocation();
    media.start(TIMESLICE_MS);
    return recorder;
  }

  /**
   * @param {MediaRecorder} media
   * @param {RecordingSealer} sealer
   * @param {Spool} spool
   * @param {string} id
   * @param {(event: SpooledEvent) => void} onSpooled
   * @param {(error: Error) => void} onFailure
   */
  constructor(media, sealer, spool, id, onSpooled, onFailure) {
    this.media = media;
    this.sealer = sealer;
    this.spool = spool;
    this.id = id;
    this.onSpooled = onSpooled;
    this.onFailure = onFailure;
    this.splitter = new Fmp4Splitter();
    /** @type {Promise<void>} the bytes are handled one blob after another */
    this.work = Promise.resolve();
    /** @type {number | null} */
    this.locationWatch = null;
    this.lastLocationMs = 0;
    this.failed = false;
    media.ondataavailable = (event) => {
      const blob = event.data;
      this.after(async () => {
        for (const piece of this.splitter.push(new Uint8Array(await blob.arrayBuffer()))) {
          await this.spoolChunk(piece.kind === "init" ? ChunkKind.INIT : ChunkKind.MEDIA, piece.bytes);
        }
      });
    };
    media.onerror = () => this.fail(new Error("the camera or microphone stopped"));
  }

  get recordingId() {
    return this.id;
  }

  /** @param {() => Promise<void>} step */
  after(step) {
    this.work = this.work.then(step).catch((error) => this.fail(error instanceof Error ? error : new Error(String(error))));
  }

  /** @param {Error} error */
  fail(error) {
    if (this.failed) return;
    this.failed = true;
    this.onFailure(error);
  }

  /** Seal, then commit to the spool, then tell: only then may it be sent. @param {number} kind @param {Uint8Array} plaintext */
  async spoolChunk(kind, plaintext) {
    const { chunk, bytes } = await this.sealer.seal(kind, plaintext);
    await this.spool.putChunk({ recording: this.id, index: chunk.index, bytes, chunkHash: chunkHash(chunk), deviceTimeMs: chunk.deviceTimeMs }, chunk.final);
    this.onSpooled({ recording: this.id, index: chunk.index, kind, deviceTimeMs: chunk.deviceTimeMs });
  }

  watchLocation() {
    if (!("geolocation" in navigator)) return;
    this.locationWatch = navigator.geolocation.watchPosition(
      (position) => {
        const now = Date.now();
        if (now - this.lastLocationMs < LOCATION_EVERY_MS) return;
        this.lastLocationMs = now;
        const { latitude, longitude, accuracy } = position.coords;
        const text = JSON.stringify({ type: "location", lat: latitude, lon: longitude, accuracy_m: Math.round(accuracy) });
        this.after(() => this.spoolChunk(ChunkKind.METADATA, new TextEncoder().encode(text)));
      },
      () => undefined, // refused or unavailable: the recording goes on without it
      { enableHighAccuracy: true, maximumAge: 5000 },
    );
  }

  /** End the recording: the recorder's last fragment, then the final chunk. @param {string} reason */
  async stop(reason = "stopped") {
    if (this.locationWatch !== null) navigator.geolocation.clearWatch(this.locationWatch);
    if (this.media.state !== "inactive") {
      const stopped = new Promise((resolve) => this.media.addEventListener("stop", resolve, { once: true }));
      this.media.stop();
      await stopped;
    }
    for (const track of this.media.stream.getTracks()) track.stop();
    const end = new TextEncoder().encode(JSON.stringify({ reason: this.failed ? "failed" : reason }));
    this.after(() => this.spoolChunk(ChunkKind.END, end));
    await this.work;
  }
}
