// The phone's page: set up once from an invite link, keep a contact book, record with
// one tap, and show plainly what is safe off the phone. Page code only (DOM, strings);
// the format and the protocol live in lib/ and in the modules beside this one.

import { KINDS, PublicKey } from "../lib/keys.js";
import * as sodium from "../lib/sodium.js";
import { deviceSigner, newDeviceKey } from "../lib/device_key.js";
import { pageLanguage, saveLanguage, translatePage, translator } from "../i18n/strings.js";
import { REQUIRED, detect } from "./capabilities.js";
import { keepInstalledApp, shortRelease } from "./app_update.js";
import { ContactBook, ContactRefused } from "./contact_book.js";
import { SetupFailed, enrollWithInvite } from "./invite.js";
import { Recorder, openCamera } from "./recorder.js";
import { Spool } from "./spool.js";
import { Uploader } from "./uploader.js";

/** @typedef {import("../i18n/strings.js").StringKey} StringKey */
/** @typedef {import("../lib/device_key.js").StoredDeviceKey} StoredDeviceKey */
/** @typedef {import("./uploader.js").UploadStatus} UploadStatus */

/** @param {string} id */
function byId(id) {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element;
}

/** @template {HTMLElement} T @param {string} id @param {new () => T} kind @returns {T} */
function typed(id, kind) {
  const element = byId(id);
  if (!(element instanceof kind)) throw new Error(`#${id} is not a ${kind.name}`);
  return element;
}

let language = pageLanguage();
let t = translator(language);

function applyLanguage() {
  t = translator(language);
  document.documentElement.lang = language;
  translatePage(document, t);
}

/** @param {string} text */
function say(text) {
  byId("problem").textContent = text;
}

async function showCapabilities() {
  const found = await detect();
  const list = byId("capabilities");
  list.replaceChildren();
  for (const [name, ok] of Object.entries(found)) {
    const item = document.createElement("li");
    item.dataset["capability"] = name;
    item.dataset["ok"] = String(ok);
    item.textContent = `${t(/** @type {StringKey} */ (`check.${name}`))}: ${ok ? t("check.yes") : t("check.no")}`;
    list.append(item);
  }
  const ready = REQUIRED.every((name) => found[name]);
  const verdict = byId("verdict");
  verdict.textContent = ready ? t("check.ready") : found.secure ? t("check.not_ready") : t("check.insecure");
  verdict.dataset["ready"] = String(ready);
}

async function showRights() {
  const response = await fetch(`/app/i18n/rights.${language}.json`);
  /** @type {{title: string, note: string, points: string[], sources: {name: string, url: string}[]}} */
  const card = await response.json();
  byId("rights-title").textContent = card.title;
  byId("rights-note").textContent = card.note;
  byId("rights-points").replaceChildren(...card.points.map((point) => Object.assign(document.createElement("li"), { textContent: point })));
  byId("rights-sources").replaceChildren(
    ...card.sources.map((source) => {
      const item = document.createElement("li");
      const link = Object.assign(document.createElement("a"), { href: source.url, textContent: source.name, rel: "noreferrer", target: "_blank" });
      item.append(link);
      return item;
    }),
  );
  typed("rights", HTMLDialogElement).showModal();
}

/** The device key of this browser, made once and kept in IndexedDB. @param {Spool} spool */
async function deviceKeyOf(spool) {
  const stored = /** @type {StoredDeviceKey | undefined} */ (await spool.getConfig("device"));
  if (stored !== undefined) return stored;
  const made = await newDeviceKey();
  await spool.putConfig("device", made);
  return made;
}

/**
 * Read an invite from the address (and take it out of the address bar and the history
 * at once), or the one kept from an earlier visit that could not reach the relay.
 * @param {Spool} spool
 */
async function takeInvite(spool) {
  const fragment = location.hash;
  if (fragment.length > 1) {
    history.replaceState(null, "", location.pathname + location.search);
    await spool.putConfig("pending_invite", fragment);
    return fragment;
  }
  const kept = await spool.getConfig("pending_invite");
  return typeof kept === "string" ? kept : null;
}

/** @param {Spool} spool @param {StoredDeviceKey} stored */
async function setUp(spool, stored) {
  const invite = await takeInvite(spool);
  if (invite === null) return null;
  const message = byId("setup-message");
  message.textContent = t("setup.working");
  try {
    const relay = await enrollWithInvite(location.origin, invite, deviceSigner(stored));
    await spool.putConfig("relay", relay.toString());
    await spool.putConfig("pending_invite", null);
    return relay;
  } catch (error) {
    if (!(error instanceof SetupFailed)) throw error;
    if (error.reason !== "offline" && error.reason !== "try_later") await spool.putConfig("pending_invite", null);
    message.textContent = t(/** @type {StringKey} */ (`setup.${error.reason}`));
    message.dataset["failed"] = error.reason;
    return null;
  }
}

