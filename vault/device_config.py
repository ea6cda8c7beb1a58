"""The device's set-up: which relay it streams to, and that relay's public key.

Kept beside the contact book (`testigo setup` writes it, `testigo record` and `upload`
read it), so a person does not paste the relay's key at every recording. It holds only
public values: a URL and a public key.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from vault.atomic import write_file_atomically
from vault.errors import MalformedError
from vault.keys import RelayKey

CONFIG_VERSION: Final = 1
CONFIG_FILE: Final = "config.json"
REDO: Final = "run testigo setup again (it rewrites the file)"


@dataclass(frozen=True)
class DeviceConfig:
    relay_url: str
    relay_key: RelayKey

    @classmethod
    def load(cls, path: Path) -> "DeviceConfig | None":
        """The saved set-up, or None if the device was never set up."""
        if not path.exists():
            return None
        try:
            document = json.loads(path.read_bytes())
        except (OSError, ValueError):
            raise MalformedError(f"set-up file {path} is not readable JSON", hint=REDO) from None
        if not isinstance(document, dict) or document.get("testigo-config") != CONFIG_VERSION:
            raise MalformedError(f"{path} is not a Testigo set-up file", hint=REDO)
        url, key = document.get("relay_url"), document.get("relay_key")
        if not isinstance(url, str) or not isinstance(key, str):
            raise MalformedError(f"set-up file {path} has no relay_url and relay_key", hint=REDO)
        return cls(url, RelayKey.parse(key))

    def save(self, path: Path) -> None:
        document = {
            "testigo-config": CONFIG_VERSION,
            "relay_url": self.relay_url,
            "relay_key": str(self.relay_key),
        }
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_file_atomically(path, (json.dumps(document, indent=2) + "\n").encode(), mode=0o600)
