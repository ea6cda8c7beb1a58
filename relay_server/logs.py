"""Structured logs: one `event key=value ...` line per event (logfmt).

Callers pass only what is safe to log: recording ids, indices, device fingerprints,
error names, sizes. Never keys, tokens, locations or plaintext.
"""

import ipaddress
import logging
import re
import time
from collections.abc import Callable

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


EVENTS_PER_SECOND = 20  # of one kind; more are counted and said once a second


class _RateLimit:
    """At most EVENTS_PER_SECOND lines of one event a second: a flood of junk from the
    internet cannot fill the disk or drown what matters; what was held back is counted."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._second = -1
        self._counts: dict[str, int] = {}
        self._suppressed: dict[str, int] = {}

    def allow(self, event: str) -> tuple[bool, dict[str, int]]:
        """Whether to log event now, and the suppressed counts of the second just over."""
        second = int(self._clock())
        report: dict[str, int] = {}
        if second != self._second:
            report, self._suppressed = self._suppressed, {}
            self._counts = {}
            self._second = second
        count = self._counts.get(event, 0) + 1
        self._counts[event] = count
        if count > EVENTS_PER_SECOND:
            self._suppressed[event] = self._suppressed.get(event, 0) + 1
            return False, report
        return True, report


_limit = _RateLimit()


def log_event(level: int, event: str, **fields: LogValue) -> None:
    if not logger.isEnabledFor(level):
        return
    allowed, suppressed = _limit.allow(event)
    for name, count in suppressed.items():
        logger.log(logging.WARNING, format_event("log.suppressed", {"of": name, "lines": count}))
    if allowed:
        logger.log(level, format_event(event, fields))


_CANDIDATE = re.compile(r"\[?[0-9A-Fa-f:.]{3,}(?:%[\w.]+)?\]?(?::\d+)?")


def _is_address(text: str) -> bool:
    bare = text.rstrip(".")
    if bare.startswith("["):  # [v6]:port
        bare = bare[1:].split("]", 1)[0]
    candidates = [bare]
    if bare.count(":") == 1:  # v4:port
        candidates.append(bare.split(":", 1)[0])
    for candidate in candidates:
        try:
            ipaddress.ip_address(candidate)
        except ValueError:
            continue
        return True
    return False


def scrub_addresses(text: str) -> str:
    """text with every IPv4 or IPv6 address (with or without a port) as `<address>`."""
    return _CANDIDATE.sub(lambda m: "<address>" if _is_address(m.group(0)) else m.group(0), text)


class Private(logging.Filter):
    """What leaves the relay's logs: no client address, no library traceback.

    Libraries (aiohttp's server, aiortc, aioice) log peers' addresses and tracebacks
    that carry them; their records become one `event=library.<name>` line with only the
    exception's type. Every message is also scrubbed of anything shaped like an address.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(LOGGER_NAME):
            error = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else None
            record.msg = format_event(f"library.{record.name}", {"error": error})
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        message = record.getMessage()
        scrubbed = scrub_addresses(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(Private())
    # aiortc/aioice log ICE candidates, i.e. client IP addresses (a location): keep them out.
    for name in ("aioice", "aiortc"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
