from __future__ import annotations

from ai_proxy.sse import SSEDecoder, SSEEvent, encode, encode_events


def decode_in_pieces(raw: bytes, size: int) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = []
    for start in range(0, len(raw), size):
        events.extend(decoder.feed(raw[start : start + size]))
    assert not decoder.pending()
    return events


def test_events_split_anywhere_decode_the_same() -> None:
    raw = (
        b'data: {"a":1}\r\n\r\nevent: x\ndata: line1\ndata: line2\n\n'
        b': comment\n\ndata:{"b":2}\r\r\n'
    )
    expected = [
        SSEEvent("message", '{"a":1}'),
        SSEEvent("x", "line1\nline2"),
        SSEEvent("message", '{"b":2}'),
    ]
    for size in (1, 2, 3, 7, len(raw)):
        assert decode_in_pieces(raw, size) == expected


def test_truncated_event_is_pending() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"a":1}\n\ndata: {"tru') == [SSEEvent("message", '{"a":1}')]
    assert decoder.pending()


def test_encode_names_the_event() -> None:
    assert encode("ping", {"type": "ping"}) == b'event: ping\ndata: {"type":"ping"}\n\n'


def test_an_event_ended_by_a_lone_cr_goes_out_with_its_chunk() -> None:
    # CR alone ends a line: the event is complete without waiting for the next chunk, and an
    # LF opening that chunk is the second half of CRLF, not a blank line of its own.
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\r") == [SSEEvent("message", "a")]
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r\n") == [SSEEvent("message", "b")]
    assert not decoder.pending()


def test_bytes_of_a_character_split_across_chunks_decode_once_whole() -> None:
    decoder = SSEDecoder()
    assert decoder.feed("data: caf\u00e9".encode()[:-1]) == []
    assert decoder.feed("\u00e9".encode()[1:] + b"\n\n") == [SSEEvent("message", "caf\u00e9")]


def test_events_encode_in_one_frame_each_named_by_type() -> None:
    events = [{"type": "message_stop"}, {"type": "ping"}]
    assert encode_events(events) == (
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
        b'event: ping\ndata: {"type":"ping"}\n\n'
    )
