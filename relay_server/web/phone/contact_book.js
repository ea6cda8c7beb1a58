// The phone's contact book: who every new recording is sealed to (FORMAT.md §2.4). The
// person adds a contact by pasting their tg-recipient-… key and comparing the
// fingerprint aloud; pairing by link (issue 13) will call `add` the same way.

import { KINDS, PublicKey } from "../lib/keys.js";

/** @typedef {import("./spool.js").Spool} Spool */
/** @typedef {{name: string, recipient: string, added: string}} Contact */

export const MAX_CONTACTS = 64; // one header stanza each
export const MAX_NAME_LENGTH = 64;
const CONFIG_KEY = "contacts";

/** Why a contact was not added: a key of the i18n tables' "contacts." strings. */
export class ContactRefused extends Error {
  /** @param {"name" | "key" | "duplicate" | "full"} reason @param {string} detail */
  constructor(reason, detail) {
    super(detail);
    this.name = "ContactRefused";
    this.reason = reason;
  }
}

export class ContactBook {
  /** @param {Spool} spool @param {Contact[]} contacts */
  constructor(spool, contacts) {
    this.spool = spool;
    this.contacts = contacts;
  }

  /** @param {Spool} spool */
  static async load(spool) {
    const stored = await spool.getConfig(CONFIG_KEY);
    return new ContactBook(spool, Array.isArray(stored) ? /** @type {Contact[]} */ (stored) : []);
  }

  /** The recipients' X25519 public keys, for sealing. */
  recipients() {
    return this.contacts.map((c) => PublicKey.parse(KINDS.recipient, c.recipient).raw);
  }

  /**
   * Check a name and a pasted key; returns the key (with its fingerprint) to confirm.
   * @param {string} name
   * @param {string} keyText
   */
  check(name, keyText) {
    const trimmed = name.trim();
    if (trimmed.length === 0 || trimmed.length > MAX_NAME_LENGTH || /[\p{Cc}\p{Cf}]/u.test(trimmed)) {
      throw new ContactRefused("name", "a name must be 1 to 64 printable characters");
    }
    let key;
    try {
      key = PublicKey.parse(KINDS.recipient, keyText);
    } catch (error) {
      throw new ContactRefused("key", error instanceof Error ? error.message : String(error));
    }
    if (this.contacts.some((c) => c.recipient === key.toString() || c.name === trimmed)) throw new ContactRefused("duplicate", "already in the contact book");
    if (this.contacts.length >= MAX_CONTACTS) throw new ContactRefused("full", `at most ${MAX_CONTACTS} contacts`);
    return { name: trimmed, key };
  }

  /** @param {string} name @param {string} keyText */
  async add(name, keyText) {
    const checked = this.check(name, keyText);
    this.contacts = [...this.contacts, { name: checked.name, recipient: checked.key.toString(), added: new Date().toISOString() }];
    await this.spool.putConfig(CONFIG_KEY, this.contacts);
    return checked.key;
  }

  /** @param {string} recipient */
  async remove(recipient) {
    this.contacts = this.contacts.filter((c) => c.recipient !== recipient);
    await this.spool.putConfig(CONFIG_KEY, this.contacts);
  }
}
