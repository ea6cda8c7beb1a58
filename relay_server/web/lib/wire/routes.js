// The relay's routes the phone uses (PROTOCOL.md §3.1, §4), as vault/wire/routes.py.

export const WEBRTC_CONFIG = "/v1/webrtc/config";
export const WEBRTC_OFFER = "/v1/webrtc/offer";
export const HEADERS = "/v1/headers";

/** @param {string} device a tg-device-… key string @param {string} recordingId 32 hex digits */
export function chunksPath(device, recordingId) {
  return `/v1/recordings/${encodeURIComponent(device)}/${recordingId}/chunks`;
}
