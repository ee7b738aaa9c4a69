"""The device firmware on QEMU: images cross the UART (a real unix-socket serial link into USART1's receive
ring), the firmware runs the model and reports every layer's fingerprint, equal to the reference's."""

from pathlib import Path

import cv2

from harness.build.firmware import build_firmware
from harness.compare.selftest import check_report
from harness.model.modelfile import load
from harness.model.synthetic import adversarial_images
from harness.protocol.plain import read_banner, run_image
from harness.targets.qemu import QemuSerial
from tests.harness.targets.needs import EMULATOR

pytestmark = EMULATOR

ROOT = Path(__file__).resolve().parents[3]


def test_images_over_the_uart_are_bit_exact():
    model = load(ROOT / "fixtures" / "models" / "default.npz")
    build = build_firmware(model)  # no image: the device variant
    assert build.info["variant"] == "device" and "-DRP_SEMIHOSTING=0" in build.info["cflags"]
    images = [cv2.imread(str(ROOT / "fixtures" / "scenes" / "scene-009.png"), cv2.IMREAD_GRAYSCALE),
              adversarial_images(240, 320)["noise"]]
    sent = []
    with QemuSerial(build.elf) as link:
        banner = read_banner(link)
        assert banner.model_id == model.model_id and banner.chunk <= banner.rx_ring // 2
        for image in images:  # two in a row: the firmware serves image after image
            report = run_image(link, banner, image, progress=lambda done, total: sent.append(done))
            verdict = check_report(model, build.generated, image, report)
            assert verdict.match, verdict.problems
            assert report.build_id == build.info["build_id"]
    assert sent[-1] == 240 * 320 and len(sent) == 2 * (240 * 320 // banner.chunk)
