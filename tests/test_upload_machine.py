"""The uploader's decisions on their own (stream/phone/upload_machine.py).

A simulated relay and clock drive `UploadMachine` through seeded scenarios of loss,
delay, reordered answers, refusals and disconnects, with no wall-clock time at all: the
simulation jumps from one event to the next (or to the machine's `wake_at`). Real
chunks and real receipts: sealed with a device key, signed with a relay key.
"""

import heapq
import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial

import pytest

from stream.phone.upload_machine import (
    BACK_IN_REACH,
    OUT_OF_REACH,
    RECEIPT_TIMEOUT_S,
    WEBRTC_RETRY_S,
    WINDOW_CHUNKS,
    Action,
    Close,
    Connect,
    LinkKind,
    Send,
    StoreReceipt,
    Tell,
    UploadMachine,
)
from tests.relay_fixtures import MEDIA_TYPE
from vault import ChunkKind, DeviceIdentity, RecipientIdentity, RecordingSealer, RelayIdentity
from vault.format import Chunk
from vault.receipts import Receipt, sign_receipt
from vault.wire.errors import ErrorCode

CHUNKS = 24
FAULTS_END_S = 60.0  # faults happen only before this; afterwards the network is perfect
GIVE_UP_S = 3600.0  # a scenario that has not finished by then is a failure


@dataclass(frozen=True)
class Recording:
    chunks: list[Chunk]
    recording_id: bytes
    device_text: str


def make_recording(count: int = CHUNKS) -> Recording:
    device = DeviceIdentity.generate()
    with RecordingSealer.start(device, [RecipientIdentity.generate().public], MEDIA_TYPE) as sealer:
        chunks = [sealer.seal(ChunkKind.INIT, b"init")]
        chunks += [sealer.seal(ChunkKind.MEDIA, bytes([i]) * 50) for i in range(count - 2)]
        chunks.append(sealer.finish())
        header = sealer.header
    return Recording(chunks, header.recording_id, str(header.device_key))


RECORDING = make_recording()
RELAY = RelayIdentity.generate()
OTHER_RELAY = RelayIdentity.generate()


@dataclass
class Faults:
    """What the simulated network and relay do wrong before FAULTS_END_S (probabilities)."""

    webrtc_blocked: bool = False
    connect_fails: float = 0.0
    hello_later: float = 0.0  # HELLO refused with busy / overloaded / storage_failure
    drop_answer: float = 0.0  # the answer never comes
    refuse_later: float = 0.0  # rate_limited / storage_failure / no_header / busy
    disconnect: float = 0.0  # the link dies after this send
    max_delay_s: float = 0.3  # answers take 0..max_delay_s: later sends may be answered first
    webrtc_connect_s: tuple[float, float] = (0.05, 1.5)  # ICE takes this long (uniform)


@dataclass
class Link:
    generation: int
    up: bool = False


