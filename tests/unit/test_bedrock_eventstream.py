"""The eventstream decoder: messages split anywhere, every header type, corruption, exceptions.

Frames come from the fake's encoder (tests.fakes.eventstream), which is checked against
botocore's own parser, so the decoder is never tested against itself.
"""

from __future__ import annotations

import base64
import json
import struct
import uuid
import zlib
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from ai_proxy.errors import UpstreamError
from ai_proxy.providers.bedrock.eventstream import EventStreamDecoder, decode_headers
from ai_proxy.sse import SSEEvent
from botocore.eventstream import EventStreamBuffer

from tests.fakes.bedrock import StreamException, chunk_message, exception_message
from tests.fakes.eventstream import HeaderValue, Typed, encode_message

START = {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 3}}}
DELTA = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hé"}}
STOP = {"type": "message_stop"}
EVENTS: list[dict[str, Any]] = [START, DELTA, STOP]


def _stream() -> bytes:  # three messages
    return b"".join(chunk_message(orjson.dumps(event)) for event in EVENTS)


def _decoded(events: list[SSEEvent]) -> list[tuple[str, Any]]:
    return [(event.event, json.loads(event.data)) for event in events]


def test_the_fakes_encoder_is_what_botocore_parses() -> None:
    parser = EventStreamBuffer()
    parser.add_data(_stream())
    messages = list(parser)
    assert [m.headers[":event-type"] for m in messages] == ["chunk"] * 3
    assert [json.loads(m.payload) for m in messages][1]["p"] == "abcdefgh"


def test_a_whole_stream_decodes_to_anthropics_events() -> None:
    decoder = EventStreamDecoder()
    assert _decoded(decoder.feed(_stream())) == [(e["type"], e) for e in EVENTS]
    assert not decoder.pending()


def test_every_split_point_of_a_multi_message_buffer() -> None:
    messages = [chunk_message(orjson.dumps(event)) for event in EVENTS]
    stream = b"".join(messages)
    boundaries = {sum(len(m) for m in messages[:n]) for n in range(len(messages) + 1)}
    expected = [(e["type"], e) for e in EVENTS]
    for cut in range(1, len(stream)):
        decoder = EventStreamDecoder()
        events = decoder.feed(stream[:cut])
        assert decoder.pending() == (cut not in boundaries), cut
        events += decoder.feed(stream[cut:])
        assert _decoded(events) == expected, cut
        assert not decoder.pending()


def test_one_byte_at_a_time() -> None:
    decoder = EventStreamDecoder()
    events = [event for byte in _stream() for event in decoder.feed(bytes([byte]))]
    assert _decoded(events) == [(e["type"], e) for e in EVENTS]


def test_every_header_value_type() -> None:
    when = datetime(2026, 12, 2, 14, 0, 0, 123000, tzinfo=UTC)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    headers: dict[str, HeaderValue] = {
        "true": True,
        "false": False,
        "byte": Typed(2, -5),
        "short": Typed(3, -300),
        "int": Typed(4, 70000),
        "long": Typed(5, 2**40),
        "bytes": b"\x00\xff",
        "string": "héllo",
        "time": when,
        "uuid": ident,
    }
    frame = encode_message(headers, b"")
    (headers_length,) = struct.unpack_from(">I", frame, 4)
    decoded = decode_headers(memoryview(frame)[12 : 12 + headers_length])
    assert decoded == {
        "true": True,
        "false": False,
        "byte": -5,
        "short": -300,
        "int": 70000,
        "long": 2**40,
        "bytes": b"\x00\xff",
        "string": "héllo",
        "time": when,
        "uuid": ident,
    }
    # And botocore reads the same frame the same way.
    parser = EventStreamBuffer()
    parser.add_data(frame)
    assert next(iter(parser)).headers["long"] == 2**40


def test_a_chunk_with_unknown_headers_still_decodes() -> None:
    payload = orjson.dumps({"bytes": base64.b64encode(orjson.dumps(STOP)).decode()})
    frame = encode_message(
        {":message-type": "event", ":event-type": "chunk", "x-extra": Typed(4, 1)}, payload
    )
    assert _decoded(EventStreamDecoder().feed(frame)) == [("message_stop", STOP)]


@pytest.mark.parametrize(
    ("exception", "error_type"),
    [
        ("modelStreamErrorException", "api_error"),
        ("throttlingException", "rate_limit_error"),
        ("serviceUnavailableException", "overloaded_error"),
        ("validationException", "invalid_request_error"),
        ("modelTimeoutException", "timeout_error"),
        ("internalServerException", "api_error"),
    ],
)
def test_an_exception_message_becomes_an_error_event_after_the_content(
    exception: str, error_type: str
) -> None:
    stream = chunk_message(orjson.dumps(START)) + exception_message(
        StreamException(exception, "Something went wrong mid-stream.")
    )
    events = EventStreamDecoder().feed(stream)
    assert [event.event for event in events] == ["message_start", "error"]
    error = json.loads(events[1].data)
    assert error["type"] == "error"
    assert error["error"]["type"] == error_type
    assert "Something went wrong mid-stream." in error["error"]["message"]


def test_a_service_error_message_becomes_an_error_event() -> None:
    frame = encode_message(
        {":message-type": "error", ":error-code": "InternalFailure", ":error-message": "boom"}, b""
    )
    (event,) = EventStreamDecoder().feed(frame)
    assert event.event == "error"
    assert "boom" in json.loads(event.data)["error"]["message"]


@pytest.mark.parametrize(
    ("offset", "problem"),
    [(8, "prelude CRC"), (20, "message CRC"), (-1, "message CRC")],
)
def test_a_corrupt_message_is_refused(offset: int, problem: str) -> None:
    frame = bytearray(chunk_message(orjson.dumps(STOP)))
    frame[offset] ^= 0x01
    with pytest.raises(UpstreamError, match=problem):
        EventStreamDecoder().feed(bytes(frame))


def test_impossible_lengths_are_refused() -> None:
    head = struct.pack(">II", 10, 0)  # shorter than a prelude and a CRC
    frame = head + struct.pack(">I", zlib.crc32(head))
    with pytest.raises(UpstreamError, match="lengths"):
        EventStreamDecoder().feed(frame)


def test_a_cut_stream_is_pending() -> None:
    decoder = EventStreamDecoder()
    decoder.feed(_stream()[:-3])
    assert decoder.pending()


def test_a_chunk_that_is_not_base64_json_is_refused() -> None:
    frame = encode_message({":message-type": "event", ":event-type": "chunk"}, b'{"bytes":"%%"}')
    with pytest.raises(UpstreamError, match="chunk"):
        EventStreamDecoder().feed(frame)
