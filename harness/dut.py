"""A device under test: one board (emulated or real) running the device firmware of one model, handshaken and
ready to run images. The pytest plugin and ``harness detect`` are thin front ends over this.

    choice = parse_board("qemu-stm32f405")            # or "/dev/ttyACM0", "nucleo-f429zi@/dev/ttyACM0",
                                                       # or "stm32f4-discovery@/dev/ttyUSB0,probe=066DFF…"
    with Dut(choice, model) as dut:                    # build (cached), start or flash, handshake
        report = dut.run(image)                        # RunReport: fingerprints, ticks, candidates, memory
        data = dut.dump_layer(image, "mb1")            # one layer's whole output tensor
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.boards import Board, Timeouts, board, load_boards
from harness.build.firmware import FirmwareBuild, build_firmware
from harness.errors import (ClockError, DeviceFault, DeviceRebooted, LinkError, MismatchError, ProtocolError,
                            TargetError, TargetTimeout, UsageError)
from harness.farm.lease import PREFIX as FARM_PREFIX
from harness.farm.lease import FarmRequest
from harness.model.modelfile import Model
from harness.progress import Progress
from harness.protocol.report import RunReport
from harness.protocol.session import DeviceInfo, Session
from harness.targets import open_target
from harness.targets.base import Target


@dataclass(frozen=True)
class BoardChoice:
    board: Board
    port: str | None = None        # the serial device of a real board
    probe: str | None = None       # its debug probe's unique id, when the port cannot lead to it
    farm: FarmRequest | None = None  # a place in a labgrid farm (harness/farm/lease.py)
    coordinator: str | None = None   # the farm's labgrid coordinator, host:port

    def __str__(self) -> str:
        if self.farm is not None:
            return str(self.farm)
        return f"{self.board.name}@{self.port}" if self.port else self.board.name

    @property
    def probe_id(self) -> str | None:
        """The probe to use: this choice's, else the profile's ``probe:``, else None (found from the port)."""
        return self.probe or self.board.settings.get("probe")

    def with_farm_times(self, lease: float, wait: float) -> BoardChoice:
        """A farm place's lease time and how long to wait for one (harness/farm/lease.py); others unchanged."""
        if self.farm is None:
            return self
        return dataclasses.replace(self, farm=dataclasses.replace(self.farm, lease=lease, wait=wait))

    def with_timeouts(self, boot: float | None = None, inference: float | None = None) -> BoardChoice:
        """The same board with other timeouts (None keeps the profile's)."""
        t = self.board.timeouts
        timeouts = Timeouts(boot or t.boot, inference or t.inference)
        return dataclasses.replace(self, board=dataclasses.replace(self.board, timeouts=timeouts))


def parse_board(spec: str, boards_file: str | Path | None = None, probe: str | None = None,
                coordinator: str | None = None) -> BoardChoice:
    """``NAME`` (boards.yaml), ``NAME@/dev/tty…`` or a bare ``/dev/tty…`` (the board is recognised from its
    probe when boards.yaml has exactly one real board whose name the probe reports). A real board's spec may end in
    ``,probe=ID`` (``pyocd list`` shows the ids) for a port that is not its probe's virtual COM port, such as a
    USB-serial adapter; ``probe`` (``--probe``) does the same for a spec without one. ``labgrid:PLACE`` or
    ``labgrid:TAG=VALUE,…`` is a place in a labgrid farm, found on ``coordinator`` (--lg-coordinator,
    LG_COORDINATOR)."""
    if spec.startswith(FARM_PREFIX):
        from harness.farm.choice import farm_board

        chosen, request, address = farm_board(spec, boards_file, coordinator)
        return BoardChoice(chosen, farm=request, coordinator=address)
    spec, _, options = spec.partition(",")
    probe = _probe_option(spec, options) or probe
    name, _, port = spec.partition("@") if "@" in spec else ("", "", spec) if spec.startswith("/") else (spec, "", "")
    if name:
        chosen = board(name, boards_file)
        if chosen.on_serial_port and not port:
            raise UsageError(f"board {name} is a real board: give its serial port too, e.g. "
                             f"--board={name}@/dev/ttyACM0")
        if not chosen.on_serial_port and (port or probe):
            raise UsageError(f"board {name} is emulated ({chosen.backend}); it takes no serial port or probe")
        return BoardChoice(chosen, port or None, probe)
    return BoardChoice(_board_for_port(port, boards_file, probe), port, probe)


def _probe_option(spec: str, options: str) -> str | None:
    if not options:
        return None
    key, _, value = options.partition("=")
    if key != "probe" or not value.strip() or "," in value:
        raise UsageError(f"--board={spec},{options}: after the port only ,probe=ID is understood "
                         f"(e.g. --board=stm32f4-discovery@/dev/ttyUSB0,probe=066DFF485550755187121723)")
    return value.strip()


