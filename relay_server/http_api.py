"""HTTP routes: signaling, the HTTPS fallback ingest, reading, live viewing,
self-enrollment with an invite, metrics and health.

docs/PROTOCOL.md sections 3.1, 4, 6, 10, 12 and 15.
"""

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

from relay_server.enrollment import parse_token, token_hash, token_id_of
from relay_server.errors import StorageError
from relay_server.ingest import storage_failure
from relay_server.invites import invite_id_of
from relay_server.live import HubFull, LiveHub, Viewer
from relay_server.logs import log_event
from relay_server.state import (
    CONNECTIONS,
    DEVICE_PROOFS,
    ENROLL_FAILURES,
    ENROLLMENT,
    ICE,
    INGEST,
    INVITES,
    LIVE,
    LIVE_SOCKETS,
    METRICS,
    RELAY,
    SESSIONS,
    SETTINGS,
    STORAGE,
)
from relay_server.storage import Storage
from relay_server.webrtc import MAX_OFFER_BYTES
from vault import Chunk, ChunkKind, DeviceKey
from vault.errors import MalformedError
from vault.format import HEADER_MAX_SIZE, Header
from vault.receipts import Receipt, sign_revocation
from vault.wire import routes
from vault.wire.device_proof import MINT_TOKEN_CONTEXT, REVOKE_TOKEN_CONTEXT
from vault.wire.documents import (
    MAX_ENROLL_BYTES,
    EnrollRequest,
    HeaderAccepted,
    MintedToken,
    RecordingEntry,
    RecordingList,
)
from vault.wire.errors import ErrorBody, ErrorCode, RelayError
from vault.wire.live_auth import (
    CLOSE_BUSY,
    CLOSE_UNAUTHORIZED,
    LIVE_AUTH_PROTOCOL,
    LIVE_AUTH_SECONDS,
    LiveAuth,
)
from vault.wire.receipts_file import RECEIPTS_FILE_MAGIC

