"""harness/protocol/session.py against a device double that speaks the real protocol over a real pty: what the host
makes of a fault, a reboot mid-run, a stopped cycle counter and stray text. The device side is the firmware's
conversation (firmware/app/device.c) reduced to what each test needs; frames are the real frames.py ones."""

import os
import struct
import threading
import time

import numpy as np
import pytest
import serial

from harness.errors import DeviceFault, DeviceRebooted, ProtocolError, TargetTimeout
from harness.protocol.fault import FaultReport
from harness.protocol.frames import Frame, FrameDecoder, Kind, encode_frame
from harness.protocol.messages import pack_ack, unpack_chunk
from harness.protocol.session import PROTOCOL, DeviceInfo, Session

LAYERS = ("stem", "rnnpool", "mb0", "candidates")
INPUT = (8, 16)


def hello_payload(**overrides) -> bytes:
    kv = {"protocol": str(PROTOCOL), "model": "m0", "build-id": "b0", "board": "nucleo-f429zi", "clock": "180000000",
          "clock-status": "pll", "reset": "pin", "watchdog-ms": "4000", "rx-dropped": "0", "rx-errors": "0",
          "ticks": "dwt", "ticks-hz": "180000000", "rx": "1024", "chunk": "480", "max-payload": "1024",
          "input": f"{INPUT[0]}x{INPUT[1]}", "arena": "4096", "layers": ",".join(LAYERS), "caps": "layer-dump,fault"}
    kv.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return " ".join(f"{k}={v}" for k, v in kv.items() if v is not None).encode()


def result_record(ticks=(10, 20, 30, 5), n_cand=0, cand_bytes=64) -> bytes:
    head = struct.pack("<iIiIIH", 0, sum(ticks), n_cand, 4096, 512, len(LAYERS))
    nbytes = (64,) * (len(LAYERS) - 1) + (cand_bytes,)
    return head + b"".join(struct.pack("<IIi", 0xC0FFEE + i, t, n) for i, (t, n) in enumerate(zip(ticks, nbytes)))


def result_payload(ticks=(10, 20, 30, 5), **record) -> bytes:
    """RESULT: the record's length, then (here) the whole record."""
    body = result_record(ticks, **record)
    return struct.pack("<H", len(body)) + body


def banner() -> bytes:
    return encode_frame(Frame(Kind.HELLO_REPLY, 0, b"\x01" + struct.pack("<H", len(hello_payload()))))


def fault_payload(layer: int, cfsr=0x8200, bfar=0x60000000, pc=0x08001234) -> bytes:
    return struct.pack("<10I", 3, pc, 0x08000F01, 0x21000000, cfsr, 0x40000000, 0, bfar, 0xFFFFFFF9, layer)


class DeviceDouble(threading.Thread):
    """Answers HELLO, READ of the info text, IMAGE_START and IMAGE_CHUNK like the firmware; ``on_run(seq)`` returns
    the bytes sent after RUN's ACK; ``hello`` overrides HELLO_REPLY keys (``clock_status="hse-timeout"``)."""

    def __init__(self, fd: int, on_run, **hello):
        super().__init__(daemon=True)
        self.fd, self.on_run, self.hello, self.stop = fd, on_run, hello, threading.Event()

    def send(self, kind: Kind, seq: int, payload: bytes = b"") -> None:
        self.send_safely(encode_frame(Frame(int(kind), seq, payload)))

    def run(self) -> None:
        decoder = FrameDecoder()
        self.send_safely(banner())
        text = hello_payload(**self.hello)
        while not self.stop.is_set():
            try:
                data = os.read(self.fd, 4096)
            except OSError:
                return
            for f in decoder.feed(data):
                if f.kind == Kind.HELLO:
                    room = struct.unpack("<H", f.payload)[0] - 3
                    self.send(Kind.HELLO_REPLY, f.seq, b"\0" + struct.pack("<H", len(text)) + text[:room])
                elif f.kind == Kind.READ:
                    _, at, n = struct.unpack("<BHH", f.payload)
                    self.send(Kind.DATA, f.seq, f.payload[:3] + text[at:at + n])
                elif f.kind == Kind.IMAGE_START:
                    self.send(Kind.ACK, f.seq)
                elif f.kind == Kind.IMAGE_CHUNK:
                    self.send(Kind.ACK, f.seq, pack_ack([unpack_chunk(f.payload)[0]]))
                elif f.kind == Kind.RUN:
                    self.send(Kind.ACK, f.seq)
                    self.send_safely(self.on_run(f.seq))

    def send_safely(self, data: bytes) -> None:
        try:
            os.write(self.fd, data)
        except OSError:  # the test is over and closed the pty
            self.stop.set()


