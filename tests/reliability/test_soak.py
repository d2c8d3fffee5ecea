"""Load and soak: many concurrent streaming and non-streaming requests through the real app
against the fake Gemini on 127.0.0.1, with upstream faults injected at a fixed rate.

Every request must end in a complete, well-formed answer or a well-formed Anthropic error
(status + JSON body, or an SSE `error` event as the last event); none may hang; afterwards no
upstream slot, connection, response or stream is left behind and open file descriptors and
memory are back where they were after the warm-up.

Size (defaults keep CI under a minute; README "Reliability" shows a long run):
    AI_PROXY_SOAK_REQUESTS=2000  AI_PROXY_SOAK_CONCURRENCY=50  AI_PROXY_SOAK_FAULT_RATE=0.1
    AI_PROXY_SOAK_SEED=6
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import resource
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from typing import Any

import aiohttp
import httpx
import orjson
from ai_proxy.streams import StreamBody
from ai_proxy.upstream import UpstreamClient

from tests.fakes.gemini import (
    Cut,
    FakeGemini,
    Hang,
    HttpReply,
    RecordedRequest,
    Reply,
    Timing,
    bad_gateway_html,
    internal_error,
    invalid_json,
    mid_stream_error,
    overloaded,
    text_answer,
)
from tests.sse_grammar import check_stream

from .conftest import config_for, running

REQUESTS = int(os.environ.get("AI_PROXY_SOAK_REQUESTS", "2000"))
CONCURRENCY = int(os.environ.get("AI_PROXY_SOAK_CONCURRENCY", "50"))
FAULT_RATE = float(os.environ.get("AI_PROXY_SOAK_FAULT_RATE", "0.1"))
SEED = int(os.environ.get("AI_PROXY_SOAK_SEED", "6"))
WARMUP = 100
CLIENT_ABORT_RATE = 0.02  # clients hanging up mid-stream, on top of upstream faults
PER_REQUEST_LIMIT = 10.0  # seconds; longer counts as a hang
READ_TIMEOUT = 0.5  # upstream idle timeout, so hangs and stalls end quickly

SAMPLE = {
    "model": "gemini-2.5-flash",
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "warm up"}],
}
ERROR_STATUSES = {
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
STREAM_ERROR_TYPES = {"api_error", "timeout_error", "overloaded_error", "rate_limit_error"}


def _faults() -> list[Reply]:
    words = "the quick brown fox jumps over the lazy dog"
    answer = text_answer(words, chunks=5)
    return [
        internal_error(),
        overloaded(),
        HttpReply(429, b'{"error":{"code":429,"message":"slow"}}', headers=(("Retry-After", "0"),)),
        bad_gateway_html(),
        invalid_json(),
        Hang(),
        Hang(send_headers=True),
        replace(answer, cut=Cut(2, mid_event=True)),
        replace(answer, cut=Cut(1, reset=True)),
        replace(answer, timing=Timing(between_chunks=READ_TIMEOUT * 3)),
        replace(answer, stream_error=mid_stream_error(2, code=503)),
    ]


class Script:
    """Called by the fake for each upstream request (in its thread): a fault at FAULT_RATE."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.faults = _faults()
        self.injected: Counter[str] = Counter()
        self.recorded: list[RecordedRequest] | None = None

    def __call__(self, request: RecordedRequest) -> Reply:
        if self.recorded is not None and len(self.recorded) > 500:
            # The fake records every request; a long soak would measure that, not the gateway.
            self.recorded.clear()
        if self.rng.random() < FAULT_RATE:
            fault = self.rng.choice(self.faults)
            self.injected[_fault_name(fault)] += 1
            return fault
        words = " ".join(f"w{i}" for i in range(self.rng.randint(1, 30)))
        answer = text_answer(words, chunks=self.rng.randint(1, 6))
        return replace(answer, timing=Timing(between_chunks=self.rng.choice([0, 0, 0.005, 0.02])))


def _fault_name(reply: Reply) -> str:
    if isinstance(reply, HttpReply):
        return f"http_{reply.status}" + ("_html" if b"<html" in reply.body else "")
    if isinstance(reply, Hang):
        return "hang_after_headers" if reply.send_headers else "hang"
    if reply.cut is not None:
        return "reset_mid_stream" if reply.cut.reset else "cut_mid_event"
    if reply.stream_error is not None:
        return "error_event_mid_stream"
    return "stall_mid_stream"


def _check_json(status: int, raw: bytes) -> str:
    if status == 200:
        message = orjson.loads(raw)
        assert message["type"] == "message" and message["role"] == "assistant", message
        assert isinstance(message["content"], list) and message["stop_reason"], message
        return "ok"
    assert status in ERROR_STATUSES, (status, raw[:300])
    error = orjson.loads(raw)
    assert error["type"] == "error" and error["error"]["type"] == ERROR_STATUSES[status], error
    # A 500 may only pass on upstream's own 500, never stand for a bug of ours.
    assert "internal gateway error" not in error["error"]["message"], error
    return f"error_{status}"


async def _one(session: aiohttp.ClientSession, url: str, index: int, rng: random.Random) -> str:
    stream = rng.random() < 0.5
    abort = stream and rng.random() < CLIENT_ABORT_RATE
    payload = {
        "model": "gemini-2.5-flash",
        "max_tokens": 256,
        "stream": stream,
        "messages": [{"role": "user", "content": f"request {index}"}],
    }
    async with asyncio.timeout(PER_REQUEST_LIMIT):
        async with session.post(url, data=orjson.dumps(payload)) as response:
            if abort and response.status == 200:
                await response.content.readany()
                response.close()  # hang up after the first bytes
                return "client_aborted"
            raw = await response.read()
            if not stream or response.status != 200:
                return _check_json(response.status, raw)
    events = check_stream(raw)
    last = events[-1]
    if last["type"] == "message_stop":
        return "ok_stream"
    assert last["type"] == "error" and last["error"]["type"] in STREAM_ERROR_TYPES, last
    return f"stream_error_{last['error']['type']}"


