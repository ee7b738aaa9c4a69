"""``--board=labgrid:…`` parsed, a place matched by name or tags, a harness lease read back from a place's
comment, and a place's serial port turned into the pyserial URL (raw TCP or RFC 2217 through ser2net)."""

import pytest

from harness.errors import UsageError
from harness.farm.coordinator import PlaceInfo
from harness.farm.lease import FarmRequest, lease_of, parse_farm_board
from harness.targets.labgrid_target import serial_url


def test_a_place_by_name_or_places_by_tags():
    assert parse_farm_board("labgrid:bench-1") == FarmRequest(place="bench-1")
    by_tags = parse_farm_board("labgrid:board=nucleo-f429zi,lab=berlin")
    assert by_tags.tags == {"board": "nucleo-f429zi", "lab": "berlin"} and by_tags.filters == by_tags.tags
    assert FarmRequest(place="bench-1").filters == {"name": "bench-1"}  # labgrid matches names as the tag "name"
    assert str(by_tags) == "labgrid:board=nucleo-f429zi,lab=berlin"


@pytest.mark.parametrize("spec, says", [
    ("labgrid:", "name a place or tags"),
    ("labgrid:board=", "is not KEY=VALUE"),
    ("labgrid:Board=x", "is not KEY=VALUE"),
    ("labgrid:board=x,", "is not KEY=VALUE"),
])
def test_a_malformed_request_names_the_form(spec, says):
    with pytest.raises(UsageError, match=says):
        parse_farm_board(spec)


def test_tags_match_a_place_only_when_all_agree():
    place = PlaceInfo("p1", {"board": "nucleo-f429zi", "lab": "berlin"})
    assert parse_farm_board("labgrid:board=nucleo-f429zi").matches(place)
    assert not parse_farm_board("labgrid:board=nucleo-f429zi,lab=paris").matches(place)
    assert parse_farm_board("labgrid:p1").matches(place) and not parse_farm_board("labgrid:p").matches(place)


def test_a_lease_is_read_back_from_the_comment():
    place = PlaceInfo("p1", {}, comment="harness lease ci-7:4242 token ABC123 until 1796494018")
    assert lease_of(place) == ("ci-7:4242", "ABC123", 1796494018.0)
    assert lease_of(PlaceInfo("p1", {}, comment="Anna's board, do not touch")) is None


def test_serial_urls_for_raw_tcp_and_rfc2217():
    assert serial_url({"host": "bench-7", "port": 4001, "protocol": "raw"}) == "socket://bench-7:4001"
    # ser2net's RFC 2217 needs ign_set_control, or pyserial times out waiting for option 'control'
    assert serial_url({"host": "bench-7", "port": 4002}) == "rfc2217://bench-7:4002?ign_set_control"
