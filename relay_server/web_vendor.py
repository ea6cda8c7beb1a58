"""The browser app's vendored JavaScript: pinned by version and sha256, refreshed from npm.

`relay_server/web/vendor/VENDORED.json` names every vendored file with the npm package
and version it comes from, the package's npm integrity string and the file's sha256.
`relay_server/web/package.json` pins the same versions (and the type checker).

    python -m relay_server.web_vendor check     the files match the manifest (make test)
    python -m relay_server.web_vendor refresh   npm ci, copy the files, rewrite the manifest

No CDN and no third-party origin: the relay serves these files itself (THREAT_MODEL.md).
"""

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

WEB_DIR: Final = Path(__file__).parent / "web"
VENDOR_DIR: Final = WEB_DIR / "vendor"
MANIFEST: Final = VENDOR_DIR / "VENDORED.json"


@dataclass(frozen=True)
class VendoredFile:
    """One file taken from an npm package: where from, and the bytes it must have."""

    name: str  # file name in vendor/
    package: str
    version: str
    source: str  # path inside the package
    sha256: str
    integrity: str  # the npm package's integrity string, from package-lock.json


_ESM: Final = "dist/modules-sumo-esm"

# What is vendored. Versions come from package.json; libsodium-wrappers-sumo 0.8.4 is the
# build with crypto_pwhash (Argon2id) whose ES modules work (0.7.16 and 0.8.3 did not).
# mediabunny is used only as a fragmented-MP4 muxer of packets the page encodes itself:
# none of its blob: workers (MediaStreamTrack sources, alpha, unthrottled timers), which
# the CSP's worker-src 'self' refuses, is ever started.
WANTED: Final = (
    ("libsodium-wrappers.mjs", "libsodium-wrappers-sumo", f"{_ESM}/libsodium-wrappers.mjs"),
    ("libsodium-sumo.mjs", "libsodium-sumo", f"{_ESM}/libsodium-sumo.mjs"),
    ("LICENSE-libsodium.txt", "libsodium-wrappers-sumo", "LICENSE"),
    # the MP4 muxer of phone/webcodecs_capture.js (MPL-2.0): its single-file ES module
    ("mediabunny.mjs", "mediabunny", "dist/bundles/mediabunny.min.mjs"),
    ("LICENSE-mediabunny.txt", "mediabunny", "LICENSE"),
)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(path: Path = MANIFEST) -> list[VendoredFile]:
    document = json.loads(path.read_text("utf-8"))
    return [VendoredFile(**entry) for entry in document["files"]]


def pinned_versions(web_dir: Path = WEB_DIR) -> dict[str, str]:
    document = json.loads((web_dir / "package.json").read_text("utf-8"))
    versions: dict[str, str] = document["devDependencies"]
    return versions


def problems(vendor_dir: Path = VENDOR_DIR, web_dir: Path = WEB_DIR) -> list[str]:
    """Every way the vendored files differ from the manifest and the pins (empty: fine)."""
    found = []
    pins = pinned_versions(web_dir)
    for entry in read_manifest(vendor_dir / "VENDORED.json"):
        path = vendor_dir / entry.name
        if not path.is_file():
            found.append(f"{entry.name} is missing")
        elif sha256_of(path) != entry.sha256:
            found.append(f"{entry.name} does not have the recorded sha256")
        if pins.get(entry.package) != entry.version:
            pinned = pins.get(entry.package)
            found.append(f"{entry.name}: package.json pins {entry.package} {pinned}")
    return found


def refresh(web_dir: Path = WEB_DIR) -> list[VendoredFile]:
    """Install the pinned packages with npm (checking their integrity), copy the files."""
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=web_dir, check=True)
    lock = json.loads((web_dir / "package-lock.json").read_text("utf-8"))
    entries = []
    for name, package, source in WANTED:
        installed = lock["packages"][f"node_modules/{package}"]
        origin = web_dir / "node_modules" / package / source
        target = web_dir / "vendor" / name
        shutil.copyfile(origin, target)
        entries.append(
            VendoredFile(
                name=name,
                package=package,
                version=installed["version"],
                source=source,
                sha256=sha256_of(target),
                integrity=installed["integrity"],
            )
        )
    manifest = {"files": [entry.__dict__ for entry in entries]}
    (web_dir / "vendor" / "VENDORED.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return entries


def main(arguments: list[str]) -> int:
    if arguments == ["refresh"]:
        for entry in refresh():
            print(f"{entry.name}: {entry.package} {entry.version} sha256 {entry.sha256}")
        return 0
    if arguments == ["check"]:
        found = problems()
        for problem in found:
            print(f"vendor: {problem}", file=sys.stderr)
        return 1 if found else 0
    print("usage: python -m relay_server.web_vendor check|refresh", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