@pytest.fixture
def link():
    """A pty: (the host's pyserial port, a function starting the device double on the other end)."""
    master, slave = os.openpty()
    port = serial.Serial(os.ttyname(slave), 115200, timeout=0.2)
    os.close(slave)
    devices = []

    def start(on_run, **hello):
        device = DeviceDouble(master, on_run, **hello)
        device.start()
        devices.append(device)
        return Session(port, reply_timeout=0.3, run_timeout=20.0)

    yield start
    for d in devices:
        d.stop.set()
    port.close()
    os.close(master)


IMAGE = np.zeros(INPUT, np.uint8)


def test_hello_reports_clock_status_reset_cause_and_uart_counters(link):
    session = link(lambda seq: b"")
    info = session.hello(2.0)
    assert info.clock_status == "pll" and info.reset in (("pin",),) and info.watchdog_ms == 4000
    assert (info.rx_dropped, info.rx_errors, info.ticks_hz) == (0, 0, 180_000_000)
    assert DeviceInfo.parse(hello_payload(reset="sft+pin")).reset_cause().startswith("a software reset")
    assert DeviceInfo.parse(hello_payload(reset="none")).reset_cause() == "none reported"


def test_a_fault_frame_fails_the_run_at_once_naming_the_layer(link):
    session = link(lambda seq: encode_frame(Frame(Kind.FAULT, 0, fault_payload(layer=1))))
    session.hello(2.0)
    start = time.monotonic()
    with pytest.raises(DeviceFault) as err:
        session.run(IMAGE)
    assert time.monotonic() - start < 2.0  # not the 20 s run timeout, nor a retry
    message = str(err.value)
    assert "\n" not in message and "HardFault in layer rnnpool" in message
    assert "precise data bus error (PRECISERR), at address 0x60000000" in message and "pc=0x08001234" in message


def test_a_fault_with_a_ruined_stack_says_so():
    report = FaultReport.parse(fault_payload(layer=0xFFFF, cfsr=1 << 12, bfar=0, pc=0xFFFFFFFF))
    text = report.describe(LAYERS)
    assert "between layers" in text and "STKERR" in text and "no valid exception frame" in text


def test_a_reboot_mid_run_fails_at_once_with_the_reset_cause(link):
    session = link(lambda seq: banner(), reset="iwdg")  # the reset cause comes from the HELLO after the banner
    session.hello(2.0)
    start = time.monotonic()
    with pytest.raises(DeviceRebooted, match=r"rebooted during RUN; reset cause: the independent watchdog"):
        session.run(IMAGE)
    assert time.monotonic() - start < 2.0


def test_a_late_answer_to_an_own_hello_is_not_a_reboot(link):
    late = encode_frame(Frame(Kind.HELLO_REPLY, 0, b"\0\0\0"))  # seq 0 but not flagged as the banner
    session = link(lambda seq: late + encode_frame(Frame(Kind.RESULT, seq, result_payload())))
    session.hello(2.0)
    assert session.run(IMAGE).total_ticks == 65


