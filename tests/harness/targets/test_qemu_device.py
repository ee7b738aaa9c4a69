"""The device firmware over the framed protocol, on the host board for what every board does alike and on QEMU
for what only the M4 shows (docs/protocol.md): the handshake, images crossing a real
socket into USART1's receive ring, results bit-exact with the reference, a layer's whole tensor on request,
refusals, recovery from damaged bytes in both directions (harness/targets/faulty_link.py), instruction counts that
bytes arriving mid-run cannot change, and NAKs that garbage cannot multiply."""

import os
import struct
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.boards import board
from harness.build.firmware import build_firmware
from harness.compare.selftest import check_report
from harness.errors import LinkError, ProtocolError
from harness.model.fixed_ref import run_fixed
from harness.model.modelfile import load
from harness.model.synthetic import adversarial_images
from harness.protocol.frames import Frame, FrameDecoder, Kind, encode_frame
from harness.protocol.messages import OFFSET_BYTES, pack_chunk, pack_start
from harness.protocol.session import Session
from harness.targets.faulty_link import FaultyLink, parse_faults
from harness.targets.host import HostTarget
from harness.targets.qemu import QemuTarget
from tests.harness.targets.needs import needs_emulator

ROOT = Path(__file__).resolve().parents[3]
SCENE = ROOT / "fixtures" / "scenes" / "scene-009.png"


@pytest.fixture(scope="module")
def model():
    return load(ROOT / "fixtures" / "models" / "default.npz")


@pytest.fixture(scope="module")
def build(model):
    build = build_firmware(model)  # no image: the device variant
    assert build.info["variant"] == "device" and "-DRP_SEMIHOSTING=0" in build.info["cflags"]
    return build


@pytest.fixture
def target(build):
    """QEMU: for what only the M4 shows (instruction counts that bytes on the line cannot change, TIM2's rate)."""
    with QemuTarget(board("qemu-stm32f405")) as target:
        target.load(build.elf, build.info["build_id"])
        yield target


@pytest.fixture(scope="module")
def host_build(model):
    return build_firmware(model, "host")


@pytest.fixture
def host(host_build):
    """The host board: the same application and protocol code, for what every board does alike."""
    with HostTarget(board("host")) as target:
        target.load(host_build.elf, host_build.info["build_id"])
        yield target


def scene() -> np.ndarray:
    return cv2.imread(str(SCENE), cv2.IMREAD_GRAYSCALE)


@needs_emulator
def test_handshake_says_what_runs(target, build, model):
    info = Session(target.link).hello()
    assert (info.model_id, info.build_id, info.board) == (model.model_id, build.info["build_id"], "qemu-stm32f405")
    assert info.layers == tuple(s.name for s in build.generated.graph.steps)
    assert info.ticks == "tim2" and info.input_hw == (240, 320) and info.arena_bytes == build.info["arena_bytes"]
    # a chunk's whole frame (offset, data, header, CRC, stuffing, delimiters) fits half the receive ring
    assert len(encode_frame(Frame(Kind.IMAGE_CHUNK, 0, bytes(OFFSET_BYTES + info.chunk)))) <= info.rx_bytes // 2


