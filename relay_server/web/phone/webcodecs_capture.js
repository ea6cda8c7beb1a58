// A capture made of WebCodecs encoders and mediabunny's fragmented-MP4 muxer (issue 12):
// camera frames (MediaStreamTrackProcessor) → VideoEncoder (H.264 baseline, a keyframe
// forced at every fragment boundary by the frames' own timestamps) and microphone data →
// AudioEncoder (Opus) → mediabunny's Mp4OutputFormat, fragmented, one fragment per
// keyframe → a StreamTarget whose in-order writes are cut at box boundaries (init, then
// one moof + mdat per piece) by the same Fmp4Splitter the MediaRecorder capture uses.
//
// Only mediabunny's muxer is used: the page encodes the packets itself, so none of
// mediabunny's blob: workers (its MediaStreamTrack sources start one) is ever started;
// the CSP's worker-src 'self' would refuse them.

import { EncodedAudioPacketSource, EncodedPacket, EncodedVideoPacketSource, Mp4OutputFormat, Output, StreamTarget } from "mediabunny";
import { Fmp4Splitter } from "./fmp4_split.js";

/** @typedef {import("./fmp4_split.js").Piece} Piece */

// H.264 constrained baseline, level 3.1 (up to 1280x720 at 30 fps), and Opus: what this
// Chromium encodes (BROWSER_NOTES) and what MSE and `testigo decrypt`'s players take.
const VIDEO_CODEC = "avc1.42001f";
const AUDIO_CODEC = "opus";
export const WEBCODECS_MEDIA_TYPE = `video/mp4;codecs=${VIDEO_CODEC},${AUDIO_CODEC}`;
const VIDEO_BITS_PER_SECOND = 1_500_000; // as the MediaRecorder capture's
const AUDIO_BITS_PER_SECOND = 64_000;
const MAX_ENCODE_QUEUE = 3; // frames waiting in the encoder beyond this are dropped (real time)
const KEY_EARLY_US = 5_000; // a frame this close before a boundary takes its keyframe
// The muxer cuts a fragment only once every track has a packet past it: a microphone
// that gives nothing for this long (muted by the system) is closed, so the picture goes on.
const AUDIO_STALL_US = 1_000_000;

/**
 * @typedef {{ readable: ReadableStream<any> }} TrackProcessor
 * @typedef {new (init: { track: MediaStreamTrack }) => TrackProcessor} TrackProcessorClass
 */

/** Chromium's MediaStreamTrackProcessor (on the page, not only in workers), or null. */
function trackProcessorClass() {
  const found = /** @type {{ MediaStreamTrackProcessor?: TrackProcessorClass }} */ (/** @type {unknown} */ (globalThis)).MediaStreamTrackProcessor;
  return typeof found === "function" ? found : null;
}

/**
 * The encoder settings for this stream, or null when this browser lacks the encoders or
 * they refuse the settings (then the MediaRecorder capture is used).
 * @param {MediaStream} stream
 * @param {number} fragmentSeconds
 * @returns {Promise<{ video: VideoEncoderConfig, audio: AudioEncoderConfig } | null>}
 */
export async function webCodecsConfig(stream, fragmentSeconds) {
  if (typeof VideoEncoder !== "function" || typeof AudioEncoder !== "function" || trackProcessorClass() === null) return null;
  const [videoTrack] = stream.getVideoTracks();
  const [audioTrack] = stream.getAudioTracks();
  if (videoTrack === undefined || audioTrack === undefined) return null;
  const v = videoTrack.getSettings();
  const a = audioTrack.getSettings();
  /** @type {VideoEncoderConfig} */
  const video = {
    codec: VIDEO_CODEC,
    width: v.width ?? 1280,
    height: v.height ?? 720,
    framerate: v.frameRate ?? 30,
    bitrate: VIDEO_BITS_PER_SECOND,
    latencyMode: "realtime",
    avc: { format: "avc" }, // the SPS/PPS in the decoder config (the avcC), as MP4 wants
  };
  /** @type {AudioEncoderConfig} */
  const audio = { codec: AUDIO_CODEC, sampleRate: a.sampleRate ?? 48_000, numberOfChannels: a.channelCount ?? 1, bitrate: AUDIO_BITS_PER_SECOND };
  try {
    const [videoOk, audioOk] = await Promise.all([VideoEncoder.isConfigSupported(video), AudioEncoder.isConfigSupported(audio)]);
    if (!videoOk.supported || !audioOk.supported) return null;
  } catch {
    return null;
  }
  if (!(fragmentSeconds > 0)) return null;
  return { video, audio };
}

