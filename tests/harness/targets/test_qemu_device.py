"""The device firmware on QEMU over the framed protocol (docs/protocol.md): the handshake, images crossing a real
socket into USART1's receive ring, results bit-exact with the reference, a layer's whole tensor on request,
refusals, and recovery from corrupted and dropped bytes in both directions."""

import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.boards import board
from harness.build.firmware import build_firmware
from harness.compare.selftest import check_report
from harness.errors import ProtocolError
from harness.model.fixed_ref import run_fixed
from harness.model.modelfile import load
from harness.model.synthetic import adversarial_images
from harness.protocol.frames import Frame, Kind, encode_frame
from harness.protocol.session import Session
from harness.targets.qemu import QemuTarget
from tests.harness.targets.needs import EMULATOR

pytestmark = EMULATOR

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
    with QemuTarget(board("qemu-stm32f405")) as target:
        target.load(build.elf, build.info["build_id"])
        yield target


def scene() -> np.ndarray:
    return cv2.imread(str(SCENE), cv2.IMREAD_GRAYSCALE)


def test_handshake_says_what_runs(target, build, model):
    info = Session(target.link).hello()
    assert (info.model_id, info.build_id, info.board) == (model.model_id, build.info["build_id"], "qemu-stm32f405")
    assert info.layers == tuple(s.name for s in build.generated.graph.steps)
    assert info.ticks == "tim2" and info.input_hw == (240, 320) and info.arena_bytes == build.info["arena_bytes"]
    # a chunk's whole frame (offset, data, header, CRC, stuffing, delimiters) fits half the receive ring
    assert len(encode_frame(Frame(Kind.IMAGE_CHUNK, 0, bytes(4 + info.chunk)))) <= info.rx_bytes // 2


def test_images_over_the_uart_are_bit_exact(target, build, model):
    session, sent = Session(target.link), []
    session.hello()
    for image in (scene(), adversarial_images(240, 320)["noise"]):  # image after image on one boot
        report = session.run(image, progress=lambda done, total: sent.append(done))
        verdict = check_report(model, build.generated, image, report)
        assert verdict.match, verdict.problems
    assert sent[-1] == 240 * 320 and session.stats.retransmits == 0


def test_a_layers_whole_tensor_on_request(target, build, model):
    session = Session(target.link)
    image = scene()
    data, report = session.dump_layer(image, "mb1")
    want = run_fixed(model, image).layers["mb1"]
    assert np.array_equal(np.frombuffer(data, want.dtype).reshape(want.shape), want)
    assert check_report(model, build.generated, image, report).match  # the paused run still finishes right


def test_refusals_are_errors_not_hangs(target):
    session = Session(target.link)
    session.hello()
    with pytest.raises(ProtocolError, match="no image"):
        session.exchange(Kind.RUN, b"\xff\xff", set())
    with pytest.raises(ProtocolError, match="not readable"):
        session.read_layer(3, 16)
    with pytest.raises(ProtocolError, match="outside the input image"):
        session.exchange(Kind.IMAGE_CHUNK, (240 * 320).to_bytes(4, "little") + b"x", set())


class LossyLink:
    """Between the host and the emulator: corrupts and drops bytes in both directions (seeded, so reproducible)."""

    def __init__(self, link, seed: int, rate: float):
        self.link, self.rng, self.rate = link, random.Random(seed), rate
        self.damaged = 0

    def _spoil(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            r = self.rng.random()
            if r < self.rate / 2:
                self.damaged += 1                   # dropped
            elif r < self.rate:
                out.append(b ^ (1 << self.rng.randrange(8)))
                self.damaged += 1                   # corrupted
            else:
                out.append(b)
        return bytes(out)

    def write(self, data: bytes) -> int:
        return self.link.write(self._spoil(data))

    def read(self, n: int) -> bytes:
        return self._spoil(self.link.read(n))

    @property
    def timeout(self):
        return self.link.timeout

    @timeout.setter
    def timeout(self, value):
        self.link.timeout = value


def test_corrupted_and_dropped_bytes_still_give_correct_results(target, build, model):
    lossy = LossyLink(target.link, seed=5, rate=2e-4)  # ~16 damaged bytes per image upload
    session = Session(lossy, reply_timeout=0.3, retries=20)
    image = scene()
    report = session.run(image)
    verdict = check_report(model, build.generated, image, report)
    assert verdict.match, verdict.problems
    assert lossy.damaged >= 5 and session.stats.retransmits >= 5, (lossy.damaged, session.stats)
    assert session.stats.naks + session.stats.damaged + session.stats.timeouts >= 5