def cpu_seconds(pid: int) -> float:
    """User plus system time a process has used (proc(5): fields 14 and 15 of /proc/<pid>/stat, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@needs_emulator
def test_waiting_for_the_host_the_board_sleeps_instead_of_spinning_a_core(target):
    """The firmware sleeps (WFI) while no byte is due, so an idle QEMU leaves the core to the host's Python (two
    workers, two emulators, two cores: a spinning wait made every device test twice as slow)."""
    Session(target.link).hello()
    before, start = cpu_seconds(target.proc.pid), time.monotonic()
    time.sleep(2.0)
    used = cpu_seconds(target.proc.pid) - before
    assert used < 0.25 * (time.monotonic() - start), f"QEMU used {used:.2f} s of CPU in 2 s of waiting"
    assert Session(target.link).hello().board == "qemu-stm32f405"  # a byte still wakes it


def test_images_over_the_uart_are_bit_exact(host, host_build, model):
    session, sent = Session(host.link), []
    session.hello()
    for image in (scene(), adversarial_images(240, 320)["noise"]):  # image after image on one boot
        report = session.run(image, progress=lambda done, total: sent.append(done))
        verdict = check_report(model, host_build.generated, image, report)
        assert verdict.match, verdict.problems
    # the noise goes row-coded with every row raw: its pixels and a header per row
    assert sent[-1] == session.last_upload.stream_bytes == 240 * (320 + 2)
    assert session.stats.retransmits <= session.stats.frames_sent // 100  # a hiccup at most


def test_a_layers_whole_tensor_on_request(host, host_build, model):
    session = Session(host.link)
    image = scene()
    for layer in ("mb1", "stem", "rnnpool"):  # the streamed layers too: a dump's upload does not stream
        data, report = session.dump_layer(image, layer)
        want = run_fixed(model, image).layers[layer]
        assert np.array_equal(np.frombuffer(data, want.dtype).reshape(want.shape), want), layer
        assert check_report(model, host_build.generated, image, report).match  # the paused run finishes right
        assert not session.last_upload.streamed


@needs_emulator
def test_a_streamed_upload_runs_the_same_kernels_as_the_layers_one_by_one(target, build, model):
    """The stem and RNNPool run while the rows arrive: every fingerprint and every layer's instruction count is
    the unstreamed run's (fixed bands, whatever the chunks), and a streamed layer cannot then be dumped."""
    session = Session(target.link)
    info = session.hello()
    assert "stream" in info.caps and info.layers[:info.streamed] == ("stem", "rnnpool")
    image = scene()
    streamed = session.run(image)
    assert session.last_upload.streamed
    assert check_report(model, build.generated, image, streamed).match
    session.stream = False
    whole = session.run(image)
    assert not session.last_upload.streamed
    assert streamed.layers == whole.layers and streamed.total_ticks == whole.total_ticks
    session.stream = True
    session.upload(image)
    seq = session.transport.next_seq()
    with pytest.raises(ProtocolError, match="ran while the image streamed in"):
        session.exchange(Kind.RUN, session._run_payload(1), {(Kind.RESULT, seq)}, seq)


def test_refusals_are_errors_not_hangs(host):
    session = Session(host.link)
    session.hello()
    with pytest.raises(ProtocolError, match="no image"):
        session.exchange(Kind.RUN, struct.pack("<HIH", 0xFFFF, 0, 2), set())
    with pytest.raises(ProtocolError, match="expected dump_layer u16, image_crc u32, max_answer u16"):
        session.exchange(Kind.RUN, b"\xff\xff", set())  # protocol 1's RUN
    with pytest.raises(ProtocolError, match="not readable"):
        session.read_layer(3, 16)
    with pytest.raises(ProtocolError, match="image chunk before IMAGE_START"):
        session.exchange(Kind.IMAGE_CHUNK, pack_chunk(0, b"x"), set())
    with pytest.raises(ProtocolError, match=r"expected codec u8 \(0 raw, 1 rows; \+ 0x80 streamed: rows only\)"):
        session.exchange(Kind.IMAGE_START, pack_start(0, 240 * 320 - 1), set())

    def acked(kind: Kind, payload: bytes) -> None:
        seq = session.transport.next_seq()
        session.exchange(kind, payload, {(Kind.ACK, seq)}, seq)

    with pytest.raises(ProtocolError, match=r"\+ 0x80 streamed: rows only"):  # a raw upload cannot stream
        session.exchange(Kind.IMAGE_START, pack_start(0x80, 240 * 320), set())
    acked(Kind.IMAGE_START, pack_start(0, 240 * 320))
    with pytest.raises(ProtocolError, match="outside the upload's stream"):
        session.exchange(Kind.IMAGE_CHUNK, pack_chunk(240 * 320, b"x"), set())
    acked(Kind.IMAGE_START, pack_start(1, 240 * 2))  # every row two header bytes: an empty body
    with pytest.raises(ProtocolError, match="a malformed coded row"):
        session.exchange(Kind.IMAGE_CHUNK, pack_chunk(0, bytes(2)), set())
    acked(Kind.IMAGE_START, pack_start(1, 50_000))
    with pytest.raises(ProtocolError, match="beyond the coded ring"):
        session.exchange(Kind.IMAGE_CHUNK, pack_chunk(session.info.coded_ring, b"x"), set())
    acked(Kind.IMAGE_START, pack_start(1, 50_000))
    acked(Kind.IMAGE_CHUNK, pack_chunk(0, b"\x00"))
    with pytest.raises(ProtocolError, match="image incomplete"):
        session.exchange(Kind.RUN, struct.pack("<HIH", 0xFFFF, 0, 2), set())