/** The page's clock, in µs. */
function nowUs() {
  return Math.round(performance.now() * 1000);
}

export class WebCodecsCapture {
  /**
   * @param {MediaStream} stream
   * @param {{ video: VideoEncoderConfig, audio: AudioEncoderConfig }} config from webCodecsConfig
   * @param {number} fragmentSeconds
   * @param {(piece: Piece) => void} onPiece called in order, one whole init or fragment each
   * @param {(error: Error) => void} onError
   */
  constructor(stream, config, fragmentSeconds, onPiece, onError) {
    this.stream = stream;
    this.mediaType = WEBCODECS_MEDIA_TYPE;
    this.onError = onError;
    this.fragmentUs = Math.round(fragmentSeconds * 1e6);
    this.stopping = false;
    // The tracks' timestamps are on different clocks (in this Chromium, video frames count
    // from boot, sound from the page's time origin): each is put on the page's clock by
    // the offset its first sample had on arrival.
    /** @type {number | null} */
    this.videoOffsetUs = null;
    /** @type {number | null} */
    this.audioOffsetUs = null;
    /** @type {number | null} the first frame's time on the page's clock (µs): 0 in the file */
    this.originUs = null;
    this.nextKeyUs = 0;
    this.written = 0;
    const splitter = new Fmp4Splitter();
    /** @type {WritableStream<import("mediabunny").StreamTargetChunk>} */
    const sink = new WritableStream({
      write: (chunk) => {
        // fragmented MP4 is written in order; a seek back would break the cut
        if (chunk.position !== this.written) throw new Error(`the muxer wrote at ${chunk.position}, not ${this.written}`);
        this.written += chunk.data.length;
        for (const piece of splitter.push(chunk.data)) onPiece(piece);
      },
    });
    this.output = new Output({
      // a new fragment at every keyframe: the encoder makes one every fragmentSeconds
      format: new Mp4OutputFormat({ fastStart: "fragmented", minimumFragmentDuration: fragmentSeconds / 2 }),
      target: new StreamTarget(sink),
    });
    this.videoSource = new EncodedVideoPacketSource("avc");
    this.audioSource = new EncodedAudioPacketSource("opus");
    this.output.addVideoTrack(this.videoSource, { frameRate: config.video.framerate ?? 30 });
    this.output.addAudioTrack(this.audioSource);
    /** @type {Promise<void>} the muxer is given one packet after another */
    this.muxing = this.output.start();
    this.videoEncoder = new VideoEncoder({
      output: (chunk, meta) => this.mux(this.videoSource, chunk, meta, /** @type {number} */ (this.videoOffsetUs)),
      error: (error) => this.fail(error),
    });
    this.videoEncoder.configure(config.video);
    this.audioEncoder = new AudioEncoder({
      output: (chunk, meta) => this.mux(this.audioSource, chunk, meta, /** @type {number} */ (this.audioOffsetUs)),
      error: (error) => this.fail(error),
    });
    this.audioConfig = config.audio;
    this.audioConfigured = false;
    /** @type {number | null} when the microphone last gave sound (page clock, µs) */
    this.lastAudioUs = null;
    this.audioClosed = false;
    const Processor = /** @type {TrackProcessorClass} */ (trackProcessorClass());
    const [videoTrack] = stream.getVideoTracks();
    const [audioTrack] = stream.getAudioTracks();
    /** @type {ReadableStreamDefaultReader<VideoFrame>} */
    this.videoReader = new Processor({ track: /** @type {MediaStreamTrack} */ (videoTrack) }).readable.getReader();
    /** @type {ReadableStreamDefaultReader<AudioData>} */
    this.audioReader = new Processor({ track: /** @type {MediaStreamTrack} */ (audioTrack) }).readable.getReader();
    this.loops = Promise.all([this.readVideo(), this.readAudio()]);
  }

  /** @param {Error | DOMException} error */
  fail(error) {
    if (this.stopping) return;
    this.onError(error instanceof Error ? error : new Error(String(error)));
  }