/** @param {ContactBook} book */
function showContacts(book) {
  const list = byId("contact-list");
  list.replaceChildren(
    ...book.contacts.map((contact) => {
      const item = document.createElement("li");
      const key = PublicKey.parse(KINDS.recipient, contact.recipient);
      const name = Object.assign(document.createElement("strong"), { textContent: contact.name });
      const fingerprint = Object.assign(document.createElement("span"), { className: "fingerprint", textContent: key.fingerprint });
      const remove = Object.assign(document.createElement("button"), { type: "button", textContent: t("contacts.remove") });
      remove.onclick = async () => {
        await book.remove(contact.recipient);
        showContacts(book);
      };
      item.append(name, fingerprint, remove);
      return item;
    }),
  );
  if (book.contacts.length === 0) list.append(Object.assign(document.createElement("li"), { textContent: t("contacts.none") }));
}

/** @param {ContactBook} book */
function wireContactForm(book) {
  const form = typed("add-contact", HTMLFormElement);
  form.onsubmit = async (event) => {
    event.preventDefault();
    const message = byId("contact-message");
    const name = typed("contact-name", HTMLInputElement);
    const key = typed("contact-key", HTMLInputElement);
    try {
      const added = await book.add(name.value, key.value);
      message.textContent = `${t("contacts.compare")} ${added.fingerprint}`;
      message.dataset["added"] = added.toString();
      name.value = "";
      key.value = "";
      showContacts(book);
    } catch (error) {
      if (!(error instanceof ContactRefused)) throw error;
      message.textContent = t(/** @type {StringKey} */ (`contacts.refused_${error.reason}`));
      delete message.dataset["added"];
    }
  };
}

/**
 * How much of the current recording is safely off the phone: the device time of the last
 * chunk such that it and every chunk before it have a verified receipt. Kept in memory
 * from the recorder's and the uploader's events (reading the spool at every receipt would
 * read the whole recording again each time).
 */
class SafeSpan {
  /** @param {string} recording @param {number} createdMs */
  constructor(recording, createdMs) {
    this.recording = recording;
    this.createdMs = createdMs;
    /** @type {Map<number, number>} index → device time, of chunks spooled, not yet counted */
    this.times = new Map();
    /** @type {Set<number>} receipted indices above the safe one */
    this.receipted = new Set();
    this.next = 0;
    this.lastTimeMs = createdMs;
  }

  /** @param {number} index @param {number} deviceTimeMs */
  spooled(index, deviceTimeMs) {
    this.times.set(index, deviceTimeMs);
    this.advance();
  }

  /** @param {string} recording @param {number} index */
  receipt(recording, index) {
    if (recording !== this.recording) return;
    this.receipted.add(index);
    this.advance();
  }

  advance() {
    while (this.receipted.has(this.next) && this.times.has(this.next)) {
      this.lastTimeMs = /** @type {number} */ (this.times.get(this.next));
      this.times.delete(this.next);
      this.receipted.delete(this.next);
      this.next += 1;
    }
  }

  get seconds() {
    return Math.max(0, Math.round((this.lastTimeMs - this.createdMs) / 1000));
  }
}

/**
 * The capture the tests and benches force by setting `data-capture` on the page's root
 * element ("webcodecs" or "mediarecorder"); otherwise the browser's best.
 * @returns {import("./recorder.js").CaptureChoice}
 */
function forcedCapture() {
  const forced = document.documentElement.dataset["capture"];
  return forced === "webcodecs" || forced === "mediarecorder" ? forced : "auto";
}

/**
 * @param {Spool} spool
 * @param {StoredDeviceKey} stored
 * @param {PublicKey} relay
 * @param {ContactBook} book
 */