def board_of_probe(probe, real: dict[str, Board]) -> Board | None:
    """The profile among ``real`` (boards on a probe) of the board on ``probe``: its ST-LINK's board name
    (``NUCLEO-F429ZI``) or target type, as pyOCD reports them; None if none matches."""
    info = probe.associated_board_info
    for name, b in real.items():
        if info is not None and (info.name.lower() == name or info.target == b.settings["pyocd_target"]):
            return b
    return None


def _board_for_port(port: str, boards_file, probe_id: str | None = None) -> Board:
    """The boards.yaml profile of the board behind ``port``: its ST-LINK's board name (``NUCLEO-F429ZI``) or
    target type, as pyOCD reports them for the probe with the port's USB serial number (or ``probe_id``)."""
    from harness.targets.pyocd_target import probe_for

    real = {n: b for n, b in load_boards(boards_file).items() if b.on_serial_port}
    probe = probe_for(port, probe_id)
    found = board_of_probe(probe, real)
    if found is not None:
        return found
    info = probe.associated_board_info
    said = f"{info.name} ({info.target})" if info is not None else "no board name"
    raise UsageError(f"the probe on {port} reports {said}, which matches no board in boards.yaml; name it: "
                     f"--board=<name>@{port} (one of: {', '.join(real)})")


@dataclass
class Dut:
    choice: BoardChoice
    model: Model
    dsp: bool = True
    baud: int | None = None
    codec: str = "rows"                 # how images cross the link (harness.protocol.session.CODECS)
    stream: bool = True                 # the firmware's first layers run as the rows arrive, where it can
    progress: Progress = field(default_factory=lambda: Progress(quiet=True))
    target_options: dict = field(default_factory=dict)
    allow_clock_fallback: bool = False  # run on a board whose clock is not its profile's (recorded apart)
    defines: tuple[str, ...] = ()       # extra firmware build settings (test variants)
    link_filter: Callable | None = None  # wraps the target's link (harness.targets.faulty_link: a bad cable)
    link_budget: float = 15.0           # seconds a request may go without an intact answer (then a clear error)
    timing: dict = field(default_factory=dict)  # the last run's wall time: upload_s, inference_s; streamed
    build: FirmwareBuild | None = None
    target: Target | None = None
    session: Session | None = None

    @property
    def board(self) -> Board:
        return self.choice.board

    @property
    def info(self) -> DeviceInfo:
        return self.session.info

    def start(self) -> Dut:
        from harness.preflight import preflight

        preflight(self.choice, self.target_options)  # emulator on PATH, port a terminal, pack present: before the build
        self.build_firmware()
        try:
            self.start_target()
            self._handshake()
        except BaseException:
            self.close()
            raise
        return self

    def build_firmware(self) -> FirmwareBuild:
        board_ = self.board
        self.progress.say(f"building the device firmware for {board_.name} (model {self.model.model_id})…")
        self.build = build_firmware(self.model, board_.name, "device", dsp=self.dsp, baud=self.baud,
                                    defines=self.defines)
        if self.build.cached:
            self.progress.say(f"  cached: {self.build.directory.name}")
        return self.build

    def start_target(self) -> Target:
        """Start the emulator on the build, or flash the board (skipped when its build id is there) and reset it."""
        board_ = self.board
        opts = dict(self.target_options)
        if self.choice.farm is not None:
            opts.update(farm=self.choice.farm, coordinator=self.choice.coordinator, say=self.progress.warn)
        if board_.on_serial_port:
            opts.setdefault("progress", lambda fraction: self.progress.fraction("flashing", fraction, 1.0))
            if self.choice.probe_id:
                opts.setdefault("probe_id", self.choice.probe_id)
            if self.baud:
                board_ = dataclasses.replace(board_, settings={**board_.settings, "baud": self.baud})
        self.target = open_target(board_, self.choice.port, **opts)
        self.progress.say(f"starting {self.target.describe()}…")
        self.target.load(self.build.elf, self.build.info["build_id"])
        return self.target

    def check_target(self) -> None:
        """FarmError if the board is no longer this session's (a farm place lost mid-session); else nothing."""
        if self.target is not None:
            self.target.check()

    def _handshake(self) -> None:
        link = self.link_filter(self.target.link) if self.link_filter else self.target.link
        self.session = Session(link, run_timeout=self.board.timeouts.inference, budget=self.link_budget,
                               codec=self.codec, stream=self.stream)
        info = self.session.hello(self.board.timeouts.boot)
        want = (self.model.model_id, self.build.info["build_id"])
        if (info.model_id, info.build_id) != want:
            raise MismatchError(f"{self.choice} runs model {info.model_id} build {info.build_id[:12]}, but the host "
                                f"built model {want[0]} build {want[1][:12]}: reflash, or check --board and --model")
        problem = clock_problem(self.board, info)
        if problem and not self.allow_clock_fallback:
            raise ClockError(f"{self.choice}: {problem}; check the board's HSE (boards.yaml hse: "
                             f"{self.board.hse.mode}, {self.board.hse.hz / 1e6:g} MHz) and supply, or pass "
                             f"--allow-clock-fallback to run anyway (its runs are recorded apart and never gated)")

    @property
    def clock_fallback(self) -> bool:
        """The board runs, by the user's leave, at another clock than its profile's."""
        return bool(self.session and self.session.info and clock_problem(self.board, self.session.info))

    def resync(self) -> None:
        """Before each test: nothing stale in the link, and the firmware answering (reset once if it is not)."""
        self.session.flush()
        try:
            self.session.hello(min(self.board.timeouts.boot, 5.0))
        except LinkError as exc:  # alive, behind a noisy line: a reset would not help
            raise LinkError(f"{self.choice}: {exc}") from exc
        except (TargetTimeout, TargetError):
            self._reset("did not answer HELLO")

    def _reset(self, why: str) -> None:
        self.progress.say(f"{self.choice}: the firmware {why}; resetting it once")
        self.target.reset()
        self._handshake()

    def run(self, image: np.ndarray) -> RunReport:
        """One inference. A silent firmware gets one reset and one retry, then the failure says which; a noisy line
        (bytes arrive, none intact) is reported as such, without a reset that would not help."""
        try:
            return self._timed_run(image)
        except (DeviceFault, DeviceRebooted) as exc:  # the firmware said what happened: a retry would hide it
            raise type(exc)(f"{self.choice}: {exc}{self._fault_site(exc)}") from exc
        except LinkError as exc:
            raise LinkError(f"{self.choice}: {exc}") from exc
        except (TargetTimeout, TargetError) as first:
            try:
                self._reset(f"stopped answering ({first})")
                return self._timed_run(image)
            except (TargetTimeout, TargetError) as exc:
                raise TargetTimeout(f"{self.choice}: the firmware hung again after a reset and retry: {exc}") from exc

    def _timed_run(self, image: np.ndarray) -> RunReport:
        start = time.monotonic()
        self.session.upload(image, self.progress.bytes_callback("uploading image"))
        uploaded = time.monotonic()
        self.progress.say("running the model on the device…")
        report = self.session.run_uploaded()
        # streamed: the first layers ran during the upload, and inference_s is what ran after its last row
        self.timing = {"upload_s": round(uploaded - start, 3), "inference_s": round(time.monotonic() - uploaded, 3),
                       "streamed": bool(self.session.last_upload and self.session.last_upload.streamed)}
        return report

    def _fault_site(self, exc: Exception) -> str:
        """``; pc is in rp_conv2d_s8 (rp_conv2d_s8.c:120)`` for a fault, from the build's ELF."""
        from harness.protocol.fault import locate

        report = getattr(exc, "report", None)
        site = locate(self.build.elf, report.pc) if report is not None and self.build else ""
        return f"; pc is in {site}" if site else ""

    def latency(self, report: RunReport) -> dict:
        """``unit`` (instructions on emulators, cycles or timer ticks on boards), ``total``, ``layers``; ``ms`` where
        the ticks are time (a board's cycles or timer ticks, at the rate the firmware reports)."""
        unit = self.board.tick_unit
        out = {"unit": unit, "total": report.total_ticks, "layers": {x.name: x.ticks for x in report.layers}}
        if unit != "instructions":
            rate = self.info.ticks_hz or self.info.clock_hz
            out["ms"] = round(1000.0 * report.total_ticks / rate, 3)
        return out

    def dump_layer(self, image: np.ndarray, layer: str) -> bytes:
        if "layer-dump" not in self.info.caps:
            raise ProtocolError(f"the firmware on {self.choice} cannot dump layers")
        return self.session.dump_layer(image, layer)[0]

    def close(self) -> None:
        if self.target is not None:
            self.target.close()
            self.target = None

    def __enter__(self) -> Dut:
        return self.start() if self.target is None else self

    def __exit__(self, *exc) -> None:
        self.close()


