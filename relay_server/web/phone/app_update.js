// Keeping the installed app (sw.js): register the service worker, and when the relay
// offers another release, show it with its id and install it only when the person
// accepts. Until then every page of the app comes from the release they installed.

import { getRelease, setRelease } from "../lib/release_store.js";

/** The release id as the person reads it: four groups of four hex digits. @param {string} release */
export function shortRelease(release) {
  return release.slice(0, 16).replace(/(.{4})(?=.)/g, "$1-");
}

/**
 * Register the service worker; calls onUpdate(release, accept) when another release waits.
 * @param {(release: string, accept: () => Promise<void>) => void} onUpdate
 */
export async function keepInstalledApp(onUpdate) {
  if (!("serviceWorker" in navigator)) return null;
  const registration = await navigator.serviceWorker.register("/app/sw.js", { scope: "/app/", type: "module", updateViaCache: "none" });
  const installed = await getRelease("installed");
  let latest;
  try {
    latest = /** @type {{release: string}} */ (await (await fetch("/app/release.json", { cache: "no-store" })).json()).release;
  } catch {
    return installed ?? null; // offline: the installed release goes on
  }
  if (installed !== undefined && latest !== installed) {
    onUpdate(latest, async () => {
      await setRelease("accepted", latest);
      const changed = new Promise((resolve) => navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true }));
      await registration.update();
      const waiting = await waitingWorker(registration);
      waiting.postMessage("activate");
      await changed;
      location.reload();
    });
  }
  return installed ?? latest;
}

/** @param {ServiceWorkerRegistration} registration @returns {Promise<ServiceWorker>} */
function waitingWorker(registration) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (registration.waiting !== null) return resolve(registration.waiting);
      const installing = registration.installing;
      if (installing === null) return reject(new Error("the update did not install"));
      installing.addEventListener("statechange", () => {
        if (installing.state === "installed") resolve(installing);
        else if (installing.state === "redundant") reject(new Error("the update did not install"));
      });
    };
    check();
  });
}