  /**
   * Hand an encoded chunk to the muxer, on the file's timeline (the first frame at 0).
   * @param {EncodedVideoPacketSource | EncodedAudioPacketSource} source
   * @param {EncodedVideoChunk | EncodedAudioChunk} chunk
   * @param {EncodedVideoChunkMetadata | EncodedAudioChunkMetadata | undefined} meta
   * @param {number} offsetUs the track's clock minus the page's
   */
  mux(source, chunk, meta, offsetUs) {
    const data = new Uint8Array(chunk.byteLength);
    chunk.copyTo(data);
    const timestamp = (chunk.timestamp - offsetUs - /** @type {number} */ (this.originUs)) / 1e6;
    if (timestamp < 0) return; // sound from before the first frame
    if (source === this.audioSource && this.audioClosed) return;
    const packet = new EncodedPacket(data, chunk.type, timestamp, (chunk.duration ?? 0) / 1e6);
    this.muxing = this.muxing
      .then(() => (source instanceof EncodedVideoPacketSource ? source.add(packet, /** @type {EncodedVideoChunkMetadata} */ (meta)) : source.add(packet, /** @type {EncodedAudioChunkMetadata} */ (meta))))
      .catch((error) => this.fail(error));
  }

  async readVideo() {
    while (true) {
      const { value: frame, done } = await this.videoReader.read();
      if (done) break;
      if (this.stopping) {
        frame.close();
        break;
      }
      this.videoOffsetUs ??= frame.timestamp - nowUs();
      this.originUs ??= frame.timestamp - this.videoOffsetUs;
      const at = frame.timestamp - this.videoOffsetUs - this.originUs;
      const key = at >= this.nextKeyUs - KEY_EARLY_US;
      if (!key && this.videoEncoder.encodeQueueSize > MAX_ENCODE_QUEUE) {
        frame.close(); // the encoder is behind: drop a frame, never a fragment's first
        continue;
      }
      if (key) while (this.nextKeyUs - KEY_EARLY_US <= at) this.nextKeyUs += this.fragmentUs;
      if (!this.audioClosed && nowUs() - (this.lastAudioUs ?? this.originUs) > AUDIO_STALL_US) this.closeAudio();
      this.videoEncoder.encode(frame, { keyFrame: key });
      frame.close();
    }
    if (!this.stopping) this.fail(new Error("the camera stopped"));
  }

  async readAudio() {
    while (true) {
      const { value: data, done } = await this.audioReader.read();
      if (done) break;
      if (this.stopping) {
        data.close();
        break;
      }
      this.audioOffsetUs ??= data.timestamp - nowUs();
      if (this.originUs === null || data.timestamp - this.audioOffsetUs < this.originUs) {
        data.close(); // nothing is kept from before the first frame
        continue;
      }
      if (!this.audioConfigured) {
        // what the microphone really gives, which its settings may not say
        this.audioEncoder.configure({ ...this.audioConfig, sampleRate: data.sampleRate, numberOfChannels: data.numberOfChannels });
        this.audioConfigured = true;
      }
      this.lastAudioUs = nowUs();
      if (this.audioClosed) {
        data.close(); // the sound came back after its track was closed: the file has none
        continue;
      }
      this.audioEncoder.encode(data);
      data.close();
    }
    if (!this.stopping) this.fail(new Error("the microphone stopped"));
  }

  /** The microphone went silent (no data at all): the muxer stops waiting for it. */
  closeAudio() {
    this.audioClosed = true;
    console.warn("recorder: no sound for a second; recording the picture alone");
    this.muxing = this.muxing.then(() => this.audioSource.close()).catch((error) => this.fail(error));
  }

  /** Stop: every frame read so far encoded, muxed, and its last fragment handed over. */
  async stop() {
    this.stopping = true;
    await Promise.all([this.videoReader.cancel(), this.audioReader.cancel()]).catch(() => undefined);
    await this.loops;
    if (this.videoEncoder.state === "configured") await this.videoEncoder.flush();
    if (this.audioEncoder.state === "configured") await this.audioEncoder.flush();
    await this.muxing;
    if (this.originUs !== null) await this.output.finalize(); // the last fragment
    else await this.output.cancel();
    for (const encoder of [this.videoEncoder, this.audioEncoder]) if (encoder.state !== "closed") encoder.close();
    for (const track of this.stream.getTracks()) track.stop();
  }
}
