"""The protocol's one source (harness/protocol/spec.py) against what is built from it and what implements it: the
committed C header, the firmware's handlers and senders, the host's Kind, and the protocol document."""

import re
from pathlib import Path

from harness.protocol import spec
from harness.protocol.frames import Kind
from harness.protocol.messages import OFFSET_BYTES

ROOT = Path(__file__).resolve().parents[3]
HEADER = ROOT / "firmware" / "protocol" / "rp_messages.h"
DEVICE = ROOT / "firmware" / "app" / "device.c"
DOC = ROOT / "docs" / "protocol.md"


def disagreements(messages, header: str, device: str, doc: str, make_header=spec.c_header) -> list[str]:
    """What disagrees with the table ``messages``: the header, device.c's handlers and senders, the document."""
    out = [] if header == make_header() else ["firmware/protocol/rp_messages.h is stale: run "
                                              "python -m harness.protocol.spec > firmware/protocol/rp_messages.h"]
    handled = set(re.findall(r"(?:case |kind == )RP_MSG_(\w+)", device))
    sent = set(re.findall(r"send(?:_piece)?\(RP_MSG_(\w+)", device))
    for m in messages:
        if m.sender == "host" and m.name not in handled:
            out.append(f"firmware/app/device.c does not handle {m.name}")
        if m.sender == "device" and m.name not in sent:
            out.append(f"firmware/app/device.c never sends {m.name}")
        if not re.search(rf"\b{m.name}\b", doc):
            out.append(f"docs/protocol.md does not describe {m.name}")
    names = {m.name for m in messages}
    out += [f"firmware/app/device.c uses {n}, which the table lacks" for n in sorted((handled | sent) - names)]
    return out


def test_the_header_the_firmware_and_the_document_agree_with_the_table():
    assert disagreements(spec.MESSAGES, HEADER.read_text(), DEVICE.read_text(), DOC.read_text()) == []
    assert re.search(rf"protocol version {spec.PROTOCOL}\b", DOC.read_text(), re.IGNORECASE)
    assert not re.search(r"#define (PROTOCOL_VERSION|OFFSET_BYTES|ACK_HISTORY|NO_LAYER)\b|\bK_[A-Z]",
                         DEVICE.read_text())  # no second copy of the table's constants


def test_the_host_kinds_and_layouts_are_the_tables():
    assert {k.name: k.value for k in Kind} == {m.name: m.code for m in spec.MESSAGES}
    assert OFFSET_BYTES == spec.constant("OFFSET_BYTES")
    assert len({m.code for m in spec.MESSAGES}) == len(spec.MESSAGES) and all(0 < m.code < 256 for m in spec.MESSAGES)


def test_a_message_added_to_the_table_alone_is_caught_until_the_firmware_handles_it(monkeypatch):
    ping = spec.Message("PING", 16, "host", "are you there? (empty)")
    monkeypatch.setattr(spec, "MESSAGES", (*spec.MESSAGES, ping))
    header, device, doc = HEADER.read_text(), DEVICE.read_text(), DOC.read_text()
    assert disagreements(spec.MESSAGES, header, device, doc) == [
        "firmware/protocol/rp_messages.h is stale: run python -m harness.protocol.spec > "
        "firmware/protocol/rp_messages.h",
        "firmware/app/device.c does not handle PING", "docs/protocol.md does not describe PING"]
    # The recipe's three steps: the regenerated header, a handler, a row in the document.
    header = spec.c_header()
    assert "    RP_MSG_PING = 16," in header
    device = device.replace("case RP_MSG_READ:", "case RP_MSG_PING: send(RP_MSG_ACK, f.seq, 0, 0); break;\n"
                                                 "        case RP_MSG_READ:")
    doc += "\n| 16 | PING | host → device | – | ACK |\n"
    assert disagreements(spec.MESSAGES, header, device, doc) == []