@dataclass
class Simulation:
    machine: UploadMachine
    faults: Faults
    rng: random.Random
    signer: RelayIdentity = RELAY
    recording: Recording = RECORDING
    hello_refusal: ErrorCode | None = None  # a final refusal of every HELLO
    chunk_refusals: dict[int, ErrorCode] = field(default_factory=dict)  # final, per index
    now: float = 0.0
    stored: dict[int, bytes] = field(default_factory=dict)
    told: list[str] = field(default_factory=list)
    connects: list[tuple[float, LinkKind]] = field(default_factory=list)
    sends: list[tuple[float, LinkKind, int]] = field(default_factory=list)
    outstanding: dict[int, LinkKind] = field(default_factory=dict)  # sent, not answered
    _queue: list[tuple[float, int, Callable[[], None]]] = field(default_factory=list)
    _order: Iterator[int] = field(default_factory=itertools.count)
    _links: dict[LinkKind, Link] = field(default_factory=dict)
    _generations: Iterator[int] = field(default_factory=itertools.count)

    def at(self, delay: float, event: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (self.now + delay, next(self._order), event))

    def faulty(self, probability: float) -> bool:
        return self.now < FAULTS_END_S and self.rng.random() < probability

    # -- the recorder: one chunk a second, then done --

    def record(self, *, every_s: float = 1.0) -> None:
        for chunk in self.recording.chunks:
            self.at(chunk.index * every_s, partial(self.machine.chunk_spooled, chunk.index))
        self.at(len(self.recording.chunks) * every_s, self.machine.recording_done)

    # -- the loop --

    def run(self, max_steps: int = 200_000) -> None:
        for _step in range(max_steps):
            self.perform(self.machine.actions(self.now))
            if self.machine.finished and not self._queue:
                return
            wake = self.machine.wake_at()
            next_event = self._queue[0][0] if self._queue else None
            moments = [m for m in (wake, next_event) if m is not None]
            assert moments, "deadlock: the machine waits for nothing and nothing will happen"
            self.now = max(self.now, min(moments))
            assert self.now < GIVE_UP_S, "the upload did not finish"
            while self._queue and self._queue[0][0] <= self.now:
                _, _, event = heapq.heappop(self._queue)
                event()
                self.perform(self.machine.actions(self.now))
        raise AssertionError("the simulation does not advance (the machine spins)")

    def perform(self, actions: Sequence[Action]) -> None:
        for action in actions:
            match action:
                case Connect(kind):
                    self.connect(kind)
                case Send(kind, index):
                    self.send(kind, index)
                case Close(kind):
                    self._links.pop(kind, None)
                    self.forget(kind)
                case StoreReceipt(index, receipt, _device_ms, _received_ms, _kind):
                    assert index not in self.stored, f"chunk {index} receipted twice"
                    parsed = Receipt.parse(receipt)
                    assert parsed.verify(RELAY.public, self.recording.chunks[index])
                    self.stored[index] = receipt
                case Tell(text):
                    self.told.append(text)
                case _:
                    raise AssertionError(f"unknown action {action!r}")

    # -- the simulated network and relay --

    def forget(self, kind: LinkKind) -> None:
        """Answers still on their way on a closed link will never be delivered."""
        for index in [i for i, k in self.outstanding.items() if k is kind]:
            del self.outstanding[index]

    def current(self, kind: LinkKind, link: Link) -> bool:
        return self._links.get(kind) is link

    def connect(self, kind: LinkKind) -> None:
        assert kind not in self._links, f"{kind} connected twice"
        link = Link(next(self._generations))
        self._links[kind] = link
        self.connects.append((self.now, kind))
        low, high = self.faults.webrtc_connect_s if kind is LinkKind.WEBRTC else (0.05, 0.3)
        delay = self.rng.uniform(low, high)

        def outcome() -> None:
            if not self.current(kind, link):
                return
            if (kind is LinkKind.WEBRTC and self.faults.webrtc_blocked) or self.faulty(
                self.faults.connect_fails
            ):
                del self._links[kind]
                self.machine.connect_failed(kind, "simulated", self.now)
            elif self.hello_refusal is not None:
                del self._links[kind]
                self.machine.session_refused(kind, self.hello_refusal, "refused", self.now)
            elif self.faulty(self.faults.hello_later):
                del self._links[kind]
                code = self.rng.choice([ErrorCode.BUSY, ErrorCode.OVERLOADED])
                self.machine.session_refused(kind, code, "later", self.now)
            else:
                link.up = True
                self.machine.connected(kind, self.now)

        self.at(delay, outcome)

    def send(self, kind: LinkKind, index: int) -> None:
        link = self._links.get(kind)
        assert link is not None, f"sent chunk {index} on a {kind} link that is not open"
        assert link.up, f"sent chunk {index} on a {kind} link before HELLO was accepted"
        assert index not in self.outstanding, f"chunk {index} sent while in flight"
        assert len(self.outstanding) < WINDOW_CHUNKS, "more than a window in flight"
        self.outstanding[index] = kind
        chunk = self.recording.chunks[index]
        self.machine.sent(index, chunk.chunk_hash, chunk.device_time_ms)
        self.sends.append((self.now, kind, index))
        if self.faulty(self.faults.disconnect):
            self.at(self.rng.uniform(0, 0.2), lambda: self.lose(kind, link))
            return
        if self.faulty(self.faults.drop_answer):
            return
        delay = self.rng.uniform(0.01, self.faults.max_delay_s)
        if index in self.chunk_refusals:
            code = self.chunk_refusals[index]
            self.at(delay, lambda: self.answer_refusal(kind, link, index, code))
        elif self.faulty(self.faults.refuse_later):
            code = self.rng.choice(
                [ErrorCode.RATE_LIMITED, ErrorCode.STORAGE_FAILURE, ErrorCode.NO_HEADER]
            )
            self.at(delay, lambda: self.answer_refusal(kind, link, index, code))
        else:
            receipt = bytes(sign_receipt(self.signer, chunk, int(self.now * 1000)))
            self.at(delay, lambda: self.answer_receipt(kind, link, index, receipt))

    def lose(self, kind: LinkKind, link: Link) -> None:
        if self.current(kind, link):
            del self._links[kind]
            self.forget(kind)
            self.machine.lost(kind, "simulated disconnect", self.now)

    def answer_receipt(self, kind: LinkKind, link: Link, index: int, receipt: bytes) -> None:
        if self.current(kind, link):
            del self.outstanding[index]
            self.machine.receipt(kind, index, receipt, self.now)

    def answer_refusal(self, kind: LinkKind, link: Link, index: int, code: ErrorCode) -> None:
        if self.current(kind, link):
            del self.outstanding[index]
            self.machine.refused(kind, index, code, code.wire_name, self.now)


