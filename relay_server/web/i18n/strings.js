// Every string a person reads in the browser app, one table per language (issue 12).
// Keys are the same in every table; tests/test_web_app.py checks that they are.

/** @typedef {"en" | "es"} Language */

export const STRINGS = Object.freeze({
  en: Object.freeze({
    "app.title": "Testigo",
    "app.tagline": "Record what happens. Sealed for the people you chose.",
    "language.switch": "Español",
    "check.heading": "What this browser can do",
    "check.secure": "Secure connection (HTTPS)",
    "check.camera": "Camera and microphone",
    "check.storage": "Keeps recordings on this phone until they are safe",
    "check.crypto": "Encryption (libsodium)",
    "check.signing": "Device key kept inside the browser",
    "check.recorder": "Video recorder",
    "check.wakelock": "Keeps the screen on while recording",
    "check.yes": "yes",
    "check.no": "no",
    "check.ready": "This browser can record with Testigo.",
    "check.not_ready": "This browser cannot record with Testigo. Try a current Chrome (Android) or Safari (iPhone).",
    "check.insecure": "Open this page over https:// — phones only allow the camera on secure pages.",
  }),
  es: Object.freeze({
    "app.title": "Testigo",
    "app.tagline": "Graba lo que pasa. Sellado para las personas que elegiste.",
    "language.switch": "English",
    "check.heading": "Lo que puede hacer este navegador",
    "check.secure": "Conexión segura (HTTPS)",
    "check.camera": "Cámara y micrófono",
    "check.storage": "Guarda las grabaciones en este teléfono hasta que estén a salvo",
    "check.crypto": "Cifrado (libsodium)",
    "check.signing": "Clave del dispositivo guardada dentro del navegador",
    "check.recorder": "Grabador de video",
    "check.wakelock": "Mantiene la pantalla encendida mientras graba",
    "check.yes": "sí",
    "check.no": "no",
    "check.ready": "Este navegador puede grabar con Testigo.",
    "check.not_ready": "Este navegador no puede grabar con Testigo. Prueba un Chrome (Android) o Safari (iPhone) actual.",
    "check.insecure": "Abre esta página con https:// — los teléfonos solo permiten la cámara en páginas seguras.",
  }),
});

/** @typedef {keyof typeof STRINGS.en} StringKey */

const CHOICE_KEY = "testigo.language";

/**
 * The person's language: their own choice if they made one, else the browser's first
 * language we speak, else English.
 * @param {readonly string[]} browserLanguages
 * @param {string | null} chosen
 * @returns {Language}
 */
export function chooseLanguage(browserLanguages, chosen) {
  if (chosen === "en" || chosen === "es") return chosen;
  for (const tag of browserLanguages) {
    const base = tag.toLowerCase().split("-")[0];
    if (base === "es" || base === "en") return base;
  }
  return "en";
}

/** The language of this page, from the browser and the person's saved choice. @returns {Language} */
export function pageLanguage() {
  return chooseLanguage(navigator.languages, localStorage.getItem(CHOICE_KEY));
}

/** Remember the person's choice of language. @param {Language} language */
export function saveLanguage(language) {
  localStorage.setItem(CHOICE_KEY, language);
}

/** @param {Language} language @returns {(key: StringKey) => string} */
export function translator(language) {
  const table = STRINGS[language];
  return (key) => table[key];
}

/**
 * Fill every element with a data-text attribute with its string.
 * @param {ParentNode} root
 * @param {(key: StringKey) => string} t
 */
export function translatePage(root, t) {
  for (const element of root.querySelectorAll("[data-text]")) {
    const key = /** @type {StringKey} */ (element.getAttribute("data-text"));
    element.textContent = t(key);
  }
}