@needs_emulator
def test_a_link_damaged_both_ways_still_gives_exact_results_and_counts(target, build, model):
    clean_session = Session(target.link)
    image = scene()
    clean = clean_session.run(image)
    faulty = FaultyLink(target.link, parse_faults("flip:2e-3,drop:1e-3,garbage:1e-3"), seed=5)
    session = Session(faulty)
    report = session.run(image)
    verdict = check_report(model, build.generated, image, report)
    assert verdict.match, verdict.problems
    assert report.layers == clean.layers  # fingerprints and instruction counts: bytes resent during a run add none
    injected = faulty.counts
    assert sum(injected["to-device"].values()) >= 50 and sum(injected["from-device"].values()) >= 2, injected
    # NAKs wait for a quiet line (firmware/app/device.c), so in a stream of chunks most losses are told by the next
    # ACK instead: a few NAKs, their number depending on timing (3 to 6 in runs here)
    assert session.stats.retransmits >= 20 and session.stats.naks >= 1, session.stats


@needs_emulator
def test_bytes_arriving_while_layers_are_timed_do_not_change_their_counts(target):
    session = Session(target.link)
    image = scene()
    clean = session.run(image)
    session.upload(image)
    seq = session.transport.next_seq()
    run = encode_frame(Frame(Kind.RUN, seq, session._run_payload(0xFFFF)))
    noise = encode_frame(Frame(Kind.HELLO, 250, b"\x10\x00")) + b"\x00\x01garbage\x00"
    target.link.write(run + noise * 40)  # RUN, then frames and garbage that land during the inference
    result = session.exchange(Kind.RUN, b"", {(Kind.RESULT, seq)}, seq, send_first=False, patience=30.0)
    assert session._report(result).layers == clean.layers


def test_garbage_cannot_make_the_device_flood_the_link_with_naks(host):
    session = Session(host.link)
    session.hello()

    def naks_after_garbage() -> list[Frame]:
        session.flush()
        host.link.write(bytes([0x00, 0x07, 0x01, 0x02]) * 500)  # 500 damaged packets, no intact frame between
        time.sleep(1.0)
        host.link.timeout = 0.5
        return [f for f in FrameDecoder().feed(host.link.read(65536)) if f.kind == Kind.NAK]

    first = naks_after_garbage()
    # one NAK at once, then at most one per 100 ms of the device's tick counter (on QEMU TIM2 runs at the
    # instruction rate, above its nominal 84 MHz, so a few more; here host time): far fewer than the 500 damaged
    # packets
    assert 1 <= len(first) <= 50 and first[0].seq == session.transport._seq - 1  # the last intact frame's seq
    session.hello()  # an intact frame re-arms the NAK
    again = naks_after_garbage()
    assert 1 <= len(again) <= 50 and struct.unpack("<I", again[-1].payload)[0] >= 501  # every drop counted


def test_a_line_too_noisy_for_any_answer_is_a_link_error_not_a_hang(host):
    session = Session(host.link)
    session.hello()
    noisy = Session(FaultyLink(host.link, parse_faults("flip:0.3"), seed=1, directions=("from-device",)),
                    budget=3.0)
    noisy.info = session.info
    start = time.monotonic()
    with pytest.raises(LinkError, match=r"no intact answer to IMAGE_CHUNK in 3\.\d s although the device is "
                                        r"sending: the line is too noisy \(\d+ damaged frames received"):
        noisy.upload(scene())
    assert time.monotonic() - start < 6.0
