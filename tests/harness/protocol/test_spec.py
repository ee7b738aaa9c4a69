"""The protocol's one source (harness/protocol/spec.py) against what is built from it and what implements it: the
committed C header, the firmware's handlers and senders, the host's Kind, and the protocol document."""

import re
from pathlib import Path

from harness.protocol import spec
from harness.protocol.frames import Kind
from harness.protocol.messages import OFFSET_BYTES

ROOT = Path(__file__).resolve().parents[3]
DEVICE = (ROOT / "firmware" / "app" / "device.c").read_text()


def test_the_committed_c_header_is_the_one_the_table_makes():
    committed = (ROOT / "firmware" / "protocol" / "rp_messages.h").read_text()
    assert committed == spec.c_header(), ("firmware/protocol/rp_messages.h is stale: run "
                                          "python -m harness.protocol.spec > firmware/protocol/rp_messages.h")


def test_the_host_kinds_and_layouts_are_the_tables():
    assert {k.name: k.value for k in Kind} == {m.name: m.code for m in spec.MESSAGES}
    assert OFFSET_BYTES == spec.constant("OFFSET_BYTES")
    assert len({m.code for m in spec.MESSAGES}) == len(spec.MESSAGES) and all(0 < m.code < 256 for m in spec.MESSAGES)


def test_the_firmware_handles_every_host_message_and_sends_every_device_message():
    handled = set(re.findall(r"(?:case |kind == )RP_MSG_(\w+)", DEVICE))
    sent = set(re.findall(r"send(?:_piece)?\(RP_MSG_(\w+)", DEVICE))
    assert handled == {m.name for m in spec.MESSAGES if m.sender == "host"}
    assert sent == {m.name for m in spec.MESSAGES if m.sender == "device"}
    assert not re.search(r"#define (PROTOCOL_VERSION|OFFSET_BYTES|ACK_HISTORY|NO_LAYER)\b|\bK_[A-Z]", DEVICE)


def test_the_protocol_document_names_every_message_and_the_version():
    doc = (ROOT / "docs" / "protocol.md").read_text()
    missing = [m.name for m in spec.MESSAGES if not re.search(rf"\b{m.name}\b", doc)]
    assert not missing, f"docs/protocol.md does not describe {missing}"
    assert re.search(rf"protocol {spec.PROTOCOL}\b", doc, re.IGNORECASE)