function startRecorderScreen(spool, stored, relay, book) {
  const signer = deviceSigner(stored);
  const device = new PublicKey(KINDS.device, signer.publicKey).toString();
  const status = byId("status");
  /** @type {Recorder | null} */
  let recorder = null;
  /** @type {string | null} */
  let current = null;
  /** @type {SafeSpan | null} */
  let safe = null;
  let startedAt = 0;
  /** @type {WakeLockSentinel | null} */
  let wakeLock = null;

  /** @param {UploadStatus} upload */
  const showStatus = async (upload) => {
    status.dataset["receipted"] = String(upload.receipted);
    status.dataset["pending"] = String(upload.pending);
    status.dataset["current"] = String(upload.current);
    status.dataset["network"] = upload.network;
    // said once and calmly where the network is shown: retrying is not an alarm
    const retrying = upload.problem === "out_of_reach" || upload.problem === "relay_busy";
    byId("network").textContent = retrying
      ? t(/** @type {StringKey} */ (`problem.${upload.problem}`))
      : t(/** @type {StringKey} */ (`record.network_${upload.network}`));
    byId("pending").textContent = upload.pending > 0 ? `${upload.pending} ${t("record.pending")}` : "";
    if (safe !== null) byId("safe").textContent = `${safe.seconds} s ${t("record.safe")}`;
    if (upload.problem !== null && !retrying) say(t(/** @type {StringKey} */ (`problem.${upload.problem}`)));
    else if (recorder === null && current !== null && upload.pending === 0 && upload.current) say(t("record.all_safe"));
  };
  const uploader = new Uploader({ spool, origin: location.origin, relayKey: relay.raw, signer, deviceKeyString: device, onStatus: (s) => void showStatus(s), onReceipt: (recording, index) => safe?.receipt(recording, index) });
  void uploader.run();

  const button = typed("record", HTMLButtonElement);
  const elapsed = byId("elapsed");
  const tick = () => {
    if (recorder === null) return;
    elapsed.textContent = `${t("record.elapsed")} ${Math.floor((Date.now() - startedAt) / 1000)} s`;
    setTimeout(tick, 500);
  };

  const stop = async () => {
    const ending = recorder;
    recorder = null;
    button.dataset["state"] = "stopping";
    if (ending !== null) await ending.stop();
    await wakeLock?.release().catch(() => undefined);
    wakeLock = null;
    button.dataset["state"] = "idle";
    button.textContent = t("record.start");
    say(t("record.stopped"));
    uploader.wake();
  };

  button.onclick = async () => {
    if (recorder !== null) return stop();
    if (button.dataset["state"] !== "idle") return;
    if (book.contacts.length === 0) return say(t("contacts.none"));
    button.dataset["state"] = "starting";
    startedAt = Date.now();
    let stream;
    try {
      stream = await openCamera(/** @type {"environment" | "user"} */ (typed("camera", HTMLSelectElement).value));
    } catch {
      button.dataset["state"] = "idle";
      return say(t("record.no_camera"));
    }
    const preview = typed("preview", HTMLVideoElement);
    preview.srcObject = stream;
    void preview.play().catch(() => undefined);
    try {
      recorder = await Recorder.start({
      stream,
      spool,
      signer,
      recipients: book.recipients(),
      location: typed("location", HTMLInputElement).checked,
      capture: forcedCapture(),
      onSpooled: (event) => {
        // what is sealed and stored on the phone so far (the tests and the benches read it)
        status.dataset["sealed"] = String(event.index + 1);
        status.dataset["sealedMs"] = String(event.deviceTimeMs - startedAt);
        if (safe === null || safe.recording !== event.recording) safe = new SafeSpan(event.recording, event.createdMs);
        safe.spooled(event.index, event.deviceTimeMs);
        uploader.wake();
      },
      onFailure: () => {
        say(t("record.failed"));
        void stop();
      },
      });
    } catch (error) {
      console.error("record:", error);
      for (const track of stream.getTracks()) track.stop();
      button.dataset["state"] = "idle";
      return say(t("record.cannot_start"));
    }
    current = recorder.recordingId;
    status.dataset["recording"] = current;
    status.dataset["mediaType"] = recorder.mediaType; // which capture records (tests, benches)
    wakeLock = await navigator.wakeLock?.request("screen").catch(() => null) ?? null;
    button.dataset["state"] = "recording";
    button.textContent = t("record.stop");
    say("");
    tick();
  };
}

async function main() {
  applyLanguage();
  byId("language").onclick = () => {
    language = language === "en" ? "es" : "en";
    saveLanguage(language);
    applyLanguage();
    void showCapabilities();
  };
  byId("rights-open").onclick = () => void showRights();
  void showCapabilities();
  void keepInstalledApp((release, accept) => {
    byId("update-release").textContent = shortRelease(release);
    byId("update").hidden = false;
    byId("update-install").onclick = () => void accept();
  }).then((release) => {
    if (release !== null) document.body.dataset["release"] = release;
  });
  await sodium.ready();
  const spool = await Spool.open();
  void navigator.storage?.persist?.();
  const stored = await deviceKeyOf(spool);
  const pinned = await spool.getConfig("relay");
  let relay = typeof pinned === "string" ? PublicKey.parse(KINDS.relay, pinned) : null;
  if (relay === null) {
    byId("setup").hidden = false;
    relay = await setUp(spool, stored);
    if (relay === null) return;
    byId("setup-message").textContent = `${t("setup.done")} ${t("setup.relay_key")} ${relay.fingerprint}`;
  }
  document.body.dataset["ready"] = "true";
  const book = await ContactBook.load(spool);
  byId("contacts").hidden = false;
  byId("recorder").hidden = false;
  showContacts(book);
  wireContactForm(book);
  startRecorderScreen(spool, stored, relay, book);
}

void main();
