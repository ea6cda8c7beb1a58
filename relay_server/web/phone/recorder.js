// The phone's recorder: camera and microphone → a capture that writes fragmented MP4
// cut at box boundaries (the init segment, then one piece per fragment, a keyframe
// starting each) → sealed → spooled (committed to IndexedDB) → handed to the uploader.
// Location, when the person turned it on, is sealed as metadata at most once a second
// and never leaves unsealed.
//
// Two captures (issue 12): MediaRecorderCapture (here: MediaRecorder, its bytes cut by
// Fmp4Splitter) and WebCodecsCapture (phone/webcodecs_capture.js: WebCodecs encoders and
// mediabunny's muxer, keyframes placed exactly). chooseCapture says which one a browser
// gets; Recorder.start's `capture` option forces one (tests, benches).

import { toHex } from "../lib/bytes.js";
import { ChunkKind } from "../lib/format.js";
import { RecordingSealer } from "../lib/seal.js";
import { Fmp4Splitter } from "./fmp4_split.js";
import { WebCodecsCapture, webCodecsConfig } from "./webcodecs_capture.js";

/** @typedef {import("./spool.js").Spool} Spool */
/** @typedef {import("../lib/seal.js").DeviceSigner} DeviceSigner */
/** @typedef {import("./fmp4_split.js").Piece} Piece */
/** @typedef {"auto" | "webcodecs" | "mediarecorder"} CaptureChoice */

/**
 * What records the camera: it hands over whole pieces, in order, and can be stopped.
 * @typedef {object} Capture
 * @property {string} mediaType what the pieces hold (the header's media_type), printable ASCII
 * @property {() => Promise<void>} stop resolves once its last piece has been handed over
 */

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
 * @property {number} createdMs the recording's (its header's) creation time
 */

/**
 * MediaRecorder's fragmented MP4, cut into pieces at box boundaries (its blobs are not).
 * @implements {Capture}
 */
export class MediaRecorderCapture {
  /**
   * @param {MediaStream} stream
   * @param {string} mimeType from recordableType()
   * @param {number} fragmentSeconds
   * @param {(piece: Piece) => void} onPiece
   * @param {(error: Error) => void} onError
   */
  constructor(stream, mimeType, fragmentSeconds, onPiece, onError) {
    this.mediaType = mimeType.replaceAll('"', "");
    this.media = new MediaRecorder(stream, {
      mimeType,
      videoBitsPerSecond: 1_500_000,
      audioBitsPerSecond: 64_000,
      // @ts-ignore: Chromium's option (a keyframe, hence a fragment, every this many ms)
      videoKeyFrameIntervalDuration: Math.round(fragmentSeconds * 1000),
    });
    this.splitter = new Fmp4Splitter();
    /** @type {Promise<void>} the bytes are handled one blob after another */
    this.work = Promise.resolve();
    this.media.ondataavailable = (event) => {
      const blob = event.data;
      this.work = this.work
        .then(async () => {
          for (const piece of this.splitter.push(new Uint8Array(await blob.arrayBuffer()))) onPiece(piece);
        })
        .catch((error) => onError(error instanceof Error ? error : new Error(String(error))));
    };
    this.media.onerror = () => onError(new Error("the camera or microphone stopped"));
    this.media.start(TIMESLICE_MS);
  }

  async stop() {
    if (this.media.state !== "inactive") {
      const stopped = new Promise((resolve) => this.media.addEventListener("stop", resolve, { once: true }));
      this.media.stop();
      await stopped;
    }
    await this.work;
    for (const track of this.media.stream.getTracks()) track.stop();
  }
}

// Which capture a browser gets when none is forced: WebCodecs wherever its encoders take
// the stream (webCodecsConfig), else MediaRecorder. From bench/browser_recorder.py on
// Chromium 156 (fake camera, 22 kills per capture at 0.25 s, 8 at 1 s, 12 taps), WebCodecs
// vs MediaRecorder: loss window at 0.25 s med 0.13 vs 0.13 s, p95 0.23-0.28 vs 0.26 s on
// the device clock and 0.15-0.18 vs 0.20-0.22 s (median) on the video's own clock; at 1 s
// p95 0.81 vs 1.03 s; the first fragment receipted 0.38 vs 0.65 s after the tap (its init
// goes with its first fragment, MediaRecorder's a fragment earlier). Never worse, so it is
// the default; its first tap after a page load starts about 0.2 s slower (encoder set-up).
const PREFERRED = /** @type {"webcodecs" | "mediarecorder"} */ ("webcodecs");

/**
 * Start the capture this browser is given (or the one forced).
 * @param {MediaStream} stream
 * @param {number} fragmentSeconds
 * @param {CaptureChoice} choice
 * @param {(piece: Piece) => void} onPiece
 * @param {(error: Error) => void} onError
 * @returns {Promise<Capture>}
 */
