from __future__ import annotations

from ai_proxy.sse import SSEDecoder, SSEEvent, encode


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
