"""The host side of the serial conversation (docs/protocol.md): handshake, image upload, runs, layer reads, over a
line that may damage, drop, duplicate or stall bytes (harness/protocol/transport.py and window.py say how).

``Session(link)`` works on any pyserial object (a real port, or QEMU's / Renode's socket through ``socket://``).
Every field the device sends is checked; a bad one is a one-line ProtocolError naming the field.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import serial

from harness.errors import DeviceFault, DeviceRebooted, LinkError, ProtocolError, TargetError, TargetTimeout
from harness.model.candidates import CANDIDATE
from harness.protocol import pieces, rowcode, window
from harness.protocol.fault import FaultReport
from harness.protocol.frames import MAX_PAYLOAD, Frame, Kind
from harness.protocol.messages import pack_start
from harness.protocol.spec import PROTOCOL, constant
from harness.protocol.report import LayerReport, RunReport
from harness.protocol.transport import FRAME_OVERHEAD, LinkStats, Sizer, Transport

TICK_COUNTERS = ("tim2", "dwt", "host")  # what the firmware's rp_ticks counts (firmware/runtime/rp_runtime.h)
NO_LAYER = constant("NO_LAYER")
OBJ_INFO, OBJ_RESULT = constant("OBJ_INFO"), constant("OBJ_RESULT")  # what READ reads
CODECS = {"raw": constant("CODEC_RAW"), "rows": constant("CODEC_ROWS")}  # how an upload's stream codes the image
MIN_PIECE, MAX_PIECE = 16, 1000  # payload bytes per frame the sizers choose between (the device takes ≤ 1024)
_RESULT_HEAD = struct.Struct("<iIiIIH")
_RESULT_LAYER = struct.Struct("<IIi")


class _Rebooted(Exception):
    """Internal: a boot banner arrived while ``doing``; the session turns it into DeviceRebooted."""

    def __init__(self, doing: str):
        super().__init__(doing)
        self.doing = doing


# RCC_CSR's reset flags as the firmware names them (firmware/app/device.c), and what each means for a user.
RESET_CAUSES = {"iwdg": "the independent watchdog (a layer hung longer than watchdog_s)",
                "wwdg": "the window watchdog", "sft": "a software reset (SYSRESETREQ: the firmware or a debugger)",
                "pin": "the NRST pin (the reset button, or a debugger)", "por": "power-on (power was lost)",
                "bor": "brown-out (the supply dipped)", "lpwr": "a low-power-management reset"}


@dataclass(frozen=True)
class DeviceInfo:
    """What the firmware says about itself in HELLO_REPLY."""

    protocol: int
    model_id: str
    build_id: str
    board: str
    clock_hz: int
    ticks: str                  # "tim2" (instructions under QEMU -icount), "dwt" (core cycles), "host" (host ns)
    rx_bytes: int
    chunk: int
    max_payload: int
    input_hw: tuple[int, int]
    arena_bytes: int
    layers: tuple[str, ...]
    caps: tuple[str, ...]
    clock_status: str = "?"     # "pll", "pll-no-overdrive", "hse-timeout", … (firmware/runtime/rp_runtime.h)
    reset: tuple[str, ...] = ()  # why the firmware last booted: RCC_CSR flags ("pin", "sft", "iwdg", …); () if none
    watchdog_ms: int = 0
    rx_dropped: int = 0         # bytes the device's UART lost (ring full, overrun) since it booted
    rx_errors: int = 0          # bytes received with framing/noise/parity errors since it booted
    ticks_hz: int = 0
    ticks_now: int = 0          # the tick counter when the reply was made (two replies measure its rate)
    coded_ring: int = 0         # bytes of the device's reorder ring for row-coded uploads (0: it takes raw only)
    streamed: int = 0           # the first layers, which run as a streamed upload's rows arrive (caps "stream")

    @staticmethod
    def parse(text: bytes) -> DeviceInfo:
        """The HELLO_REPLY text → DeviceInfo; a missing or impossible field is a ProtocolError naming it."""
        try:
            kv = dict(item.split("=", 1) for item in text.decode("ascii").split())
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProtocolError(f"unreadable HELLO_REPLY from the firmware ({exc}): {text[:120]!r}") from exc

        def num(key: str, lo: int, hi: int = 2**32 - 1, default: int | None = None) -> int:
            if key not in kv and default is not None:
                return default
            try:
                value = int(kv[key])
            except KeyError:
                raise ProtocolError(f"HELLO_REPLY has no {key}=: the firmware is not this harness's") from None
            except ValueError:
                raise ProtocolError(f"HELLO_REPLY {key}={kv[key]!r} is not a number") from None
            if not lo <= value <= hi:
                raise ProtocolError(f"HELLO_REPLY {key}={value} is outside {lo}..{hi}")
            return value

        def word(key: str) -> str:
            if not kv.get(key):
                raise ProtocolError(f"HELLO_REPLY has no {key}=: the firmware is not this harness's")
            return kv[key]

        max_payload = num("max-payload", 64, MAX_PAYLOAD)
        shape = word("input").split("x")
        if len(shape) != 2 or not all(x.isdigit() and 0 < int(x) <= 4096 for x in shape):
            raise ProtocolError(f"HELLO_REPLY input={kv['input']!r}: expected HxW, each 1..4096")
        ticks = word("ticks")
        if ticks not in TICK_COUNTERS:
            raise ProtocolError(f"HELLO_REPLY ticks={ticks!r}: expected one of {', '.join(TICK_COUNTERS)}")
        reset = kv.get("reset", "none")
        return DeviceInfo(num("protocol", 0, 255), word("model"), word("build-id"), word("board"),
                          num("clock", 1), ticks, num("rx", 64, 1 << 20), num("chunk", 1, max_payload - 4),
                          max_payload, (int(shape[0]), int(shape[1])), num("arena", 0),
                          tuple(word("layers").split(",")), tuple(kv.get("caps", "").split(",")),
                          kv.get("clock-status", "?"), () if reset == "none" else tuple(reset.split("+")),
                          num("watchdog-ms", 0, default=0), num("rx-dropped", 0, default=0),
                          num("rx-errors", 0, default=0), num("ticks-hz", 0, default=0),
                          num("ticks-now", 0, default=0), num("coded-ring", 0, 1 << 20, default=0),
                          num("streamed", 0, 255, default=0))

    def reset_cause(self) -> str:
        """The reset flags in words (``none reported`` where the chip's RCC_CSR is not modelled, as on QEMU)."""
        return "; ".join(RESET_CAUSES.get(r, r) for r in self.reset) if self.reset else "none reported"


@dataclass(frozen=True)
class Upload:
    """What an image's upload took."""

    codec: str           # "raw" or "rows"
    image_bytes: int
    stream_bytes: int    # what went in the chunks
    streamed: bool = False  # the device ran its streamed layers as the rows arrived

    @property
    def ratio(self) -> float:
        return self.image_bytes / self.stream_bytes


@dataclass
class Session:
    link: serial.SerialBase
    reply_timeout: float = 0.5     # the first retransmission timeout, before round trips are measured
    run_timeout: float = 60.0      # one inference (boards.yaml timeouts.inference)
    budget: float = 15.0           # seconds a request may go without an intact answer before the link gives up
    info: DeviceInfo | None = None
    banners: int = 0               # boot banners seen (the firmware announces itself once per boot)
    image_crc: int | None = None   # CRC-32 of the image uploaded last (RUN asks the device to check its copy)
    codec: str = "rows"            # the upload's codec when the device takes it ("raw" always works)
    stream: bool = True            # row-coded uploads run the device's streamed layers as rows arrive, if it can
    last_upload: Upload | None = None
    transport: Transport = field(init=False)
    _doing: str = ""  # the request being answered, for the messages of a fault or a reboot; "" while handshaking

    def __post_init__(self) -> None:
        self.transport = Transport(self.link, self.budget, self.reply_timeout, self._check_alive)
        self.down = Sizer(MIN_PIECE, MAX_PIECE)   # answer pieces, device → host
        self.up = Sizer(MIN_PIECE, MAX_PIECE)     # image chunks, host → device

    @property
    def stats(self) -> LinkStats:
        return self.transport.stats

    def _check_alive(self, frame: Frame) -> None:
        """A FAULT frame, or a boot banner while a request waits for its answer, ends the request at once: waiting
        out its budget would only end in a reset and a retry that hides what happened."""
        if frame.kind == Kind.FAULT:
            layers = self.info.layers if self.info else ()
            report = FaultReport.parse(frame.payload)
            fault = DeviceFault(report.describe(layers))
            fault.report = report  # for callers that know the ELF (harness.dut names the faulting function)
            raise fault
        if frame.kind == Kind.HELLO_REPLY and frame.payload[:1] == b"\x01":
            self.banners += 1
            if self._doing:
                raise _Rebooted(self._doing)

    def flush(self) -> None:
        """Drop everything received and not yet used (before a test: nothing stale may answer its requests)."""
        self.transport.flush()

    def exchange(self, kind: Kind, payload: bytes, want: set[tuple[int, int]], seq: int | None = None,
                 **options) -> Frame:
        """Send one request and wait for its answer (harness.protocol.transport.Transport.exchange)."""
        if kind != Kind.HELLO:
            self._doing = kind.name
        try:
            return self.transport.exchange(kind, payload, want, seq, **options)
        except _Rebooted as reboot:
            raise self._rebooted(reboot.doing) from None

    def _rebooted(self, doing: str) -> DeviceRebooted:
        """The board rebooted during ``doing``: ask it why (best effort) and say so."""
        self._doing = ""
        try:
            cause = self._hello(min(5.0, self.budget)).reset_cause()
        except (TargetError, ProtocolError):
            cause = "unknown (the board did not answer HELLO after its banner)"
        return DeviceRebooted(f"the board rebooted during {doing}; reset cause: {cause}")

    # ---- requests ----------------------------------------------------------------------------------------------

    def hello(self, boot_timeout: float = 20.0) -> DeviceInfo:
        """Wait for the firmware to answer HELLO (repeated with back-off: bytes sent before the firmware enables its
        UART are lost, docs/notes/qemu.md pitfall 4), then read its information in pieces the line lets through."""
        self._doing = ""
        try:
            self.info = self._hello(boot_timeout)
        except TargetTimeout as exc:
            raise TargetTimeout(f"the firmware sent no banner and did not answer HELLO within {boot_timeout:g} s "
                                f"({exc})") from None
        return self.info

    def _sized(self, kind: Kind, build: Callable[[int], bytes], answer: Kind, extra: int,
               budget: float | None = None) -> tuple[Frame, int]:
        """A request whose answer size the host picks (``build(n)`` → payload asking for ``n`` bytes): on every
        resend it is made anew at the size the line bears now, so a damaged big answer is not asked for again."""
        t = self.transport
        budget = t.budget if budget is None else budget
        start = time.monotonic()
        while True:
            n, seq = self.down.size, t.next_seq()
            left = start + budget - time.monotonic()
            try:
                return self.exchange(kind, build(n), {(answer, seq)}, seq,
                                     budget=max(min(2.5 * t.rtt.rto, left), 0.05),
                                     answer_bytes=n + extra + FRAME_OVERHEAD, sizer=self.down), n
            except (TargetTimeout, LinkError):
                t.stats.timeouts += 1
                t.rtt.timed_out()
                self.down.outcome(n + extra + FRAME_OVERHEAD, lost=True)
                if time.monotonic() - start >= budget:
                    raise t.gave_up(kind.name, start) from None

    def _hello(self, budget: float) -> DeviceInfo:
        for _ in range(4):  # the boot banner (seq 0 like a first HELLO's) is not the answer: its total is of a text
            f, _ = self._sized(Kind.HELLO, lambda n: struct.pack("<H", n + 3), Kind.HELLO_REPLY, 3, budget)
            if f.payload[:1] != b"\x01":  # the device has made anew since; a device boots once, so ask again
                break
        else:
            raise ProtocolError("the device answers HELLO with nothing but boot banners: it reboots over and over, or "
                                "its firmware is not this harness's")
        if len(f.payload) < 3:
            raise ProtocolError(f"HELLO_REPLY of {len(f.payload)} bytes: expected flags u8, total u16, text")
        total = struct.unpack_from("<H", f.payload, 1)[0]
        text = self._read_object(OBJ_INFO, total, f.payload[3:], "the HELLO_REPLY text")
        info = DeviceInfo.parse(text)
        if info.protocol != PROTOCOL:
            raise ProtocolError(f"the firmware speaks protocol {info.protocol}; this harness speaks {PROTOCOL}: "
                                f"rebuild and reflash it with this harness")
        return info

    def _read_object(self, which: int, total: int, first: bytes, name: str) -> bytes:
        """An object the device answered in part (``first``): the rest by READ, in pieces sized for the line."""

        def parse(f: Frame) -> tuple[int, bytes]:
            if len(f.payload) < 3 or f.payload[0] != which:
                raise ProtocolError(f"{name}: DATA {f.payload[:3].hex()} is not a piece of object {which}")
            return struct.unpack_from("<H", f.payload, 1)[0], f.payload[3:]

        return self._fetch(total, first, lambda at, n: (Kind.READ, struct.pack("<BHH", which, at, n)), Kind.DATA,
                           parse, 3, name)

    def _fetch(self, *args) -> bytes:
        try:
            return pieces.fetch(self.transport, self.down, *args)
        except _Rebooted as reboot:
            raise self._rebooted(reboot.doing) from None

    def upload(self, image: np.ndarray, progress: Callable[[int, int], None] | None = None,
               stream: bool | None = None) -> int:
        """Put ``image`` into the device's input, row-coded when the device takes it (``codec``), its first layers
        running as the rows arrive when ``stream`` (default: ``self.stream``) and the device can; returns its
        CRC-32 (RUN checks the device's copy against it)."""
        info = self._require_info()
        if image.shape[:2] != info.input_hw:
            raise ProtocolError(f"image is {image.shape[1]}x{image.shape[0]}; the firmware's model takes "
                                f"{info.input_hw[1]}x{info.input_hw[0]}")
        pixels = np.ascontiguousarray(image, np.uint8)
        data = pixels.tobytes()
        coded = self.codec == "rows" and "rows" in info.caps and info.coded_ring > 0
        streamed = bool(coded and (self.stream if stream is None else stream) and "stream" in info.caps
                        and info.streamed > 0)
        codec = CODECS["rows" if coded else "raw"] | (constant("CODEC_STREAM") if streamed else 0)
        wire = rowcode.encode(pixels) if coded else data  # the bytes the chunks carry
        reach = rowcode.reach(wire, info.input_hw[0], info.coded_ring) if coded else None
        self._doing = "the image upload"
        self.up.hi, self.up.lo = info.chunk, min(self.up.lo, info.chunk)
        try:
            seq = self.transport.next_seq()
            self.exchange(Kind.IMAGE_START, pack_start(codec, len(wire)),
                          {(Kind.ACK, seq)}, seq)
            window.upload(self.transport, wire, info.chunk, info.rx_bytes, self.up, progress, reach)
        except _Rebooted as reboot:
            raise self._rebooted(reboot.doing) from None
        self.image_crc = zlib.crc32(data)
        self.last_upload = Upload("rows" if coded else "raw", len(data), len(wire), streamed)
        return self.image_crc

    def run(self, image: np.ndarray, progress: Callable[[int, int], None] | None = None) -> RunReport:
        """Upload ``image``, run the model, fetch the candidates."""
        self.upload(image, progress)
        return self.run_uploaded()

    def run_uploaded(self) -> RunReport:
        """Run the model on the image uploaded last (once: the run overwrites it)."""
        seq = self.transport.next_seq()
        result = self.exchange(Kind.RUN, self._run_payload(NO_LAYER), {(Kind.RESULT, seq)}, seq,
                               patience=self.run_timeout, sizer=self.down,
                               answer_bytes=self.down.size + 2 + FRAME_OVERHEAD)
        return self._report(result)

    def _run_payload(self, dump_layer: int) -> bytes:
        crc = self.image_crc
        if crc is None:
            raise ProtocolError("RUN before any upload: send the image first")
        # on a noisy line the RESULT comes by READ, in pieces; the upload just before says so first when the line
        # has only now turned bad (no answer has been lost yet, and a whole RESULT might never get through)
        clean = self.down.error_rate() == 0 and self.up.error_rate() == 0
        return struct.pack("<HIH", dump_layer, crc, self.down.size + 2 if clean else 2)

    def dump_layer(self, image: np.ndarray, layer: str) -> tuple[bytes, RunReport]:
        """Run ``image`` pausing after ``layer`` and read that layer's whole output (the drill-down)."""
        info = self._require_info()
        if layer not in info.layers:
            raise ProtocolError(f"the firmware has no layer {layer!r} (it has {', '.join(info.layers)})")
        index = info.layers.index(layer)
        self.upload(image, stream=False)  # whole layers: a streamed layer's output is never whole at once
        run_seq = self.transport.next_seq()
        payload = self._run_payload(index)
        ready = self.exchange(Kind.RUN, payload, {(Kind.LAYER_READY, run_seq), (Kind.RESULT, run_seq)}, run_seq,
                              patience=self.run_timeout)
        if ready.kind == Kind.RESULT:
            raise ProtocolError(f"the firmware finished the run without pausing at layer {layer}")
        if len(ready.payload) != 6:
            raise ProtocolError(f"LAYER_READY of {len(ready.payload)} bytes: expected layer u16, bytes u32")
        got_layer, nbytes = struct.unpack("<HI", ready.payload)
        if got_layer != index:
            raise ProtocolError(f"the firmware paused at layer {got_layer}, not {index} ({layer})")
        data = self.read_layer(got_layer, nbytes)
        resume = self.transport.next_seq()
        answer = self.exchange(Kind.RESUME, b"", {(Kind.ACK, resume), (Kind.RESULT, run_seq)}, resume)
        if answer.kind != Kind.RESULT:  # resumed: now the RESULT, resending RUN (answered from the device's copy)
            answer = self.exchange(Kind.RUN, payload, {(Kind.RESULT, run_seq)}, run_seq, send_first=False,
                                   patience=self.run_timeout)
        return data, self._report(answer)

    def read_layer(self, index: int, nbytes: int) -> bytes:
        self._require_info()

        def parse(f: Frame) -> tuple[int, bytes]:
            if len(f.payload) < 6:
                raise ProtocolError(f"LAYER_DATA of {len(f.payload)} bytes: expected layer u16, offset u32, data")
            layer, offset = struct.unpack_from("<HI", f.payload)
            if layer != index:
                raise ProtocolError(f"asked layer {index}, got layer {layer}")
            return offset, f.payload[6:]

        return self._fetch(nbytes, b"", lambda at, n: (Kind.LAYER_REQUEST, struct.pack("<HIH", index, at, n)),
                           Kind.LAYER_DATA, parse, 6, f"layer {index}")

    # ---- helpers -----------------------------------------------------------------------------------------------

    def _require_info(self) -> DeviceInfo:
        if self.info is None:
            self.hello()
        return self.info

    def _report(self, frame: Frame) -> RunReport:
        """RESULT (total u16, the record's first bytes; the rest by READ) → RunReport, every field checked."""
        info = self._require_info()
        if len(frame.payload) < 2:
            raise ProtocolError(f"RESULT of {len(frame.payload)} bytes: expected total u16 and the record")
        total = struct.unpack_from("<H", frame.payload)[0]
        want = _RESULT_HEAD.size + _RESULT_LAYER.size * len(info.layers)
        if total != want:
            raise ProtocolError(f"RESULT record of {total} bytes; {len(info.layers)} layers make {want}")
        p = self._read_object(OBJ_RESULT, total, frame.payload[2:], "the RESULT record")
        status, ticks, n_cand, arena, stack, n_layers = _RESULT_HEAD.unpack_from(p)
        if n_layers != len(info.layers):
            raise ProtocolError(f"RESULT has {n_layers} layers; the firmware announced {len(info.layers)}")
        rows = [_RESULT_LAYER.unpack_from(p, _RESULT_HEAD.size + i * _RESULT_LAYER.size) for i in range(n_layers)]
        layers = tuple(LayerReport(name, crc, t, nbytes) for name, (crc, t, nbytes) in zip(info.layers, rows))
        if any(x.nbytes < 0 for x in layers) and status == 0:
            bad = next(x for x in layers if x.nbytes < 0)
            raise ProtocolError(f"RESULT says layer {bad.name} wrote {bad.nbytes} bytes")
        stopped = [x for x in layers if x.ticks == 0 and x.nbytes > 0] if status == 0 else []
        if stopped:  # a stopped counter would read as an enormous speed-up, and be recorded as one
            raise ProtocolError(f"the firmware's {info.ticks} counter did not count during layer {stopped[0].name} "
                                f"({stopped[0].nbytes} bytes written in 0 ticks"
                                + (f"; {len(stopped) - 1} more layers likewise" if len(stopped) > 1 else "")
                                + "): a debugger may have stopped the DWT (DEMCR = 0); rerun, and close other "
                                "debug sessions")
        cand_bytes = layers[-1].nbytes if status == 0 and n_cand > 0 else 0
        if cand_bytes % CANDIDATE.itemsize or (status == 0 and not 0 <= n_cand * CANDIDATE.itemsize <= cand_bytes):
            raise ProtocolError(f"RESULT: {n_cand} candidates in {cand_bytes} bytes; each takes "
                                f"{CANDIDATE.itemsize}")
        raw = self.read_layer(len(layers) - 1, cand_bytes) if cand_bytes else b""
        candidates = np.frombuffer(raw, dtype=CANDIDATE).copy()
        return RunReport(info.model_id, status, info.build_id, layers, candidates, n_cand, ticks, arena, stack)