def simulation(
    faults: Faults,
    seed: int,
    *,
    webrtc: bool = True,
    recording: Recording = RECORDING,
    signer: RelayIdentity = RELAY,
    hello_refusal: ErrorCode | None = None,
    chunk_refusals: dict[int, ErrorCode] | None = None,
) -> Simulation:
    """A recorder spooling a chunk a second while the machine uploads, with faults."""
    rng = random.Random(seed)
    machine = UploadMachine(
        recording_id=recording.recording_id,
        relay_key=RELAY.public,
        device_text=recording.device_text,
        pending=[],
        webrtc=webrtc,
        rng=rng,
    )
    machine.expect_more()
    sim = Simulation(
        machine,
        faults,
        rng,
        signer=signer,
        recording=recording,
        hello_refusal=hello_refusal,
        chunk_refusals=chunk_refusals or {},
    )
    sim.record()
    return sim


def assert_everything_receipted(sim: Simulation) -> None:
    assert sim.machine.finished
    assert sorted(sim.stored) == list(range(CHUNKS))
    assert sim.machine.unsafe_indices == []
    assert sim.machine.given_up == {}


SCENARIOS = {
    "perfect network": Faults(),
    "UDP blocked": Faults(webrtc_blocked=True),
    "flaky connects": Faults(connect_fails=0.5),
    "relay busy at HELLO": Faults(hello_later=0.6),
    "answers lost": Faults(drop_answer=0.2),
    "refusals that mean later": Faults(refuse_later=0.3),
    "disconnects": Faults(disconnect=0.15),
    "slow, reordered answers": Faults(max_delay_s=4.0),
    "everything at once": Faults(
        connect_fails=0.3,
        hello_later=0.2,
        drop_answer=0.1,
        refuse_later=0.1,
        disconnect=0.1,
        max_delay_s=2.0,
    ),
}


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("name", SCENARIOS)
def test_every_chunk_is_receipted_once_faults_stop(name: str, seed: int) -> None:
    """The simulation itself asserts, at every step, that chunks go only on links that
    are up, never more than a window at once, never twice while in flight, and that
    every stored receipt verifies and names its chunk."""
    sim = simulation(SCENARIOS[name], seed)
    sim.run()
    assert_everything_receipted(sim)


def test_first_chunks_go_over_https_then_webrtc() -> None:
    sim = simulation(Faults(webrtc_connect_s=(1.0, 2.0)), 1)  # ICE slower than a POST
    sim.run()
    assert_everything_receipted(sim)
    assert sim.sends[0][1] is LinkKind.HTTPS  # the first chunk did not wait for ICE
    assert sim.sends[-1][1] is LinkKind.WEBRTC  # and then it moved to WebRTC
    kinds = [kind for _t, kind, _i in sim.sends]
    switch = kinds.index(LinkKind.WEBRTC)
    assert all(k is LinkKind.WEBRTC for k in kinds[switch:])  # no flapping back


def test_udp_blocked_uses_https_and_tries_webrtc_again_every_interval() -> None:
    sim = simulation(Faults(webrtc_blocked=True), 2, recording=make_recording(200))
    sim.run()
    assert sorted(sim.stored) == list(range(200))
    assert {kind for _t, kind, _i in sim.sends} == {LinkKind.HTTPS}
    webrtc_tries = [t for t, kind in sim.connects if kind is LinkKind.WEBRTC]
    gaps = [b - a for a, b in itertools.pairwise(webrtc_tries)]
    assert len(webrtc_tries) >= 5
    assert all(gap >= WEBRTC_RETRY_S for gap in gaps)
    assert sum("WebRTC did not connect" in t for t in sim.told) == 1  # said once


def test_a_relay_that_never_answers_is_retried_with_growing_pauses() -> None:
    sim = simulation(Faults(drop_answer=1.0, webrtc_blocked=True), 3)
    sim.run()
    assert_everything_receipted(sim)
    before = [t for t, _kind in sim.connects if t < FAULTS_END_S]
    # every receipt timeout reconnects, but after a pause: no busy loop
    assert len(before) <= FAULTS_END_S / RECEIPT_TIMEOUT_S + 2
    assert sim.told.count(OUT_OF_REACH) == 1  # one calm line, not one per retry
    assert sim.told[-1] == BACK_IN_REACH


