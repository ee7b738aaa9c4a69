"""The serial protocol's vocabulary in one place (docs/protocol.md): its version, every message kind and the
constants both sides must agree on. The host's ``Kind`` (harness/protocol/frames.py) and the firmware's
firmware/protocol/rp_messages.h are both made from this table; tests/harness/protocol/test_spec.py fails when
the committed header differs from ``c_header()``. After a change here, regenerate it:

    python -m harness.protocol.spec > firmware/protocol/rp_messages.h

Adding a message is its row here, its handler in firmware/app/device.c and its use in session.py.
"""

from __future__ import annotations

from dataclasses import dataclass

PROTOCOL = 5


@dataclass(frozen=True)
class Message:
    name: str
    code: int
    sender: str     # "host" or "device"
    summary: str


MESSAGES = (
    Message("HELLO", 1, "host", "who are you? (max_answer u16)"),
    Message("HELLO_REPLY", 2, "device", "flags u8 (1: boot banner), the info text's length u16, its first bytes"),
    Message("IMAGE_CHUNK", 3, "host", "offset u24, the bytes"),
    Message("ACK", 4, "device", "accepted; an IMAGE_CHUNK's names its offset u24 and those before it"),
    Message("NAK", 5, "device", "packets dropped so far u32; seq: the last intact frame's"),
    Message("RESULT", 6, "device", "the result record's length u16, its first bytes"),
    Message("LAYER_REQUEST", 7, "host", "layer u16, offset u32, length u16"),
    Message("LAYER_DATA", 8, "device", "layer u16, offset u32, the bytes"),
    Message("ERROR", 9, "device", "a refusal, as text"),
    Message("RUN", 10, "host", "dump_layer u16, image_crc u32, max_answer u16"),
    Message("LAYER_READY", 11, "device", "paused after the layer to dump: layer u16, bytes u32"),
    Message("RESUME", 12, "host", "finish the paused run"),
    Message("FAULT", 13, "device", "faulted: ten u32 (exception, registers, running layer); it stops"),
    Message("READ", 14, "host", "object u8 (1 info text, 2 result record), offset u16, length u16"),
    Message("DATA", 15, "device", "object u8, offset u16, the bytes"),
    Message("IMAGE_START", 16, "host", "a new upload: codec u8 (+ CODEC_STREAM), the stream's bytes u24"),
)

# Constants of the messages' layouts: name → (value, what it is). C gets them as RP_<name>.
CONSTANTS = {
    "OFFSET_BYTES": (3, "stream offsets in IMAGE_CHUNK and its ACK are u24 (streams up to 16 MiB)"),
    "ACK_HISTORY": (3, "an IMAGE_CHUNK's ACK names it and up to two chunks accepted just before"),
    "NO_LAYER": (0xFFFF, "RUN's dump_layer when no layer is dumped"),
    "OBJ_INFO": (1, "READ's object: the info text of the last HELLO"),
    "OBJ_RESULT": (2, "READ's object: the last run's result record"),
    "CODEC_RAW": (0, "IMAGE_START's codec: the pixels as they are"),
    "CODEC_ROWS": (1, "IMAGE_START's codec: the row code (harness/protocol/rowcode.py)"),
    "CODEC_STREAM": (0x80, "IMAGE_START's codec flag: the rows run through the streamed layers as they arrive"),
}


def constant(name: str) -> int:
    return CONSTANTS[name][0]


def c_header() -> str:
    """firmware/protocol/rp_messages.h, from this table."""
    width = max(len(m.name) for m in MESSAGES) + len("RP_MSG_")
    lines = ["/* generated from harness/protocol/spec.py - do not edit; regenerate with",
             " *     python -m harness.protocol.spec > firmware/protocol/rp_messages.h */",
             "#ifndef RP_MESSAGES_H", "#define RP_MESSAGES_H", "",
             f'#define RP_PROTOCOL_VERSION "{PROTOCOL}"', "",
             "/* Message kinds (a frame's kind byte); the sender and payload of each. */", "enum {"]
    lines += [f"    {'RP_MSG_' + m.name + ' = ' + str(m.code) + ',':<{width + 6}} /* {m.sender}: {m.summary} */"
              for m in MESSAGES]
    lines += ["};", ""]
    for name, (value, what) in CONSTANTS.items():
        lines += [f"/* {what} */", f"#define RP_{name} {value:#x}u" if value > 255 else f"#define RP_{name} {value}"]
    lines += ["", "#endif /* RP_MESSAGES_H */", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(c_header(), end="")
