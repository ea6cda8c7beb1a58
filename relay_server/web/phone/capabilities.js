// What this browser can do for the recorder: every feature detected before it is used
// (after webrtc/samples), so the person is told plainly what is missing.

import * as sodium from "../lib/sodium.js";

/** @typedef {"secure" | "camera" | "storage" | "crypto" | "signing" | "recorder" | "wakelock"} Capability */

/** Capabilities without which recording cannot work at all. @type {readonly Capability[]} */
export const REQUIRED = Object.freeze(["secure", "camera", "storage", "crypto", "recorder"]);

async function hasEd25519() {
  try {
    await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    return true;
  } catch {
    return false;
  }
}

async function hasSodium() {
  try {
    await sodium.ready();
    return sodium.hash32(new Uint8Array(1)).length === sodium.HASH_SIZE;
  } catch {
    return false;
  }
}

function hasRecorder() {
  const encoders = typeof VideoEncoder === "function" && typeof AudioEncoder === "function";
  const recorder = typeof MediaRecorder === "function" && MediaRecorder.isTypeSupported("video/mp4");
  return encoders || recorder;
}

/** @returns {Promise<Record<Capability, boolean>>} */
export async function detect() {
  return {
    secure: window.isSecureContext,
    camera: typeof navigator.mediaDevices?.getUserMedia === "function",
    storage: typeof indexedDB === "object" && indexedDB !== null,
    crypto: await hasSodium(),
    signing: await hasEd25519(),
    recorder: hasRecorder(),
    wakelock: "wakeLock" in navigator,
  };
}