def test_later_refusals_give_nothing_up_and_pause_sending() -> None:
    sim = simulation(Faults(refuse_later=1.0), 4)
    sim.run()
    assert_everything_receipted(sim)
    sends_before = [t for t, _k, _i in sim.sends if t < FAULTS_END_S]
    # paced by the backoff (at most 5 s apart at its longest), not a flood of resends
    assert len(sends_before) < 60 * WINDOW_CHUNKS


@pytest.mark.parametrize("code", [ErrorCode.CONFLICT, ErrorCode.BAD_SIGNATURE, ErrorCode.TOO_LARGE])
def test_a_chunk_refused_for_good_does_not_stop_the_others(code: ErrorCode) -> None:
    sim = simulation(Faults(), 5, chunk_refusals={3: code})
    sim.run()
    assert sim.machine.finished
    assert sorted(sim.stored) == [i for i in range(CHUNKS) if i != 3]
    assert list(sim.machine.given_up) == [3]
    assert code.wire_name in sim.machine.given_up[3]
    assert sim.machine.unsafe_indices == [3]
    assert any("refused chunk 3 for good" in t for t in sim.told)


@pytest.mark.parametrize("code", [ErrorCode.UNKNOWN_DEVICE, ErrorCode.BAD_HEADER])
def test_a_final_hello_refusal_ends_the_upload_and_says_why(code: ErrorCode) -> None:
    sim = simulation(Faults(), 6, webrtc=False, hello_refusal=code)
    sim.run()
    assert sim.machine.finished
    assert sim.stored == {}
    assert sim.sends == []
    assert sim.machine.status.stopped is not None
    stopped = [t for t in sim.told if t.startswith("upload stopped:")]
    assert len(stopped) == 1
    if code is ErrorCode.UNKNOWN_DEVICE:
        assert RECORDING.device_text in stopped[0]  # what to give the relay's operator
    # chunks spooled after the refusal are kept, unsafe, not silently dropped
    assert sim.machine.unsafe_indices == list(range(CHUNKS))


def test_a_device_revoked_mid_recording_stops_with_what_was_receipted_kept() -> None:
    sim = simulation(Faults(), 7, webrtc=False, chunk_refusals={10: ErrorCode.UNKNOWN_DEVICE})
    sim.run()
    assert sim.machine.finished
    assert set(range(10)) <= set(sim.stored)
    assert 10 in sim.machine.unsafe_indices
    assert sim.machine.status.stopped is not None
    assert "not enrolled, or revoked" in sim.machine.status.stopped


def test_receipts_from_another_relay_key_stop_the_upload_with_the_reason() -> None:
    sim = simulation(Faults(), 8, signer=OTHER_RELAY)
    sim.run()
    assert sim.machine.finished
    assert sim.stored == {}
    assert sim.machine.status.stopped is not None
    assert "this relay's key is not the one you set up" in sim.machine.status.stopped
    assert str(OTHER_RELAY.public) in sim.machine.status.stopped


def test_a_receipt_for_another_chunk_is_not_stored() -> None:
    sim = simulation(Faults(), 9, webrtc=False)
    machine = sim.machine
    machine.chunk_spooled(0)
    machine.chunk_spooled(1)
    sim.perform(machine.actions(0.0))  # connect
    machine.connected(LinkKind.HTTPS, 0.1)
    sends = machine.actions(0.1)
    assert sends == [Send(LinkKind.HTTPS, 0), Send(LinkKind.HTTPS, 1)]
    for index in (0, 1):
        chunk = RECORDING.chunks[index]
        machine.sent(index, chunk.chunk_hash, chunk.device_time_ms)
    wrong = bytes(sign_receipt(RELAY, RECORDING.chunks[1], 1000))
    machine.receipt(LinkKind.HTTPS, 0, wrong, 0.2)
    actions = machine.actions(0.2)
    assert not any(isinstance(a, StoreReceipt) for a in actions)
    assert Close(LinkKind.HTTPS) in actions  # the link is dropped; both chunks go again
    assert machine.unsafe_indices == [0, 1]


def test_an_offline_spool_with_nothing_pending_is_finished_at_once() -> None:
    machine = UploadMachine(
        recording_id=RECORDING.recording_id,
        relay_key=RELAY.public,
        device_text=RECORDING.device_text,
        pending=[],
        receipted=CHUNKS,
    )
    assert machine.finished
    assert machine.actions(0.0) == []
    assert machine.safe_count == CHUNKS