export async function chooseCapture(stream, fragmentSeconds, choice, onPiece, onError) {
  const mimeType = recordableType();
  const wantCodecs = choice === "webcodecs" || (choice === "auto" && (PREFERRED === "webcodecs" || mimeType === null));
  if (wantCodecs) {
    const config = await webCodecsConfig(stream, fragmentSeconds);
    if (config !== null) return new WebCodecsCapture(stream, config, fragmentSeconds, onPiece, onError);
    if (choice === "webcodecs") throw new Error("this browser's encoders cannot record this stream");
  }
  if (mimeType === null) throw new Error("this browser cannot record fragmented MP4");
  return new MediaRecorderCapture(stream, mimeType, fragmentSeconds, onPiece, onError);
}

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
   * @param {CaptureChoice} [options.capture] "auto": the browser's best (chooseCapture)
   * @param {(event: SpooledEvent) => void} options.onSpooled after each chunk is committed
   * @param {(error: Error) => void} options.onFailure
   */
  static async start({ stream, spool, signer, recipients, fragmentSeconds = DEFAULT_FRAGMENT_SECONDS, location = false, capture = "auto", onSpooled, onFailure }) {
    if (!(fragmentSeconds >= 0.25 && fragmentSeconds <= 2)) throw new RangeError("a fragment is 0.25 to 2 s long");
    const recorder = new Recorder(spool, onSpooled, onFailure);
    /** @type {Piece[]} pieces cut before the header is spooled wait for it */
    const early = [];
    /** @type {(piece: Piece) => void} */
    let take = (piece) => {
      early.push(piece);
    };
    const source = await chooseCapture(stream, fragmentSeconds, capture, (piece) => take(piece), (error) => recorder.fail(error));
    try {
      const sealer = await RecordingSealer.start({ signer, recipients, mediaType: source.mediaType });
      const id = toHex(sealer.header.recordingId);
      await spool.putRecording({ id, header: sealer.headerBytes, createdMs: sealer.header.createdMs });
      recorder.begin(source, sealer, id);
    } catch (error) {
      await source.stop().catch(() => undefined);
      throw error;
    }
    take = (piece) => recorder.spoolPiece(piece);
    for (const piece of early.splice(0)) recorder.spoolPiece(piece);
    if (location) recorder.watchLocation();
    return recorder;
  }

  /**
   * @param {Spool} spool
   * @param {(event: SpooledEvent) => void} onSpooled
   * @param {(error: Error) => void} onFailure
   */
  constructor(spool, onSpooled, onFailure) {
    this.spool = spool;
    this.onSpooled = onSpooled;
    this.onFailure = onFailure;
    /** @type {Capture | null} */
    this.capture = null;
    /** @type {RecordingSealer | null} */
    this.sealer = null;
    this.id = "";
    /** @type {Promise<void>} the chunks are sealed and spooled one after another */
    this.work = Promise.resolve();
    /** @type {number | null} */
    this.locationWatch = null;
    this.lastLocationMs = 0;
    this.failed = false;
  }

  /** @param {Capture} capture @param {RecordingSealer} sealer @param {string} id */
  begin(capture, sealer, id) {
    this.capture = capture;
    this.sealer = sealer;
    this.id = id;
  }

  get recordingId() {
    return this.id;
  }

  /** Which capture records: its media type says what the chunks hold. */
  get mediaType() {
    return this.capture?.mediaType ?? "";
  }

  /** @param {Piece} piece */
  spoolPiece(piece) {
    this.after(() => this.spoolChunk(piece.kind === "init" ? ChunkKind.INIT : ChunkKind.MEDIA, piece.bytes));
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
    const sealer = /** @type {RecordingSealer} */ (this.sealer);
    const { chunk, bytes, hash } = await sealer.seal(kind, plaintext);
    await this.spool.putChunk({ recording: this.id, index: chunk.index, bytes, chunkHash: hash, deviceTimeMs: chunk.deviceTimeMs });
    this.onSpooled({ recording: this.id, index: chunk.index, kind, deviceTimeMs: chunk.deviceTimeMs, createdMs: sealer.header.createdMs });
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

  /** End the recording: the capture's last fragment, then the final chunk. @param {string} reason */
  async stop(reason = "stopped") {
    if (this.locationWatch !== null) navigator.geolocation.clearWatch(this.locationWatch);
    await this.capture?.stop().catch((error) => this.fail(error instanceof Error ? error : new Error(String(error))));
    const end = new TextEncoder().encode(JSON.stringify({ reason: this.failed ? "failed" : reason }));
    this.after(() => this.spoolChunk(ChunkKind.END, end));
    await this.work;
  }
}
