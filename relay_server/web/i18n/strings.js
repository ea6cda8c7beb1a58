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
    "setup.heading": "Set up this phone",
    "setup.explain": "Open the link the person who runs your relay sent you. It sets up this phone once: nothing to install.",
    "setup.working": "Setting up this phone…",
    "setup.done": "This phone is set up. Add the people who may watch your recordings.",
    "setup.invite_unusable": "This link does not work any more: it was used or it expired. Ask for a new one.",
    "setup.link_broken": "This link is incomplete. Open the whole link again, exactly as you received it.",
    "setup.relay_mismatch": "The relay did not prove it is the one in your link. Nothing was set up. Tell the person who sent you the link.",
    "setup.offline": "The relay cannot be reached right now. Try again when you have a connection.",
    "setup.try_later": "The relay is busy. Open the link again in a few minutes.",
    "setup.relay_key": "Your relay's code:",
    "contacts.heading": "Who can open your recordings",
    "contacts.none": "Nobody yet. Add at least one person before you record.",
    "contacts.name": "Name",
    "contacts.key": "Their key (starts with tg-recipient-)",
    "contacts.add": "Add",
    "contacts.compare": "Read this code to them aloud; they must see the same code:",
    "contacts.remove": "Remove",
    "contacts.refused_name": "Give a short name, up to 64 letters.",
    "contacts.refused_key": "This is not a whole tg-recipient- key. Copy it again, all of it.",
    "contacts.refused_duplicate": "This person or key is already in your list.",
    "contacts.refused_full": "You cannot add more than 64 people.",
    "record.start": "Record",
    "record.stop": "Stop",
    "record.camera_rear": "Rear camera",
    "record.camera_front": "Front camera",
    "record.location": "Add my location (sealed, only your contacts can see it)",
    "record.keep_open": "Keep this screen open and on while you record: phones stop the camera of a hidden page.",
    "record.elapsed": "Recording",
    "record.safe": "safely off this phone",
    "record.pending": "waiting to upload",
    "record.network_webrtc": "Connected (WebRTC)",
    "record.network_https": "Connected (HTTPS)",
    "record.network_offline": "Offline: kept on this phone, will upload",
    "record.stopped": "Stopped. Keep this page open until everything is safely off this phone.",
    "record.all_safe": "Everything is safely off this phone.",
    "record.no_camera": "The camera or microphone is not allowed. Allow them in your browser's settings for this site.",
    "record.failed": "Recording stopped because the camera or the phone's storage failed. What was recorded is kept.",
    "problem.relay_key_mismatch": "This relay's key is not the one you set up. Uploads are stopped; your recording is kept on this phone.",
    "problem.unknown_device": "The relay does not accept this phone (not enrolled, or withdrawn). Your recording is kept on this phone.",
    "problem.bad_header": "The relay refused this recording. It is kept on this phone.",
    "problem.refused_chunk": "The relay refused part of this recording. The rest goes on.",
    "problem.out_of_reach": "The relay is out of reach; trying again.",
    "problem.relay_busy": "The relay cannot take it right now; trying again. Nothing is lost.",
    "record.cannot_start": "Recording could not start in this browser. Try a current Chrome (Android) or Safari (iPhone).",
    "rights.open": "Know your rights",
    "rights.close": "Close",
    "update.available": "A new version of this app is ready. Check its code with the person who runs your relay before you install it:",
    "update.install": "Install the new version",
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
    "setup.heading": "Configura este teléfono",
    "setup.explain": "Abre el enlace que te envió la persona que administra tu relé. Configura este teléfono una sola vez: no hay nada que instalar.",
    "setup.working": "Configurando este teléfono…",
    "setup.done": "Este teléfono está configurado. Agrega a las personas que podrán ver tus grabaciones.",
    "setup.invite_unusable": "Este enlace ya no sirve: ya se usó o venció. Pide uno nuevo.",
    "setup.link_broken": "Este enlace está incompleto. Vuelve a abrir el enlace completo, tal como lo recibiste.",
    "setup.relay_mismatch": "El relé no demostró ser el de tu enlace. No se configuró nada. Avisa a quien te envió el enlace.",
    "setup.offline": "No se puede llegar al relé ahora. Vuelve a intentarlo cuando tengas conexión.",
    "setup.try_later": "El relé está ocupado. Vuelve a abrir el enlace en unos minutos.",
    "setup.relay_key": "El código de tu relé:",
    "contacts.heading": "Quién puede abrir tus grabaciones",
    "contacts.none": "Nadie todavía. Agrega al menos a una persona antes de grabar.",
    "contacts.name": "Nombre",
    "contacts.key": "Su clave (empieza con tg-recipient-)",
    "contacts.add": "Agregar",
    "contacts.compare": "Léele este código en voz alta; debe ver el mismo código:",
    "contacts.remove": "Quitar",
    "contacts.refused_name": "Escribe un nombre corto, de hasta 64 letras.",
    "contacts.refused_key": "Esta no es una clave tg-recipient- completa. Cópiala de nuevo, entera.",
    "contacts.refused_duplicate": "Esta persona o clave ya está en tu lista.",
    "contacts.refused_full": "No puedes agregar más de 64 personas.",
    "record.start": "Grabar",
    "record.stop": "Detener",
    "record.camera_rear": "Cámara trasera",
    "record.camera_front": "Cámara frontal",
    "record.location": "Agregar mi ubicación (sellada, solo tus contactos pueden verla)",
    "record.keep_open": "Mantén esta pantalla abierta y encendida mientras grabas: los teléfonos apagan la cámara de una página oculta.",
    "record.elapsed": "Grabando",
    "record.safe": "a salvo fuera de este teléfono",
    "record.pending": "esperando para subir",
    "record.network_webrtc": "Conectado (WebRTC)",
    "record.network_https": "Conectado (HTTPS)",
    "record.network_offline": "Sin conexión: se guarda en este teléfono y se subirá",
    "record.stopped": "Detenido. Mantén esta página abierta hasta que todo esté a salvo fuera de este teléfono.",
    "record.all_safe": "Todo está a salvo fuera de este teléfono.",
    "record.no_camera": "La cámara o el micrófono no están permitidos. Permítelos en la configuración de tu navegador para este sitio.",
    "record.failed": "La grabación se detuvo porque falló la cámara o el almacenamiento del teléfono. Lo grabado se conserva.",
    "problem.relay_key_mismatch": "La clave de este relé no es la que configuraste. Se detuvo la subida; tu grabación se conserva en este teléfono.",
    "problem.unknown_device": "El relé no acepta este teléfono (no está inscrito o fue retirado). Tu grabación se conserva en este teléfono.",
    "problem.bad_header": "El relé rechazó esta grabación. Se conserva en este teléfono.",
    "problem.refused_chunk": "El relé rechazó una parte de esta grabación. El resto continúa.",
    "problem.out_of_reach": "No se puede llegar al relé; se vuelve a intentar.",
    "problem.relay_busy": "El relé no puede recibirlo ahora; se vuelve a intentar. No se pierde nada.",
    "record.cannot_start": "No se pudo empezar a grabar en este navegador. Prueba un Chrome (Android) o Safari (iPhone) actual.",
    "rights.open": "Conoce tus derechos",
    "rights.close": "Cerrar",
    "update.available": "Hay una versión nueva de esta aplicación. Confirma su código con quien administra tu relé antes de instalarla:",
    "update.install": "Instalar la versión nueva",
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