def test_a_layer_that_did_work_in_zero_ticks_is_rejected(link):
    session = link(lambda seq: encode_frame(Frame(Kind.RESULT, seq, result_payload(ticks=(10, 0, 30, 5)))))
    session.hello(2.0)
    with pytest.raises(ProtocolError, match=r"dwt counter did not count during layer rnnpool \(64 bytes written in "
                                            r"0 ticks\): a debugger may have stopped the DWT"):
        session.run(IMAGE)


def test_a_timeout_quotes_what_the_device_printed_outside_frames(link):
    printed = []

    def crash(seq: int) -> bytes:  # a firmware that faults prints its line once and stops answering
        printed.append(seq)
        return b"" if len(printed) > 1 else b"\0HARDFAULT pc=0x08001234 cfsr=0x00008200\nEXIT 126\n"

    session = link(crash)
    session.hello(2.0)
    session.run_timeout, session.transport.budget = 0.5, 0.5
    with pytest.raises(TargetTimeout, match=r"the device printed: '(.* )?HARDFAULT pc=0x08001234 cfsr=0x00008200 "
                                            r"EXIT 126'"):
        session.run(IMAGE)


@pytest.mark.parametrize("field, message", [
    ({"chunk": "0"}, r"HELLO_REPLY chunk=0 is outside 1\.\.1020"),
    ({"max_payload": "4"}, r"HELLO_REPLY max-payload=4 is outside 64\.\.4096"),
    ({"max_payload": "6"}, r"HELLO_REPLY max-payload=6 is outside 64\.\.4096"),
    ({"rx": "x"}, r"HELLO_REPLY rx='x' is not a number"),
    ({"input": "240"}, r"HELLO_REPLY input='240': expected HxW"),
    ({"layers": None}, r"HELLO_REPLY has no layers="),
    ({"ticks": "sundial"}, r"HELLO_REPLY ticks='sundial': expected one of tim2, dwt, host"),
])
def test_every_hello_field_is_checked_and_a_bad_one_named(field, message):
    with pytest.raises(ProtocolError, match=message) as err:
        DeviceInfo.parse(hello_payload(**field))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("payload, message", [
    (result_payload(n_cand=2, cand_bytes=30), r"RESULT: 2 candidates in 30 bytes; each takes 14"),
    (struct.pack("<H", 30) + result_record()[:30], r"RESULT record of 30 bytes; 4 layers make 70"),
    (b"\x01", r"RESULT of 1 bytes: expected total u16"),
], ids=["candidates-not-whole", "record-too-short", "no-total"])
def test_a_malformed_result_is_a_protocol_error_naming_the_field(link, payload, message):
    session = link(lambda seq: encode_frame(Frame(Kind.RESULT, seq, payload)))
    session.hello(2.0)
    with pytest.raises(ProtocolError, match=message):
        session.run(IMAGE)


def test_a_run_after_a_lossy_upload_asks_for_its_result_in_pieces():
    # the line has just turned bad: no answer has been lost yet, but a whole RESULT might never get through it
    session = Session(serial.serial_for_url("loop://", timeout=0), image_crc=0x1234)
    whole = struct.unpack("<HIH", session._run_payload(0xFFFF))[2]
    for _ in range(3):
        session.up.outcome(500, lost=True)
    assert whole > 2 and struct.unpack("<HIH", session._run_payload(0xFFFF))[2] == 2


def test_a_banner_taken_for_the_first_hellos_answer_is_not_used_as_one(link):
    # The banner and a first HELLO's answer both carry seq 0. A banner that comes after the host's first HELLO
    # would otherwise give the text's length at boot, and the text has changed since (ticks-now): reading it by
    # that length failed with "read outside the object".
    session = link(lambda seq: encode_frame(Frame(Kind.RESULT, seq, result_payload())), ticks_now="4000000000")
    time.sleep(0.2)  # the double's banner (the text's length without ticks-now) is waiting in the pty
    info = session.hello()
    assert info.ticks_now == 4_000_000_000 and info.caps == ("layer-dump", "fault")
