"""A webhook receiver on loopback, for `make demo`: shows the alert a relay sends."""

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Final

from aiohttp import web

WAIT_S: Final = 30.0


class AlertInbox:
    """An HTTP server on 127.0.0.1 that keeps every JSON body POSTed to /alert."""

    def __init__(self) -> None:
        self.received: list[dict[str, object]] = []
        self._arrived = threading.Event()
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(WAIT_S)

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_post("/alert", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}/alert"

    async def _receive(self, request: web.Request) -> web.Response:
        document = await request.json()
        if isinstance(document, dict):
            with self._changed:
                self.received.append({str(k): v for k, v in document.items()})
                self._arrived.set()
                self._changed.notify_all()
        return web.Response(status=204)

    def wait(self, timeout: float = WAIT_S) -> bool:
        return self._arrived.wait(timeout)

    def wait_for(
        self, condition: Callable[[list[dict[str, object]]], bool], timeout: float = WAIT_S
    ) -> bool:
        """Wait until condition(the alerts received so far) holds; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: condition(list(self.received)), timeout)

    def events(self) -> list[object]:
        """The `event` of every alert received so far, in order."""
        with self._changed:
            return [alert.get("event") for alert in self.received]

    def close(self) -> None:
        async def stop() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(WAIT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(WAIT_S)

    def pretty(self) -> str:
        return "\n".join(json.dumps(alert, indent=2) for alert in self.received)
