// The app's service worker: it serves the release the person installed, from its own
// cache, offline too, and never switches to another release on its own. A new release
// installs only once the person accepted it on the page (phone/app_update.js), and
// every file it installs must have the sha256 its release lists (the relay writes the
// release id below when it serves this file; THREAT_MODEL.md, the browser).

import { canonicalListing, getRelease, setRelease, sha256Hex } from "./lib/release_store.js";

const RELEASE = "__TESTIGO_RELEASE__";
const CACHE = `testigo-app-${RELEASE}`;
const worker = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

async function install() {
  const installed = await getRelease("installed");
  const accepted = await getRelease("accepted");
  if (installed !== undefined && installed !== RELEASE && accepted !== RELEASE) {
    throw new Error("an update the person has not accepted: keep the installed release");
  }
  const listing = await fetch("/app/release.json", { cache: "no-store" });
  /** @type {{release: string, files: Record<string, string>}} */
  const document = await listing.json();
  if (document.release !== RELEASE || (await sha256Hex(new TextEncoder().encode(canonicalListing(document.files)))) !== RELEASE) {
    throw new Error("the release listing is not the one this worker was served with");
  }
  const cache = await caches.open(CACHE);
  for (const [path, digest] of Object.entries(document.files)) {
    const response = await fetch(path, { cache: "no-store" });
    const body = await response.arrayBuffer();
    if (!response.ok || (await sha256Hex(body)) !== digest) throw new Error(`${path} is not the file its release lists`);
    await cache.put(path, new Response(body, { headers: response.headers }));
  }
}

async function activate() {
  await setRelease("installed", RELEASE);
  for (const name of await caches.keys()) if (name.startsWith("testigo-app-") && name !== CACHE) await caches.delete(name);
  await worker.clients.claim();
}

/** @param {Request} request */
async function fromInstalledRelease(request) {
  const url = new URL(request.url);
  const path = url.pathname.endsWith("/") ? `${url.pathname}index.html` : url.pathname;
  const cached = await (await caches.open(CACHE)).match(path);
  return cached ?? fetch(request);
}

worker.addEventListener("install", (event) => event.waitUntil(install()));
worker.addEventListener("activate", (event) => event.waitUntil(activate()));
worker.addEventListener("message", (event) => {
  if (event.data === "activate") void worker.skipWaiting();
});
worker.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const app = url.origin === worker.location.origin && url.pathname.startsWith("/app/");
  const fresh = url.pathname === "/app/release.json" || url.pathname === "/app/sw.js";
  if (event.request.method === "GET" && app && !fresh) event.respondWith(fromInstalledRelease(event.request));
});