def clock_problem(board_: Board, info: DeviceInfo) -> str:
    """What differs between the clock the firmware reports and the board's profile ("" when nothing does, or when
    the backend does not model the clock tree: QEMU)."""
    if not board_.models_clock or (info.clock_status, info.clock_hz) == ("pll", board_.clock_hz):
        return ""
    return (f"runs at {info.clock_hz / 1e6:g} MHz (clock status {info.clock_status}), but boards.yaml says "
            f"{board_.clock_hz / 1e6:g} MHz (pll)")


def worker_index() -> int:
    """The pytest-xdist worker number (gw3 → 3); 0 outside xdist."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name[2:]) if name[2:].isdigit() else 0


def device_measure(choice: BoardChoice, dsp: bool = True, progress: Progress | None = None, **dut_options):
    """A latency ``Measure`` (harness.latency) for any board: each model's device firmware is built,
    started or flashed, and run on the image over the serial protocol; per-layer ticks come back. ``dut_options``
    go to every ``Dut`` (baud, target_options, allow_clock_fallback)."""
    def measure(model: Model, image: np.ndarray) -> dict[str, int]:
        with Dut(choice, model, dsp=dsp, progress=progress or Progress(quiet=True), **dut_options) as dut:
            return {layer.name: layer.ticks for layer in dut.run(image).layers}

    return measure
