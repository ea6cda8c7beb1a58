// Cuts the fragmented MP4 a MediaRecorder writes into the recording's chunks, at true
// box boundaries (its blobs are not): the init segment (`ftyp` + `moov`, cut as soon as
// the `moov` is whole), then one media chunk per `moof` + `mdat` (with any `styp`,
// `sidx` or `prft` before it). With `videoKeyFrameIntervalDuration` set, Chromium starts
// a fragment at every keyframe, so every media chunk starts with one.

const MAX_BOX = 64 * 1024 * 1024; // no fragment of ours comes near; a bigger size is garbage

/** @param {Uint8Array} data @param {number} at */
function boxType(data, at) {
  return String.fromCharCode(data[at + 4] ?? 0, data[at + 5] ?? 0, data[at + 6] ?? 0, data[at + 7] ?? 0);
}

/**
 * The size of the box at `at`, or null when its header is not all there yet.
 * @param {Uint8Array} data
 * @param {number} at
 */
function boxSize(data, at) {
  if (data.length - at < 8) return null;
  const view = new DataView(data.buffer, data.byteOffset + at, data.length - at);
  const size = view.getUint32(0);
  if (size === 1) {
    if (data.length - at < 16) return null;
    const large = Number(view.getBigUint64(8));
    if (large < 16 || large > MAX_BOX) throw new Error(`an MP4 box of ${large} bytes`);
    return large;
  }
  if (size < 8 || size > MAX_BOX) throw new Error(`an MP4 box of ${size} bytes`); // 0 (to the end) cannot be streamed
  return size;
}

/** @typedef {{kind: "init" | "media", bytes: Uint8Array}} Piece */

export class Fmp4Splitter {
  constructor() {
    /** @type {Uint8Array} bytes not yet emitted */
    this.pending = new Uint8Array(0);
    this.initDone = false;
  }

  /**
   * Add the recorder's next bytes; returns the pieces they complete, in order.
   * @param {Uint8Array} bytes
   * @returns {Piece[]}
   */
  push(bytes) {
    const joined = new Uint8Array(this.pending.length + bytes.length);
    joined.set(this.pending);
    joined.set(bytes, this.pending.length);
    /** @type {Piece[]} */
    const pieces = [];
    let start = 0; // where the piece being built begins
    let at = 0;
    while (true) {
      const size = boxSize(joined, at);
      if (size === null || joined.length - at < size) break;
      const type = boxType(joined, at);
      if (type === "moof" && !this.initDone) throw new Error("a media fragment before the init segment");
      at += size;
      if (type === "moov" && !this.initDone) {
        // the init segment is whole: seal and send it now, not with the first fragment
        pieces.push({ kind: "init", bytes: joined.slice(start, at) });
        this.initDone = true;
        start = at;
      } else if (type === "mdat" && this.initDone) {
        pieces.push({ kind: "media", bytes: joined.slice(start, at) });
        start = at;
      }
    }
    this.pending = joined.slice(start);
    return pieces;
  }

  /** Bytes the recorder wrote that no piece holds yet (at the end: a cut-off fragment). */
  get leftover() {
    return this.pending.length;
  }
}
