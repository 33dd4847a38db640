"""The edge's text frames: made once per event and shared by every socket it goes to, so
they must be exactly what the ``websockets`` protocol itself would send."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side, State

from holdspace.edge import text_frame


def _received(wire: bytes) -> str:
    """What a client's own parser reads from ``wire``."""
    client = Protocol(Side.CLIENT, state=State.OPEN, max_size=None)
    client.receive_data(wire)
    [frame] = client.events_received()
    assert isinstance(frame, Frame)
    assert frame.opcode is Opcode.TEXT
    assert frame.fin
    return bytes(frame.data).decode()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a" * 125,  # the largest length in the first byte
        "a" * 126,  # the smallest with a 16-bit length
        "é" * 32767 + "a",  # 65,535 bytes: the largest 16-bit length
        "a" * 65536,  # the smallest with a 64-bit length
        '{"type":"message","text":"🙂 مرحبا <hugs>"}' * 3000,
    ],
    ids=["empty", "125", "126", "65535", "65536", "mixed"],
)
def test_a_frame_is_what_websockets_itself_would_send(text: str) -> None:
    wire = text_frame(text)
    assert wire == Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])
    assert _received(wire) == text


def test_a_frame_is_made_once_for_every_socket_it_goes_to() -> None:
    text = '{"type":"message","seq":1}' + "x" * 200
    first = text_frame(text)
    assert text_frame(text) is first  # the same event: the same bytes, not made again
    same_words = "".join(['{"type":"message","seq":1}', "x" * 200])
    assert same_words is not text
    assert text_frame(same_words) == first  # another event that reads the same


def test_many_events_never_mix_up_their_frames() -> None:
    """The cache starts again when full; an entry is only ever the frame of its own
    string, however many strings come and go."""
    texts = [f'{{"seq":{n}}}' for n in range(2000)]
    for text in texts:
        assert _received(text_frame(text)) == text
    for text in reversed(texts):
        assert _received(text_frame(text)) == text