async def _drive(base_url: str, count: int, seed: int) -> tuple[Counter[str], list[str]]:
    """aiohttp as the client: httpx's async client would be the bottleneck (README)."""
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    indexes = iter(range(count))
    url = base_url + "/v1/messages"
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            for index in indexes:
                try:
                    outcomes[await _one(session, url, index, rng)] += 1
                except TimeoutError:
                    outcomes["hang"] += 1
                    failures.append(f"request {index}: no complete answer in {PER_REQUEST_LIMIT}s")
                except Exception as exc:
                    outcomes["malformed"] += 1
                    failures.append(f"request {index}: {type(exc).__name__}: {exc}"[:500])

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return outcomes, failures


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _fd_targets() -> dict[str, str]:
    targets = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):
            targets[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return targets


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _live(kind: type) -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if type(obj) is kind)


def _settle(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_soak_with_faults_every_answer_is_well_formed_and_nothing_leaks() -> None:
    threads_before = threading.active_count()
    script = Script(SEED)
    gemini = FakeGemini(default_reply=text_answer("unused"))
    # Loops and servers open a few process-wide fds the first time (a wakeup pipe): one
    # short cycle first, so the baseline already has them.
    with FakeGemini() as first, running(config_for(first.base_url)) as (first_url, _):
        httpx.post(first_url + "/v1/messages", json={**SAMPLE}, timeout=5)
    _settle(lambda: threading.active_count() <= threads_before)
    fds_before = _open_fds()  # no server or pool of the soak exists yet
    targets_before = _fd_targets()
    script.recorded = gemini.requests
    with gemini:
        gemini.enqueue(*[script] * (REQUESTS * 3 + WARMUP * 3))
        config = config_for(
            gemini.base_url,
            timeouts={"connect_seconds": 2.0, "read_seconds": READ_TIMEOUT, "total_seconds": 8.0},
            retries={
                "max_retries": 1,
                "initial_backoff_seconds": 0.005,
                "max_backoff_seconds": 0.01,
            },
            server={"ping_interval_seconds": 0.2},
        )
        with running(config) as (base_url, gateway):
            _, warm_failures = asyncio.run(_drive(base_url, WARMUP, SEED + 1))
            assert warm_failures == []
            _settle(lambda: gateway.upstream_cap.in_flight == 0)
            rss_before = _rss_mb()
            # Other tests in this process may have left objects behind: compare, not count.
            live_before = {kind: _live(kind) for kind in (aiohttp.ClientResponse, StreamBody)}

            begun = time.monotonic()
            outcomes, failures = asyncio.run(_drive(base_url, REQUESTS, SEED))
            elapsed = time.monotonic() - begun

            _settle(lambda: gateway.upstream_cap.in_flight == 0)
            client = gateway.clients["gemini"]
            assert isinstance(client, UpstreamClient) and client._session is not None
            connector = client._session.connector
            assert isinstance(connector, aiohttp.TCPConnector)
            _settle(lambda: not connector._acquired)
            fds_running, rss_after = _open_fds(), _rss_mb()
            pooled = sum(len(conns) for conns in connector._conns.values())
            leftovers = {
                "upstream slots": gateway.upstream_cap.in_flight,
                "acquired upstream connections": len(connector._acquired),
                "live upstream responses": _live(aiohttp.ClientResponse)
                - live_before[aiohttp.ClientResponse],
                "live stream bodies": _live(StreamBody) - live_before[StreamBody],
            }

    # Servers stopped and pools closed: every socket must be gone, none held by a leak.
    _settle(lambda: _open_fds() <= fds_before)
    fds_after = _open_fds()
    new_fds = sorted(set(_fd_targets().items()) - set(targets_before.items()))
    summary = (
        f"soak: {REQUESTS} requests, concurrency {CONCURRENCY}, fault rate {FAULT_RATE:.0%} "
        f"of upstream calls, seed {SEED}: {elapsed:.1f}s ({REQUESTS / elapsed:.0f} req/s)\n"
        f"  outcomes: {dict(sorted(outcomes.items()))}\n"
        f"  faults injected: {dict(sorted(script.injected.items()))}\n"
        f"  open fds: {fds_before} before, {fds_running} at the end of the run "
        f"({pooled} idle pooled upstream connections), {fds_after} after shutdown {new_fds}; "
        f"RSS {rss_before:.0f} -> {rss_after:.0f} MB; "
        f"leftovers {leftovers}"
    )
    print(summary, file=sys.stderr)
    assert failures == [], summary + "\n" + "\n".join(failures[:20])
    assert sum(outcomes.values()) == REQUESTS, summary
    assert outcomes["hang"] == 0 and outcomes["malformed"] == 0, summary
    assert outcomes["ok"] + outcomes["ok_stream"] >= REQUESTS * (1 - 3 * FAULT_RATE - 0.05), summary
    if FAULT_RATE and REQUESTS >= 500:
        assert sum(script.injected.values()) >= REQUESTS * FAULT_RATE / 2  # faults did happen
        assert any(k.startswith(("error_", "stream_error_")) for k in outcomes)
    assert all(count <= 0 for count in leftovers.values()), summary
    assert fds_after <= fds_before, summary
    assert pooled <= CONCURRENCY * 2, summary  # idle keep-alive connections stay bounded
    assert rss_after - rss_before < 64, summary
