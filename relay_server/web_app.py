"""Serving the browser app (relay_server/web/) from the Python package.

The app is static: plain ES modules, HTML, the vendored libsodium.js. Every file is read
once at start into memory, so what is served cannot change while the relay runs, and
only files of the kinds listed below, under the app's own folders, are served at all
(never `node_modules/`, `package.json` or a developer script).

Every answer carries a strict Content-Security-Policy: scripts only from this origin
plus the import map of each page (by its hash) and `'wasm-unsafe-eval'`, which
libsodium.js needs for its embedded WebAssembly; no inline script, no other origin.
"""

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aiohttp import web

from vault.wire import routes

WEB_DIR: Final = Path(__file__).parent / "web"
SERVED_FOLDERS: Final = ("phone", "contact", "lib", "i18n", "vendor", "icons")
CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".md": "text/markdown; charset=utf-8",
}
SERVICE_WORKER: Final = "sw.js"  # at the app's root, so that its scope is /app/
RELEASE_DOCUMENT: Final = "release.json"
RELEASE_PLACEHOLDER: Final = b"__TESTIGO_RELEASE__"
_IMPORT_MAP = re.compile(rb'<script type="importmap">(.*?)</script>', re.DOTALL)

PERMISSIONS_POLICY: Final = (
    "camera=(self), microphone=(self), geolocation=(self), display-capture=(), "
    "payment=(), usb=(), bluetooth=(), serial=(), hid=()"
)


@dataclass(frozen=True)
class WebFile:
    body: bytes
    content_type: str
    etag: str


def _csp(script_hashes: list[str]) -> str:
    scripts = " ".join(["'self'", "'wasm-unsafe-eval'", *script_hashes])
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src {scripts}",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            "connect-src 'self'",
            "worker-src 'self'",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def import_map_hashes(html: bytes) -> list[str]:
    """The CSP source expressions ('sha256-…') of a page's inline import maps."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
        for m in _IMPORT_MAP.finditer(html)
    ]


def release_listing(files: dict[str, "WebFile"]) -> tuple[str, bytes]:
    """The release id and the document that lists every file of it with its sha256.

    The id is the sha256 of the listing, so it names exactly these bytes: the service
    worker checks every file it installs against it, and the page shows it when an
    update waits to be accepted (THREAT_MODEL.md, the browser).
    """
    listing = {
        "/app/" + name: hashlib.sha256(f.body).hexdigest() for name, f in sorted(files.items())
    }
    canonical = json.dumps(listing, sort_keys=True, separators=(",", ":")).encode()
    release = hashlib.sha256(canonical).hexdigest()
    return release, json.dumps({"release": release, "files": listing}, sort_keys=True).encode()


class WebApp:
    """The app's files, read once, and the answers that serve them."""

    def __init__(self, root: Path = WEB_DIR) -> None:
        self.files: dict[str, WebFile] = {}
        hashes: set[str] = set()
        for folder in SERVED_FOLDERS:
            base = root / folder
            if not base.is_dir():
                continue
            for path in sorted(base.rglob("*")):
                content_type = CONTENT_TYPES.get(path.suffix)
                if content_type is None or not path.is_file():
                    continue
                body = path.read_bytes()
                name = path.relative_to(root).as_posix()
                etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                self.files[name] = WebFile(body, content_type, etag)
                if path.suffix == ".html":
                    hashes.update(import_map_hashes(body))
        self.content_security_policy = _csp(sorted(hashes))
        self.release, listing = release_listing(self.files)
        self.files[RELEASE_DOCUMENT] = WebFile(
            listing, CONTENT_TYPES[".json"], f'"{self.release[:32]}"'
        )
        worker = (
            (root / SERVICE_WORKER).read_bytes().replace(RELEASE_PLACEHOLDER, self.release.encode())
        )
        etag = '"' + hashlib.sha256(worker).hexdigest()[:32] + '"'
        self.files[SERVICE_WORKER] = WebFile(worker, CONTENT_TYPES[".js"], etag)

    def headers(self, content_type: str, etag: str) -> dict[str, str]:
        return {
            "Content-Type": content_type,
            "ETag": etag,
            "Cache-Control": "no-cache",
            "Content-Security-Policy": self.content_security_policy,
            "Permissions-Policy": PERMISSIONS_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Resource-Policy": "same-origin",
        }

    async def serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["path"]
        if name == "" or name.endswith("/"):
            name += "index.html"
        found = self.files.get(name)
        if found is None:
            raise web.HTTPNotFound(text="no such page\n")
        headers = self.headers(found.content_type, found.etag)
        if name in (SERVICE_WORKER, RELEASE_DOCUMENT):
            headers["Cache-Control"] = "no-store"  # asked fresh, to learn of an update
        if request.headers.get("If-None-Match") == found.etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=found.body, headers=headers)

    async def home(self, _request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(routes.APP.path(path="phone/"))

    def route_table(self) -> list[web.RouteDef]:
        return [
            web.get(routes.APP.template, self.serve),
            web.get("/", self.home),
        ]