_RECORDING_ID = re.compile(r"^[0-9a-f]{32}$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(error: RelayError) -> web.Response:
    return web.json_response(ErrorBody.of(error).to_json(), status=error.code.http_status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    guard = request.app[CONNECTIONS]
    guard.request_started(request.transport)
    try:
        return await handler(request)
    except RelayError as error:
        return error_response(error)
    except StorageError as error:  # reading for a token holder: the detail is the operator's
        return error_response(storage_failure(error))
    except ConnectionError:  # the client went away mid-request: ordinary, and quiet
        route = request.match_info.route.resource
        log_event(logging.INFO, "http.client_gone", route=route.canonical if route else "unknown")
        return web.Response(status=499)
    finally:
        guard.request_ended(request.transport)


async def no_banner(_request: web.Request, response: web.StreamResponse) -> None:
    """No software or version in answers: nothing to fingerprint the relay by."""
    response.headers["Server"] = "testigo"


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body, refused with too_large past limit (before reading it if known)."""
    if request.content_length is not None and request.content_length > limit:
        raise RelayError(ErrorCode.TOO_LARGE, f"body above {limit} bytes")
    parts: list[bytes] = []
    size = 0
    while True:
        try:  # a minimum rate: a trickling body must not hold the connection for ever
            async with asyncio.timeout(request.app[SETTINGS].body_read_seconds):
                part = await request.content.read(64 * 1024)
        except TimeoutError:
            log_event(logging.INFO, "http.body_too_slow")
            raise web.HTTPRequestTimeout() from None
        if not part:
            return b"".join(parts)
        size += len(part)
        if size > limit:
            raise RelayError(ErrorCode.TOO_LARGE, f"body above {limit} bytes")
        parts.append(part)


def device_from_path(request: web.Request) -> DeviceKey:
    try:
        return DeviceKey.parse(request.match_info["device"])
    except MalformedError:
        raise RelayError(ErrorCode.MALFORMED, "not a tg-device- key in the path") from None


def recording_id_from_path(request: web.Request) -> bytes:
    text = request.match_info["recording_id"]
    if not _RECORDING_ID.match(text):
        raise RelayError(ErrorCode.MALFORMED, "a recording id is 32 lower-case hex digits")
    return bytes.fromhex(text)


# -- signaling --


async def webrtc_config(request: web.Request) -> web.Response:
    """The ICE servers: with a TURN login only for a device that proves itself (§3.1);
    every refusal (no proof, a bad, stale or replayed one, an unknown or revoked device)
    gets the same STUN-only answer."""
    ice = request.app[ICE]
    device = await request.app[DEVICE_PROOFS].device(request.headers.get("Authorization", ""))
    config = ice.stun_only() if device is None else ice.for_device()
    return web.Response(
        body=bytes(config),
        content_type="application/json",
        headers={"Cache-Control": "no-store", "Vary": "Authorization"},
    )


async def webrtc_offer(request: web.Request) -> web.Response:
    body = await read_body(request, MAX_OFFER_BYTES)
    try:
        offer = json.loads(body)
        sdp, kind = offer["sdp"], offer["type"]
        if not isinstance(sdp, str) or not isinstance(kind, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise RelayError(ErrorCode.MALFORMED, 'expected {"sdp": ..., "type": "offer"}') from None
    answer = await request.app[SESSIONS].answer(sdp, kind)
    return web.json_response({"sdp": answer.sdp, "type": answer.type})


# -- HTTPS fallback ingest --


async def post_header(request: web.Request) -> web.Response:
    data = await read_body(request, HEADER_MAX_SIZE)
    ingest = request.app[INGEST]
    accepted = await ingest.accept_header(data)
    held = await ingest.held_ranges(accepted)
    document = HeaderAccepted(
        str(DeviceKey(accepted.device)), accepted.recording_id.hex(), tuple(held)
    )
    return web.Response(body=bytes(document), content_type="application/json")


async def post_chunk(request: web.Request) -> web.Response:
    device = device_from_path(request)
    recording_id = recording_id_from_path(request)
    ingest = request.app[INGEST]
    accepted = await ingest.recording(device.raw, recording_id)
    data = await read_body(request, request.app[SETTINGS].max_chunk_bytes)
    stored = await ingest.accept_chunk(accepted, data)
    return web.Response(
        body=stored.receipt,
        content_type=routes.RECEIPT_TYPE,
        headers={"Testigo-Duplicate": "1" if stored.duplicate else "0"},
    )


# -- self-enrollment with an invite --

_COUNTED_FAILURES = frozenset({ErrorCode.MALFORMED, ErrorCode.TOO_LARGE, ErrorCode.INVITE_UNUSABLE})


async def post_enroll(request: web.Request) -> web.Response:
    """POST /v1/enroll (§15): a phone enrolls its device key with an invite. Every
    refusal of a well-formed request is invite_unusable; failures are limited per
    client address (kept in memory only, never logged)."""
    failures = request.app[ENROLL_FAILURES]
    address = request.remote or ""
    if not failures.allows(address):
        request.app[METRICS].reject(ErrorCode.RATE_LIMITED.wire_name)
        raise RelayError(ErrorCode.RATE_LIMITED, "too many failed enrollments; try again later")
    try:
        data = await read_body(request, MAX_ENROLL_BYTES)
        try:
            enroll = EnrollRequest.parse(data)
        except MalformedError as error:
            raise RelayError(ErrorCode.MALFORMED, str(error)) from None
        answer = await request.app[INVITES].enroll(enroll, request.app[RELAY])
    except RelayError as error:
        if error.code in _COUNTED_FAILURES:
            failures.failed(address)
            request.app[METRICS].reject(error.code.wire_name)
            log_event(logging.INFO, "enroll.refused", error=error.code.wire_name)
        raise
    log_event(
        logging.INFO,
        "enroll.device",
        device=enroll.device.fingerprint,
        invite=invite_id_of(enroll.invite),
    )
    return web.Response(
        body=bytes(answer), content_type="application/json", headers={"Cache-Control": "no-store"}
    )


# -- reading --


async def authorized_device(request: web.Request) -> DeviceKey:
    """The device in the path, if the bearer token reads it; unauthorized otherwise."""
    unauthorized = RelayError(ErrorCode.UNAUTHORIZED, "a valid capability token is needed")
    token = _bearer_token(request)
    if not token:
        raise unauthorized
    try:
        device = DeviceKey.parse(request.match_info["device"])
    except MalformedError:
        raise unauthorized from None
    if not await request.app[ENROLLMENT].check_token(device.raw, token):
        request.app[METRICS].reject(ErrorCode.UNAUTHORIZED.wire_name)
        raise unauthorized
    return device


def _bearer_token(request: web.Request) -> str:
    """The request's bearer token ("" when it has none)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else ""


def _token_id(request: web.Request) -> bytes:
    """The stored form (hash) of the request's bearer token, checked before."""
    raw = parse_token(_bearer_token(request))
    return token_hash(raw) if raw is not None else b""


async def list_recordings(request: web.Request) -> web.Response:
    device = await authorized_device(request)
    storage = request.app[STORAGE]
    recordings = []
    for recording_id in await storage.list_recordings(device.raw):
        indices = [index async for index in storage.chunk_indices(device.raw, recording_id)]
        header = await storage.read_header(device.raw, recording_id)
        created_ms = Header.parse(header).created_ms if header is not None else None
        last_time_ms = await _chunk_time(storage, device, recording_id, indices)
        received_ms = await _received_time(storage, device, recording_id, indices)
        recordings.append(
            RecordingEntry(recording_id.hex(), len(indices), created_ms, last_time_ms, received_ms)
        )
    listing = RecordingList(tuple(recordings))
    return web.Response(body=bytes(listing), content_type="application/json")


async def _chunk_time(
    storage: Storage, device: DeviceKey, recording_id: bytes, indices: list[int]
) -> int | None:
    """The device clock of the highest-index chunk held (signed, not yet checked here)."""
    data = await storage.read_chunk(device.raw, recording_id, max(indices)) if indices else None
    try:
        return Chunk.parse(data).device_time_ms if data is not None else None
    except MalformedError:
        return None


async def _received_time(
    storage: Storage, device: DeviceKey, recording_id: bytes, indices: list[int]
) -> int | None:
    """When this relay received the lowest-index chunk it holds (its own signed receipt)."""
    data = await storage.read_receipt(device.raw, recording_id, min(indices)) if indices else None
    try:
        return Receipt.parse(data).received_ms if data is not None else None
    except MalformedError:
        return None


async def _stream_recording(
    request: web.Request,
    content_type: str,
    first: Callable[[bytes], bytes],
    per_chunk: Callable[[bytes, bytes, int], Awaitable[bytes | None]],
    last: Callable[[DeviceKey], Awaitable[bytes]] | None = None,
) -> web.StreamResponse:
    """Stream first(header), then per_chunk(...) for each stored index, in index order,
    then last(device)."""
    device = await authorized_device(request)
    recording_id = recording_id_from_path(request)
    storage = request.app[STORAGE]
    header = await storage.read_header(device.raw, recording_id)
    if header is None:
        raise RelayError(ErrorCode.NOT_FOUND, "no such recording")
    response = web.StreamResponse(headers={"Content-Type": content_type})
    await response.prepare(request)
    await response.write(first(header))
    async for index in storage.chunk_indices(device.raw, recording_id):
        item = await per_chunk(device.raw, recording_id, index)
        if item is not None:
            await response.write(item)
    if last is not None:
        await response.write(await last(device))
    await response.write_eof()
    return response


async def download_archive(request: web.Request) -> web.StreamResponse:
    """The recording file (FORMAT.md §3): header, then chunks."""
    storage = request.app[STORAGE]
    return await _stream_recording(
        request, routes.RECORDING_TYPE, lambda header: header, storage.read_chunk
    )


async def download_receipts(request: web.Request) -> web.StreamResponse:
    """The receipts file (PROTOCOL.md §2.1)."""
    storage = request.app[STORAGE]

    async def revocations(device: DeviceKey) -> bytes:
        """The relay's signed statement of each period it had the device revoked."""
        record = await request.app[ENROLLMENT].record(device.raw)
        periods = () if record is None else record.revocations
        relay = request.app[RELAY]
        return b"".join(
            bytes(sign_revocation(relay, device.raw, p.revoked_ms, p.reinstated_ms))
            for p in periods
        )

    return await _stream_recording(
        request,
        routes.RECEIPTS_TYPE,
        lambda _header: RECEIPTS_FILE_MAGIC,
        storage.read_receipt,
        revocations,
    )


# -- live viewing --

LIVE_HEARTBEAT_S = 20.0
LIVE_MAX_INCOMING = 1024  # viewers send nothing but control frames


async def prime_live(hub: LiveHub, storage: Storage, device: bytes) -> None:
    """After a relay restart the hub learns a recording in progress from its repeated
    header, without its init chunk: fetch that from storage for late joiners."""
    recording = hub.current(device)
    if recording is None or recording.init is not None:
        return
    try:
        data = await storage.read_chunk(device, recording.recording_id, 0)
    except StorageError:
        return
    if data is None:
        return
    chunk = Chunk.parse(data)  # stored only after every check passed
    if chunk.kind is ChunkKind.INIT and recording.init is None:
        hub.remember(recording, chunk, data)


async def send_live(socket: web.WebSocketResponse, viewer: Viewer) -> None:
    """Drain viewer's queue into socket; close the socket when the queue ends."""
    while (message := await viewer.next()) is not None:
        await socket.send_bytes(message.frame)
    await socket.close(code=aiohttp.WSCloseCode.GOING_AWAY)


def _live_socket(*protocols: str) -> web.WebSocketResponse:
    return web.WebSocketResponse(
        heartbeat=LIVE_HEARTBEAT_S,
        compress=False,
        max_msg_size=LIVE_MAX_INCOMING,
        protocols=protocols,
    )


def _asks_in_band_auth(request: web.Request) -> bool:
    offered = request.headers.get("Sec-WebSocket-Protocol", "")
    return LIVE_AUTH_PROTOCOL in (p.strip() for p in offered.split(","))


async def live(request: web.Request) -> web.WebSocketResponse:
    """GET /v1/devices/{device}/live: a WebSocket of the device's sealed chunks (§12).

    With `Authorization: Bearer` the token is checked before the upgrade; without it (a
    browser) the first message must carry the token (§12.1, `vault.wire.live_auth`)."""
    if not _bearer_token(request) and _asks_in_band_auth(request):
        return await _live_authenticated_in_band(request)
    device = await authorized_device(request)
    hub = request.app[LIVE]
    await prime_live(hub, request.app[STORAGE], device.raw)
    try:
        viewer = hub.subscribe(device.raw, holder=_token_id(request))
    except HubFull:
        request.app[METRICS].reject(ErrorCode.BUSY.wire_name)
        raise RelayError(ErrorCode.BUSY, "too many live viewers") from None
    return await _serve_viewer(request, _live_socket(), viewer)


async def _live_authenticated_in_band(request: web.Request) -> web.WebSocketResponse:
    """The browser's path: upgrade, then read the token from the first message."""
    socket = _live_socket(LIVE_AUTH_PROTOCOL)
    await socket.prepare(request)
    try:
        first = await socket.receive(timeout=LIVE_AUTH_SECONDS)
    except TimeoutError:
        first = None
    token = ""
    if first is not None and first.type == aiohttp.WSMsgType.TEXT:
        with contextlib.suppress(MalformedError):
            token = LiveAuth.parse(str(first.data)).token
    device = None
    with contextlib.suppress(MalformedError):
        device = DeviceKey.parse(request.match_info["device"])
    # the same check whether the device parses, is unknown, or the token is wrong (§1)
    allowed = await request.app[ENROLLMENT].check_token(
        device.raw if device is not None else bytes(32), token
    )
    if device is None or not token or not allowed:
        request.app[METRICS].reject(ErrorCode.UNAUTHORIZED.wire_name)
        await socket.close(code=CLOSE_UNAUTHORIZED, message=b"unauthorized")
        return socket
    hub = request.app[LIVE]
    await prime_live(hub, request.app[STORAGE], device.raw)
    raw = parse_token(token)
    try:
        viewer = hub.subscribe(device.raw, holder=token_hash(raw) if raw is not None else b"")
    except HubFull:
        request.app[METRICS].reject(ErrorCode.BUSY.wire_name)
        await socket.close(code=CLOSE_BUSY, message=b"too many live viewers")
        return socket
    return await _serve_viewer(request, socket, viewer)


async def _serve_viewer(
    request: web.Request, socket: web.WebSocketResponse, viewer: Viewer
) -> web.WebSocketResponse:
    hub = request.app[LIVE]
    sender: asyncio.Task[None] | None = None
    try:
        if not socket.prepared:  # the header path upgrades here, subscribed already
            await socket.prepare(request)
        request.app[LIVE_SOCKETS].add(socket)
        sender = asyncio.ensure_future(send_live(socket, viewer))
        async for message in socket:
            if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                await socket.close(
                    code=aiohttp.WSCloseCode.UNSUPPORTED_DATA, message=b"viewers send nothing"
                )
    finally:
        hub.unsubscribe(viewer)
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sender
        viewer.done.set()
    return socket


# -- read tokens the device mints itself (§1.1) --

MAX_DEVICE_TOKENS = 64  # a device's read tokens: one per contact is plenty


async def _proven_device(request: web.Request, purpose: bytes, subject: bytes = b"") -> DeviceKey:
    """The device in the path, if the request carries its fresh proof for purpose;
    every other case is the same `unauthorized` (no oracle of enrollment)."""
    proven = await request.app[DEVICE_PROOFS].device(
        request.headers.get("Authorization", ""), purpose=purpose, subject=subject
    )
    if proven is None or str(proven) != request.match_info["device"]:
        request.app[METRICS].reject(ErrorCode.UNAUTHORIZED.wire_name)
        raise RelayError(ErrorCode.UNAUTHORIZED, "a fresh proof by this device is needed")
    return proven


async def mint_device_token(request: web.Request) -> web.Response:
    """POST /v1/devices/{device}/tokens: a new read token for one contact."""
    device = await _proven_device(request, MINT_TOKEN_CONTEXT)
    enrollment = request.app[ENROLLMENT]
    record = await enrollment.record(device.raw)
    if record is not None and len(record.token_hashes) >= MAX_DEVICE_TOKENS:
        raise RelayError(ErrorCode.RATE_LIMITED, f"a device has at most {MAX_DEVICE_TOKENS} tokens")
    token = await enrollment.mint_token(device)
    raw = parse_token(token)
    assert raw is not None  # minted just now
    minted = MintedToken(token, token_id_of(token_hash(raw)))
    log_event(logging.INFO, "token.minted_by_device")
    return web.Response(
        body=minted.to_json(),
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


async def revoke_device_token(request: web.Request) -> web.Response:
    """DELETE /v1/devices/{device}/tokens/{token_id}: withdraw one contact's token."""
    token_id = request.match_info["token_id"]
    if not re.fullmatch(r"[0-9a-f]{8}", token_id):
        raise RelayError(ErrorCode.NOT_FOUND, "no such token")
    device = await _proven_device(request, REVOKE_TOKEN_CONTEXT, token_id.encode("ascii"))
    if not await request.app[ENROLLMENT].revoke_token(device, token_id):
        raise RelayError(ErrorCode.NOT_FOUND, "no such token")
    log_event(logging.INFO, "token.revoked_by_device")
    return web.Response(status=204)


# -- operations --


async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        text=request.app[METRICS].render(), content_type="text/plain", charset="utf-8"
    )


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def route_table() -> list[web.RouteDef]:
    return [
        web.get(routes.WEBRTC_CONFIG.template, webrtc_config),
        web.post(routes.WEBRTC_OFFER.template, webrtc_offer),
        web.post(routes.HEADERS.template, post_header),
        web.post(routes.ENROLL.template, post_enroll),
        web.post(routes.CHUNKS.template, post_chunk),
        web.get(routes.RECORDINGS.template, list_recordings),
        web.post(routes.TOKENS.template, mint_device_token),
        web.delete(routes.TOKEN.template, revoke_device_token),
        web.get(routes.ARCHIVE.template, download_archive),
        web.get(routes.RECEIPTS.template, download_receipts),
        web.get(routes.LIVE.template, live),
        web.get(routes.HEALTHZ.template, healthz),
    ]


def metrics_route_table() -> list[web.RouteDef]:
    """The operator's listener (metrics_listen): never on the public one."""
    return [
        web.get(routes.METRICS.template, metrics),
        web.get(routes.HEALTHZ.template, healthz),
    ]
