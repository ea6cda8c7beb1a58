// Setting the phone up from an invite link (PROTOCOL.md §15): read the fragment, derive
// the invite key from its one-time secret, enroll the device key made in this browser,
// and check that the relay that answered holds the key the link names.

import { concat, utf8 } from "../lib/bytes.js";
import { KINDS, PublicKey } from "../lib/keys.js";
import * as sodium from "../lib/sodium.js";
import { refusalOfBody } from "../lib/wire/errors.js";

/** @typedef {import("../lib/seal.js").DeviceSigner} DeviceSigner */

export const ENROLL = "/v1/enroll";
const INVITE_UNUSABLE = 17;
const RATE_LIMITED = 10;
const MAX_FRAGMENT = 256;
const SECRET_SIZE = 32;
const INVITE_KEY = utf8("testigo/v1 invite-key");
const ENROLL_CONTEXT = utf8("testigo/v1 enroll");
const ENROLL_DEVICE_CONTEXT = utf8("testigo/v1 enroll-device");
const ENROLLED_CONTEXT = utf8("testigo/v1 enrolled");

/** Why setting up did not work: each is one sentence of the i18n tables ("setup."). */
export class SetupFailed extends Error {
  /** @param {"link_broken" | "invite_unusable" | "relay_mismatch" | "offline" | "try_later"} reason @param {string} detail */
  constructor(reason, detail) {
    super(detail);
    this.name = "SetupFailed";
    this.reason = reason;
  }
}

/**
 * The invite in a link's fragment (§15.1), or SetupFailed("link_broken").
 * @param {string} fragment with or without its leading "#"
 * @returns {{secret: Uint8Array, relay: PublicKey}}
 */
export function parseInviteFragment(fragment) {
  const text = fragment.startsWith("#") ? fragment.slice(1) : fragment;
  /** @param {string} why */
  const broken = (why) => new SetupFailed("link_broken", why);
  if (text.length > MAX_FRAGMENT) throw broken("the fragment is too long");
  /** @type {Map<string, string>} */
  const parameters = new Map();
  for (const part of text.split("&")) {
    const equals = part.indexOf("=");
    if (equals <= 0) throw broken("a part of the fragment is not name=value");
    const name = part.slice(0, equals);
    if (name !== "invite" && name !== "relay") throw broken(`an unknown parameter ${name}`);
    if (parameters.has(name)) throw broken(`${name} given twice`);
    parameters.set(name, part.slice(equals + 1));
  }
  const secretText = parameters.get("invite");
  const relayText = parameters.get("relay");
  if (secretText === undefined || relayText === undefined) throw broken("the invite or the relay is missing");
  const secret = sodium.fromBase64Url(secretText);
  if (secret === null || secret.length !== SECRET_SIZE) throw broken("the invite secret is not 32 bytes of canonical base64url");
  let relay;
  try {
    relay = PublicKey.parse(KINDS.relay, relayText);
  } catch (error) {
    throw broken(`the relay key: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (relay.toString() !== relayText) throw broken("the relay key is not in its canonical form");
  return { secret, relay };
}

/** The invite key pair of a secret (§15.2). @param {Uint8Array} secret */
export function inviteKey(secret) {
  return sodium.ed25519Keypair(sodium.keyedHash32(secret, INVITE_KEY));
}

/**
 * The body of POST /v1/enroll (§15.3).
 * @param {Uint8Array} secret
 * @param {PublicKey} relay
 * @param {DeviceSigner} signer
 */
export async function enrollRequest(secret, relay, signer) {
  const invite = inviteKey(secret);
  const device = new PublicKey(KINDS.device, signer.publicKey);
  return {
    invite: sodium.toBase64Url(invite.publicKey),
    device: device.toString(),
    signature: sodium.toBase64Url(sodium.ed25519Sign(invite.secretKey, concat(ENROLL_CONTEXT, relay.raw, device.raw))),
    device_signature: sodium.toBase64Url(await signer.sign(concat(ENROLL_DEVICE_CONTEXT, relay.raw, invite.publicKey))),
  };
}

/**
 * Whether the answer's relay signature is the linked relay's (§15.3, the pin).
 * @param {unknown} answer
 * @param {PublicKey} relay
 * @param {Uint8Array} deviceKey
 * @param {Uint8Array} invitePublic
 */
export function answerIsFromRelay(answer, relay, deviceKey, invitePublic) {
  if (typeof answer !== "object" || answer === null) return false;
  const text = /** @type {{relay_signature?: unknown}} */ (answer).relay_signature;
  if (typeof text !== "string") return false;
  const signature = sodium.fromBase64Url(text);
  return signature !== null && sodium.ed25519Verify(relay.raw, concat(ENROLLED_CONTEXT, deviceKey, invitePublic), signature);
}

/**
 * Enroll this browser's device key with the invite of a link; resolves to the relay key
 * to pin, or throws SetupFailed saying why not.
 * @param {string} origin the relay's origin (it served this page)
 * @param {string} fragment
 * @param {DeviceSigner} signer
 */
export async function enrollWithInvite(origin, fragment, signer) {
  const { secret, relay } = parseInviteFragment(fragment);
  const body = await enrollRequest(secret, relay, signer);
  const invitePublic = inviteKey(secret).publicKey;
  secret.fill(0);
  let response;
  try {
    response = await fetch(origin + ENROLL, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "Content-Type": "application/json" },
      cache: "no-store",
      signal: AbortSignal.timeout(15_000),
    });
  } catch {
    throw new SetupFailed("offline", "the relay is out of reach");
  }
  /** @type {unknown} */
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const refusal = refusalOfBody(answer, null);
    if (refusal.code === INVITE_UNUSABLE) throw new SetupFailed("invite_unusable", refusal.message);
    if (refusal.code === RATE_LIMITED || response.status >= 500) throw new SetupFailed("try_later", refusal.message);
    throw new SetupFailed("invite_unusable", refusal.message);
  }
  if (!answerIsFromRelay(answer, relay, signer.publicKey, invitePublic)) throw new SetupFailed("relay_mismatch", "the answer is not signed by the relay of the link");
  return relay;
}
