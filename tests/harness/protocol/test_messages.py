"""The upload's message layouts: u24 offsets, round trips, and refusals."""

import pytest

from harness.errors import ProtocolError
from harness.protocol.messages import MAX_OFFSET, pack_ack, pack_chunk, unpack_ack, unpack_chunk


def test_a_chunk_is_a_three_byte_offset_then_its_bytes():
    payload = pack_chunk(0x012345, b"\x00\xff")
    assert payload == b"\x45\x23\x01\x00\xff"
    assert unpack_chunk(payload) == (0x012345, b"\x00\xff")


def test_acks_round_trip_newest_first():
    assert unpack_ack(pack_ack([76_799, 0, 480])) == (76_799, 0, 480)
    assert len(pack_ack([1, 2, 3])) == 9


@pytest.mark.parametrize("payload", [b"", b"\x01", b"\x01\x02\x03\x04"])
def test_an_ack_that_is_not_a_list_of_offsets_is_ignored(payload):
    assert unpack_ack(payload) is None


@pytest.mark.parametrize("offset", [-1, MAX_OFFSET])
def test_an_offset_outside_u24_is_a_clear_error(offset):
    with pytest.raises(ProtocolError, match="does not fit 3 bytes"):
        pack_chunk(offset, b"x")
