"""Structured logs: one `event key=value ...` line per event (logfmt).

Callers pass only what is safe to log: recording ids, indices, device fingerprints,
error names, sizes. Never keys, tokens, locations or plaintext.
"""

import logging

LOGGER_NAME = "testigo.relay"
LogValue = str | int | float | bool | None

logger = logging.getLogger(LOGGER_NAME)


def _quote(value: LogValue) -> str:
    text = "" if value is None else str(value)
    if text and all(c.isalnum() or c in "-_.:/" for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def format_event(event: str, fields: dict[str, LogValue]) -> str:
    return " ".join([f"event={event}", *(f"{k}={_quote(v)}" for k, v in fields.items())])


def log_event(level: int, event: str, **fields: LogValue) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, format_event(event, fields))


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # aiortc/aioice log ICE candidates, i.e. client IP addresses (a location): keep them out.
    for name in ("aioice", "aiortc"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
