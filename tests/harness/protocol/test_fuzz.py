"""Short fuzz runs of the protocol code in the default tests (hypothesis; more examples with
``HYPOTHESIS_PROFILE=long``): the firmware's frame decoder (host build) and the Python one agree on any byte stream,
and well-framed nonsense from a device makes the session raise a one-line HarnessError, never anything else and
never hang. The device double below answers in the real frames; only its payloads are drawn."""

import os
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import HarnessError
from harness.protocol.frames import Frame, FrameDecoder, Kind, encode_frame
from harness.protocol.session import Session
from tests.harness.protocol.test_frames_c import c_decode, lib  # noqa: F401  (lib is a fixture)
from tests.harness.protocol.test_session import hello_payload, result_record

settings.register_profile("default", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("long", max_examples=20000, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

FRAMES = st.builds(Frame, st.sampled_from([int(k) for k in Kind]), st.integers(0, 255), st.binary(max_size=300))


@st.composite
def damaged_streams(draw) -> bytes:
    """Real frames, then bytes flipped, dropped, inserted, and raw garbage between them."""
    wire = bytearray(b"".join(encode_frame(f) for f in draw(st.lists(FRAMES, max_size=6))))
    for _ in range(draw(st.integers(0, 8))):
        if not wire:
            break
        at = draw(st.integers(0, len(wire) - 1))
        op = draw(st.sampled_from(["flip", "drop", "insert", "zero"]))
        if op == "flip":
            wire[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "drop":
            del wire[at]
        elif op == "insert":
            wire.insert(at, draw(st.integers(0, 255)))
        else:
            wire[at] = 0
    return bytes(wire) + draw(st.binary(max_size=64))


@given(stream=damaged_streams())
def test_the_firmwares_decoder_and_the_hosts_agree_on_any_stream(lib, stream):  # noqa: F811
    c_frames, c_dropped = c_decode(lib, stream + b"\0")
    py = FrameDecoder()
    assert py.feed(stream + b"\0") == c_frames
    assert py.dropped == c_dropped


class NonsenseDevice:
    """A pyserial-like link whose device answers HELLO, READ, RUN and LAYER_REQUEST in real frames with the drawn
    payloads (by kind), so the session's checks meet every shape of nonsense."""

    def __init__(self, answers: dict[int, bytes]):
        self.answers, self.timeout = answers, 0.0
        self._out, self._decoder = bytearray(), FrameDecoder()

    def write(self, data: bytes) -> int:
        for f in self._decoder.feed(data):
            reply = {Kind.HELLO: Kind.HELLO_REPLY, Kind.READ: Kind.DATA, Kind.RUN: Kind.RESULT,
                     Kind.LAYER_REQUEST: Kind.LAYER_DATA}.get(f.kind)
            if f.kind == Kind.RUN:
                self._out += encode_frame(Frame(Kind.ACK, f.seq))
            if reply is not None:
                self._out += encode_frame(Frame(reply, f.seq, self.answers.get(int(reply), b"")))
        return len(data)

    def read(self, n: int = 1) -> bytes:
        out, self._out = bytes(self._out[:n]), self._out[n:]
        return out

    def reset_input_buffer(self) -> None:
        self._out.clear()


def _session(answers: dict[int, bytes]) -> Session:
    return Session(NonsenseDevice(answers), reply_timeout=0.01, run_timeout=0.05, budget=0.1)


TEXT = hello_payload()


@given(payload=st.one_of(st.binary(max_size=40),
                         st.builds(lambda flags, cut, junk: bytes([flags]) + struct.pack("<H", len(TEXT))
                                   + TEXT[:cut] + junk, st.integers(0, 1), st.integers(0, len(TEXT)),
                                   st.binary(max_size=8))))
def test_nonsense_in_hello_replies_is_a_harness_error(payload):
    try:
        _session({Kind.HELLO_REPLY: payload, Kind.DATA: b""}).hello(0.1)
    except HarnessError as err:
        assert "\n" not in str(err)


@given(record=st.one_of(st.binary(max_size=120),
                        st.builds(lambda n_cand, cand_bytes, junk: result_record(n_cand=n_cand, cand_bytes=cand_bytes)
                                  + junk, st.integers(-5, 20), st.integers(-20, 300), st.binary(max_size=4))),
       data=st.binary(max_size=40))
def test_nonsense_in_results_is_a_harness_error(record, data):
    text = hello_payload()
    session = _session({Kind.HELLO_REPLY: b"\0" + struct.pack("<H", len(text)) + text,
                        Kind.RESULT: struct.pack("<H", len(record)) + record, Kind.DATA: data,
                        Kind.LAYER_DATA: data})
    session.hello(0.5)
    session.image_crc = 0
    try:
        session.run_uploaded()
    except HarnessError as err:
        assert "\n" not in str(err)


def test_the_double_really_answers_so_the_fuzz_reaches_the_checks():
    text = hello_payload()
    session = _session({Kind.HELLO_REPLY: b"\0" + struct.pack("<H", len(text)) + text,
                        Kind.RESULT: struct.pack("<H", len(result_record())) + result_record()})
    assert session.hello(0.5).layers == ("stem", "rnnpool", "mb0", "candidates")
    session.image_crc = 0
    assert session.run_uploaded().total_ticks == 65
