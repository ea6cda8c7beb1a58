// The relay's refusals (PROTOCOL.md §5) and the phone's reaction to each (§14), as
// vault/wire/errors.py and stream/phone/upload_machine.py.

export const ErrorCode = Object.freeze({
  MALFORMED: 1,
  UNSUPPORTED_VERSION: 2,
  UNKNOWN_DEVICE: 3,
  BAD_HEADER: 4,
  BAD_SIGNATURE: 5,
  WRONG_RECORDING: 6,
  TOO_LARGE: 7,
  CONFLICT: 8,
  RECORDING_LIMIT: 9,
  RATE_LIMITED: 10,
  BUSY: 11,
  STORAGE_FAILURE: 12,
  NO_HEADER: 13,
  UNAUTHORIZED: 14,
  NOT_FOUND: 15,
  OVERLOADED: 16,
});

/** @typedef {"later" | "final for recording" | "final for chunk" | "resend header"} Reaction */

/** @type {ReadonlySet<number>} */
const LATER = new Set([ErrorCode.STORAGE_FAILURE, ErrorCode.RATE_LIMITED, ErrorCode.BUSY, ErrorCode.OVERLOADED]);
/** @type {ReadonlySet<number>} */
const FINAL_FOR_RECORDING = new Set([ErrorCode.UNKNOWN_DEVICE, ErrorCode.BAD_HEADER, ErrorCode.UNSUPPORTED_VERSION, ErrorCode.UNAUTHORIZED]);

/**
 * What the phone does about a refusal (PROTOCOL.md §14); the same for both transports.
 * @param {number} code
 * @param {boolean} aboutHeader whether it answered the header (HELLO or POST /v1/headers)
 * @returns {Reaction}
 */
export function reactionTo(code, aboutHeader) {
  if (LATER.has(code)) return "later";
  if (FINAL_FOR_RECORDING.has(code)) return "final for recording";
  if (aboutHeader) return "later"; // HELLO again after the backoff, no_header too
  return code === ErrorCode.NO_HEADER ? "resend header" : "final for chunk";
}

/** A refusal read off the wire. */
export class RelayRefusal extends Error {
  /** @param {number} code @param {string} message @param {number | null} index */
  constructor(code, message, index) {
    super(message);
    this.name = "RelayRefusal";
    this.code = code;
    this.index = index;
  }
}

/**
 * The refusal in an HTTPS error answer's JSON body ({"error": {"code", "name", "message"}}).
 * @param {unknown} body
 * @param {number | null} index
 */
export function refusalOfBody(body, index) {
  if (typeof body === "object" && body !== null && "error" in body) {
    const error = /** @type {{error: unknown}} */ (body).error;
    if (typeof error === "object" && error !== null) {
      const { code, message } = /** @type {{code?: unknown, message?: unknown}} */ (error);
      if (typeof code === "number" && Number.isInteger(code)) return new RelayRefusal(code, typeof message === "string" ? message : "", index);
    }
  }
  return new RelayRefusal(ErrorCode.MALFORMED, "the relay's answer did not parse", index);
}
