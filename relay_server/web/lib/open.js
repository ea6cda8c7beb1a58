// Opening a recording's chunks with a recipient identity, as vault/open.py.

import { equal } from "./bytes.js";
import { NotForMeError, TamperedError } from "./errors.js";
import { chunkAssociatedData, chunkNonce, headerHash, headerSignatureIsValid, payloadKey } from "./format.js";
import * as sodium from "./sodium.js";

/** @typedef {import("./format.js").Header} Header */
/** @typedef {import("./format.js").Chunk} Chunk */

/** A recipient's X25519 key pair. */
export class RecipientIdentity {
  /** @param {Uint8Array} secret the 32-byte X25519 secret */
  constructor(secret) {
    this.secret = secret;
    this.publicKey = sodium.x25519Public(secret);
  }

  /** The file key in a stanza sealed to this identity, or null when it is not. @param {Uint8Array} stanza */
  unwrap(stanza) {
    try {
      return sodium.openSealed(this.publicKey, this.secret, stanza);
    } catch (error) {
      if (error instanceof sodium.AuthenticationFailed) return null;
      throw error;
    }
  }
}

/** Holds the payload key of one recording and opens its chunks, each on its own. */
export class RecordingOpener {
  /** @param {Header} header @param {RecipientIdentity[]} identities */
  constructor(header, identities) {
    if (!headerSignatureIsValid(header)) throw new TamperedError("the recording header failed authentication");
    /** @type {Uint8Array | null} */
    let fileKey = null;
    for (const identity of identities) {
      for (const stanza of header.stanzas) {
        const candidate = identity.unwrap(stanza);
        if (candidate !== null && candidate.length === sodium.KEY_SIZE) {
          fileKey = candidate;
          break;
        }
      }
      if (fileKey !== null) break;
    }
    if (fileKey === null) throw new NotForMeError("this recording was not sealed to the given identity");
    this.header = header;
    this.headerHash = headerHash(header);
    this.payloadKey = payloadKey(fileKey, header.recordingId);
  }

  /** The chunk's plaintext; TamperedError when the AEAD does not open. @param {Chunk} chunk */
  open(chunk) {
    if (!equal(chunk.recordingId, this.header.recordingId)) throw new TamperedError("the chunk failed authentication");
    try {
      return sodium.aeadDecrypt(this.payloadKey, chunkNonce(chunk), chunkAssociatedData(chunk, this.headerHash), chunk.ciphertext);
    } catch (error) {
      if (error instanceof sodium.AuthenticationFailed) throw new TamperedError("the chunk failed authentication");
      throw error;
    }
  }
}
