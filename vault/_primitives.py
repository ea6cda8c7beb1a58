"""The only module that touches libsodium (through nacl.bindings).

Everything else in Testigo calls these small functions. Sizes are named constants and
every function checks its inputs' lengths exactly.
"""

from typing import Final

import nacl.bindings as sodium
import nacl.exceptions

KEY_SIZE: Final = 32
HASH_SIZE: Final = 32
SIGNATURE_SIZE: Final = 64
SIGN_SEED_SIZE: Final = 32
ED25519_SECRET_SIZE: Final = 64
SEALED_KEY_SIZE: Final = 80  # crypto_box_seal of a 32-byte key: 32 (epk) + 16 (MAC) + 32
AEAD_NONCE_SIZE: Final = 24
AEAD_TAG_SIZE: Final = 16
PWHASH_SALT_SIZE: Final = 16


class AuthenticationFailed(Exception):
    """Raised by the primitives below when an authentication check fails."""


def _check(name: str, value: bytes, size: int) -> None:
    if len(value) != size:
        raise ValueError(f"{name} must be {size} bytes, got {len(value)}")


def random_bytes(size: int) -> bytes:
    result: bytes = sodium.randombytes(size)
    return result


def hash32(data: bytes) -> bytes:
    """BLAKE2b-256 of data, no key."""
    result: bytes = sodium.crypto_generichash_blake2b_salt_personal(data, digest_size=HASH_SIZE)
    return result


def keyed_hash32(key: bytes, data: bytes) -> bytes:
    """BLAKE2b-256 of data under a 32-byte key (used for key derivation)."""
    _check("key", key, KEY_SIZE)
    result: bytes = sodium.crypto_generichash_blake2b_salt_personal(
        data, digest_size=HASH_SIZE, key=key
    )
    return result


def aead_encrypt(key: bytes, nonce: bytes, ad: bytes, plaintext: bytes) -> bytes:
    _check("key", key, KEY_SIZE)
    _check("nonce", nonce, AEAD_NONCE_SIZE)
    result: bytes = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key)
    return result


def aead_decrypt(key: bytes, nonce: bytes, ad: bytes, ciphertext: bytes) -> bytes:
    _check("key", key, KEY_SIZE)
    _check("nonce", nonce, AEAD_NONCE_SIZE)
    try:
        result: bytes = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ciphertext, ad, nonce, key
        )
    except nacl.exceptions.CryptoError:
        raise AuthenticationFailed from None
    return result


def x25519_generate() -> tuple[bytes, bytes]:
    """A new X25519 key pair as (public, secret)."""
    secret = random_bytes(KEY_SIZE)
    return x25519_public(secret), secret


def x25519_public(secret: bytes) -> bytes:
    _check("X25519 secret key", secret, KEY_SIZE)
    result: bytes = sodium.crypto_scalarmult_base(secret)
    return result


def seal_to(public: bytes, message: bytes) -> bytes:
    """Anonymous sealed box: only the holder of public's secret key opens it."""
    _check("X25519 public key", public, KEY_SIZE)
    result: bytes = sodium.crypto_box_seal(message, public)
    return result


def open_sealed(public: bytes, secret: bytes, sealed: bytes) -> bytes:
    _check("X25519 public key", public, KEY_SIZE)
    _check("X25519 secret key", secret, KEY_SIZE)
    try:
        result: bytes = sodium.crypto_box_seal_open(sealed, public, secret)
    except nacl.exceptions.CryptoError:
        raise AuthenticationFailed from None
    return result


def ed25519_keypair(seed: bytes) -> tuple[bytes, bytes]:
    """The Ed25519 key pair made from a 32-byte seed, as (public, expanded secret)."""
    _check("Ed25519 seed", seed, SIGN_SEED_SIZE)
    public, secret = sodium.crypto_sign_seed_keypair(seed)
    return bytes(public), bytes(secret)


def ed25519_sign(secret: bytes, message: bytes) -> bytes:
    """Detached Ed25519 signature of message by the expanded secret key."""
    _check("Ed25519 secret key", secret, ED25519_SECRET_SIZE)
    signed: bytes = sodium.crypto_sign(message, secret)
    return signed[:SIGNATURE_SIZE]


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    _check("Ed25519 public key", public, KEY_SIZE)
    if len(signature) != SIGNATURE_SIZE:
        return False
    try:
        sodium.crypto_sign_open(signature + message, public)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        return False
    return True


def ed25519_public_is_valid(public: bytes) -> bool:
    """True when public is 32 bytes that decode to a usable Ed25519 point."""
    if len(public) != KEY_SIZE:
        return False
    try:
        sodium.crypto_sign_ed25519_pk_to_curve25519(public)
    except (nacl.exceptions.CryptoError, ValueError):
        return False
    return True


def password_key(passphrase: bytes, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    """A 32-byte key from a passphrase with Argon2id (crypto_pwhash)."""
    _check("salt", salt, PWHASH_SALT_SIZE)
    result: bytes = sodium.crypto_pwhash_alg(
        KEY_SIZE, passphrase, salt, opslimit, memlimit, sodium.crypto_pwhash_ALG_ARGON2ID13
    )
    return result


def constant_time_equal(a: bytes, b: bytes) -> bool:
    if len(a) != len(b):
        return False
    result: bool = sodium.sodium_memcmp(a, b)
    return result
