// The phone's page. For now: what this browser can do for the recorder, in the
// person's language.

import { pageLanguage, saveLanguage, translatePage, translator } from "../i18n/strings.js";
import { REQUIRED, detect } from "./capabilities.js";

/** @param {string} id */
function byId(id) {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element;
}

async function show() {
  const language = pageLanguage();
  const t = translator(language);
  document.documentElement.lang = language;
  translatePage(document, t);
  const found = await detect();
  const list = byId("capabilities");
  list.replaceChildren();
  for (const [name, ok] of Object.entries(found)) {
    const item = document.createElement("li");
    item.dataset["capability"] = name;
    item.dataset["ok"] = String(ok);
    const key = /** @type {import("../i18n/strings.js").StringKey} */ (`check.${name}`);
    item.textContent = `${t(key)}: ${ok ? t("check.yes") : t("check.no")}`;
    list.append(item);
  }
  const ready = REQUIRED.every((name) => found[name]);
  const verdict = byId("verdict");
  verdict.textContent = ready ? t("check.ready") : found.secure ? t("check.not_ready") : t("check.insecure");
  verdict.dataset["ready"] = String(ready);
  byId("language").onclick = () => {
    saveLanguage(language === "en" ? "es" : "en");
    void show();
  };
}

void show();
