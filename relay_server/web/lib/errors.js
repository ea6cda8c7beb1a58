// One error tree, as vault/errors.py: callers react by class, never by message.

export class TestigoError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
}

/** The bytes do not follow the format (truncated, wrong sizes, garbage). */
export class MalformedError extends TestigoError {}

/** The version line names a format version this reader does not know. */
export class UnsupportedVersionError extends MalformedError {}

/** A signature, hash or AEAD check failed. */
export class TamperedError extends TestigoError {}

/** None of the header's stanzas opens with the given identity. */
export class NotForMeError extends TestigoError {}

/** What follows the last chunk does not start with the chunk magic. */
export class NotAChunkError extends MalformedError {}
