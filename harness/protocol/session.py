"""The host side of the serial conversation (docs/protocol.md): handshake, image upload in acknowledged chunks,
runs, layer reads; every request retransmitted on a NAK, a damaged answer or a timeout.

``Session(link)`` works on any pyserial object (a real port, or QEMU's / Renode's socket through ``socket://``).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import serial

from harness.errors import DeviceFault, DeviceRebooted, ProtocolError, TargetError, TargetTimeout
from harness.model.candidates import CANDIDATE
from harness.protocol.fault import FaultReport
from harness.protocol.frames import MAX_PAYLOAD, Frame, FrameDecoder, Kind, encode_frame
from harness.protocol.report import LayerReport, RunReport

NO_LAYER = 0xFFFF
# Image chunks in flight: each frame is at most half the device's receive ring, so two always fit in it, and the
# device's ACK latency (QEMU polls its sockets only every few ms) overlaps the next chunk's transfer.
WINDOW = 2
_RESULT_HEAD = struct.Struct("<iIiIIH")
_RESULT_LAYER = struct.Struct("<IIi")
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
    ticks: str                  # "tim2" (instructions under QEMU -icount) or "dwt" (core cycles)
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
    boot: bool = False          # this is the unsolicited boot banner, not an answer to HELLO

    @staticmethod
    def parse(payload: bytes) -> DeviceInfo:
        try:
            kv = dict(item.split("=", 1) for item in payload.decode("ascii").split())
            h, w = kv["input"].split("x")
            reset = kv.get("reset", "none")
            return DeviceInfo(int(kv["protocol"]), kv["model"], kv["build-id"], kv["board"], int(kv["clock"]),
                              kv["ticks"], int(kv["rx"]), int(kv["chunk"]), int(kv["max-payload"]), (int(h), int(w)),
                              int(kv["arena"]), tuple(kv["layers"].split(",")), tuple(kv.get("caps", "").split(",")),
                              kv.get("clock-status", "?"), () if reset == "none" else tuple(reset.split("+")),
                              int(kv.get("watchdog-ms", 0)), int(kv.get("rx-dropped", 0)),
                              int(kv.get("rx-errors", 0)), int(kv.get("ticks-hz", 0)), int(kv.get("ticks-now", 0)),
                              kv.get("boot") == "1")
        except (UnicodeDecodeError, ValueError, KeyError) as exc:
            raise ProtocolError(f"unreadable HELLO_REPLY from the firmware ({exc}): {payload[:120]!r}") from exc

    def reset_cause(self) -> str:
        """The reset flags in words (``none reported`` where the chip's RCC_CSR is not modelled, as on QEMU)."""
        return "; ".join(RESET_CAUSES.get(r, r) for r in self.reset) if self.reset else "none reported"


@dataclass
class LinkStats:
    """What the link cost: counted so tests and reports can show the recovery actually happened."""

    frames_sent: int = 0
    retransmits: int = 0
    naks: int = 0              # the device could not decode something we sent
    damaged: int = 0           # we could not decode something the device sent
    timeouts: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0


@dataclass
class Session:
    link: serial.SerialBase
    reply_timeout: float = 1.0     # a chunk's ACK, a layer read, HELLO
    run_timeout: float = 60.0      # one inference (boards.yaml timeouts.inference)
    retries: int = 8
    stats: LinkStats = field(default_factory=LinkStats)
    info: DeviceInfo | None = None
    _decoder: FrameDecoder = field(default_factory=FrameDecoder)
    _seq: int = 0
    _pending: list[Frame] = field(default_factory=list)
    _doing: str = ""  # the request being answered, for the messages of a fault or a reboot; "" while handshaking

    # ---- link --------------------------------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        try:
            self.link.write(data)
        except serial.SerialException as exc:
            raise TargetError(f"the serial link closed while sending: {exc}") from exc
        self.stats.bytes_sent += len(data)

    def _read(self, deadline: float) -> tuple[list[Frame], bool]:
        """Frames that arrived before ``deadline`` (returns at the first arrival) and whether any was damaged."""
        if self._pending:
            frames, self._pending = self._pending, []
            return frames, False
        try:
            self.link.timeout = min(max(deadline - time.monotonic(), 0.0), 0.25)
            data = self.link.read(1)
            if data:
                self.link.timeout = 0
                data += self.link.read(65536)
        except serial.SerialException as exc:
            raise TargetError(f"the serial link closed (the firmware or emulator stopped?): {exc}") from exc
        if not data:
            return [], False
        self.stats.bytes_received += len(data)
        dropped = self._decoder.dropped
        frames = self._decoder.feed(data)
        damaged = self._decoder.dropped - dropped
        self.stats.damaged += damaged
        for f in frames:
            self._check_alive(f)
        return frames, damaged > 0

    def _check_alive(self, frame: Frame) -> None:
        """A FAULT frame, or a boot banner while a request waits for its answer, ends the request at once: waiting
        out its timeout would only end in a reset and a retry that hides what happened."""
        if frame.kind == Kind.FAULT:
            layers = self.info.layers if self.info else ()
            report = FaultReport.parse(frame.payload)
            fault = DeviceFault(report.describe(layers))
            fault.report = report  # for callers that know the ELF (harness.dut names the faulting function)
            raise fault
        if frame.kind == Kind.HELLO_REPLY and self._doing and b" boot=1" in frame.payload:
            booted = DeviceInfo.parse(frame.payload)
            raise DeviceRebooted(f"the board rebooted during {self._doing}; reset cause: {booted.reset_cause()}")

    def flush(self) -> None:
        """Drop everything received and not yet used (before a test: nothing stale may answer its requests)."""
        self.link.reset_input_buffer()
        self._pending.clear()
        self._decoder = FrameDecoder()

    def _next_seq(self) -> int:
        seq, self._seq = self._seq, (self._seq + 1) % 256
        return seq

    def exchange(self, kind: Kind, payload: bytes, want: set[tuple[int, int]], seq: int | None = None,
                 timeout: float | None = None, patience: float = 0.0, send_first: bool = True) -> Frame:
        """Send a request and return the first answer in ``want`` ((kind, seq) pairs). Stale frames (other seqs)
        are ignored; ERROR for this seq raises; an ACK for this seq that is not wanted extends the wait by
        ``patience`` (the device accepted a RUN and is computing). NAKs, damaged frames and timeouts resend."""
        seq = self._next_seq() if seq is None else seq
        if kind != Kind.HELLO:
            self._doing = kind.name
        wire = encode_frame(Frame(int(kind), seq, payload))
        timeout = self.reply_timeout if timeout is None else timeout
        for attempt in range(self.retries + 1):
            if send_first or attempt:
                self._write(wire)
                self.stats.frames_sent += 1
                self.stats.retransmits += attempt > 0
            deadline = time.monotonic() + timeout
            resend = False
            while not resend and time.monotonic() < deadline:
                frames, damaged = self._read(deadline)
                resend = damaged
                for i, f in enumerate(frames):
                    if (f.kind, f.seq) in want:
                        self._pending = frames[i + 1:]
                        return f
                    if f.kind == Kind.NAK:
                        self.stats.naks += 1
                        resend = True
                    elif f.seq == seq and f.kind == Kind.ERROR:
                        raise ProtocolError(f"the firmware refused {kind.name}: "
                                            f"{f.payload.decode(errors='replace')}")
                    elif f.seq == seq and f.kind == Kind.ACK and patience:
                        deadline = max(deadline, time.monotonic() + patience)
            if not resend:
                self.stats.timeouts += 1
        raise TargetTimeout(f"no answer to {kind.name} after {self.retries + 1} tries of {timeout:g} s "
                            f"(sent {self.stats.bytes_sent} B, received {self.stats.bytes_received} B)"
                            + self._stray())

    def _stray(self) -> str:
        text = self._decoder.stray_text
        return f"; the device printed: {text!r}" if text else ""

    # ---- requests ----------------------------------------------------------------------------------------------

    def hello(self, boot_timeout: float = 20.0) -> DeviceInfo:
        """Wait for the firmware: its boot banner or the answer to a HELLO, whichever comes first. HELLO is
        repeated because bytes sent before the firmware enables its UART are lost (qemu notes, pitfall 4)."""
        deadline = time.monotonic() + boot_timeout
        retries, self.retries, self._doing = self.retries, 0, ""
        try:
            while True:
                seq = self._next_seq()
                try:
                    f = self.exchange(Kind.HELLO, b"", {(Kind.HELLO_REPLY, seq), (Kind.HELLO_REPLY, 0)}, seq,
                                      timeout=min(0.5, self.reply_timeout))
                    break
                except TargetTimeout:
                    if time.monotonic() > deadline:
                        raise TargetTimeout(f"the firmware sent no banner and did not answer HELLO within "
                                            f"{boot_timeout:g} s (received {self.stats.bytes_received} B)"
                                            + self._stray()) from None
        finally:
            self.retries = retries
        self.info = DeviceInfo.parse(f.payload)
        if self.info.protocol != 1:
            raise ProtocolError(f"the firmware speaks protocol {self.info.protocol}; this harness speaks 1")
        return self.info

    def upload(self, image: np.ndarray, progress: Callable[[int, int], None] | None = None) -> None:
        info = self._require_info()
        data = np.ascontiguousarray(image, np.uint8).tobytes()
        if image.shape[:2] != info.input_hw:
            raise ProtocolError(f"image is {image.shape[1]}x{image.shape[0]}; the firmware's model takes "
                                f"{info.input_hw[1]}x{info.input_hw[0]}")
        chunks = [(offset, struct.pack("<I", offset) + data[offset:offset + info.chunk])
                  for offset in range(0, len(data), info.chunk)]
        in_flight: dict[int, tuple[int, bytes]] = {}  # seq → chunk, oldest first
        done = 0
        self._doing = "the image upload"
        for i in range(len(chunks) + WINDOW - 1):
            if i < len(chunks):
                seq = self._next_seq()
                in_flight[seq] = chunks[i]
                self._write(encode_frame(Frame(Kind.IMAGE_CHUNK, seq, chunks[i][1])))
                self.stats.frames_sent += 1
            if len(in_flight) == WINDOW or (i >= len(chunks) and in_flight):
                done += self._settle_oldest(in_flight)
                if progress:
                    progress(min(done * info.chunk, len(data)), len(data))

    def _settle_oldest(self, in_flight: dict[int, tuple[int, bytes]]) -> int:
        """Wait for the oldest chunk's ACK (later ACKs settle theirs on the way); on a NAK, damage or timeout,
        resend the unsettled chunks one at a time (stop-and-wait: never more than the ring holds). Returns how many
        chunks settled."""
        oldest, before = next(iter(in_flight)), len(in_flight)
        deadline = time.monotonic() + self.reply_timeout
        trouble = False
        while oldest in in_flight and not trouble and time.monotonic() < deadline:
            frames, trouble = self._read(deadline)
            for f in frames:
                if f.kind == Kind.ACK and f.seq in in_flight:
                    if f.payload != struct.pack("<I", in_flight[f.seq][0]):
                        raise ProtocolError(f"the firmware acknowledged {f.payload!r} for the chunk at "
                                            f"{in_flight[f.seq][0]}")
                    del in_flight[f.seq]
                elif f.kind == Kind.NAK:
                    self.stats.naks += 1
                    trouble = True
                elif f.kind == Kind.ERROR and f.seq in in_flight:
                    raise ProtocolError(f"the firmware refused IMAGE_CHUNK: {f.payload.decode(errors='replace')}")
        if oldest in in_flight:
            self.stats.timeouts += not trouble
            for seq, (_, payload) in list(in_flight.items()):
                self.stats.retransmits += 1  # exchange counts only its own further retries
                self.exchange(Kind.IMAGE_CHUNK, payload, {(Kind.ACK, seq)}, seq)
                del in_flight[seq]
        return before - len(in_flight)

    def run(self, image: np.ndarray, progress: Callable[[int, int], None] | None = None) -> RunReport:
        """Upload ``image``, run the model, fetch the candidates."""
        self.upload(image, progress)
        return self.run_uploaded()

    def run_uploaded(self) -> RunReport:
        """Run the model on the image uploaded last (once: the run overwrites it)."""
        seq = self._next_seq()
        result = self.exchange(Kind.RUN, struct.pack("<H", NO_LAYER), {(Kind.RESULT, seq)}, seq,
                               patience=self.run_timeout)
        return self._report(result)

    def dump_layer(self, image: np.ndarray, layer: str) -> tuple[bytes, RunReport]:
        """Run ``image`` pausing after ``layer`` and read that layer's whole output (the drill-down)."""
        info = self._require_info()
        if layer not in info.layers:
            raise ProtocolError(f"the firmware has no layer {layer!r} (it has {', '.join(info.layers)})")
        index = info.layers.index(layer)
        self.upload(image)
        run_seq = self._next_seq()
        payload = struct.pack("<H", index)
        ready = self.exchange(Kind.RUN, payload, {(Kind.LAYER_READY, run_seq), (Kind.RESULT, run_seq)}, run_seq,
                              patience=self.run_timeout)
        if ready.kind == Kind.RESULT:
            raise ProtocolError(f"the firmware finished the run without pausing at layer {layer}")
        got_layer, nbytes = struct.unpack("<HI", ready.payload)
        data = self.read_layer(got_layer, nbytes)
        resume = self._next_seq()
        answer = self.exchange(Kind.RESUME, b"", {(Kind.ACK, resume), (Kind.RESULT, run_seq)}, resume)
        if answer.kind != Kind.RESULT:  # resumed: now the RESULT, resending RUN (answered from the device's copy)
            answer = self.exchange(Kind.RUN, payload, {(Kind.RESULT, run_seq)}, run_seq, timeout=self.run_timeout,
                                   send_first=False)
        return data, self._report(answer)

    def read_layer(self, index: int, nbytes: int) -> bytes:
        info = self._require_info()
        step = min(info.max_payload, MAX_PAYLOAD) - 6
        out = bytearray()
        while len(out) < nbytes:
            seq, n = self._next_seq(), min(step, nbytes - len(out))
            f = self.exchange(Kind.LAYER_REQUEST, struct.pack("<HIH", index, len(out), n),
                              {(Kind.LAYER_DATA, seq)}, seq)
            layer, offset = struct.unpack_from("<HI", f.payload)
            if layer != index or offset != len(out) or len(f.payload) - 6 != n:
                raise ProtocolError(f"asked layer {index} bytes {len(out)}+{n}, got layer {layer} "
                                    f"bytes {offset}+{len(f.payload) - 6}")
            out += f.payload[6:]
        return bytes(out)

    # ---- helpers -----------------------------------------------------------------------------------------------

    def _require_info(self) -> DeviceInfo:
        if self.info is None:
            self.hello()
        return self.info

    def _report(self, frame: Frame) -> RunReport:
        info = self._require_info()
        p = frame.payload
        try:
            status, total, n_cand, arena, stack, n_layers = _RESULT_HEAD.unpack_from(p)
            rows = [_RESULT_LAYER.unpack_from(p, _RESULT_HEAD.size + i * _RESULT_LAYER.size)
                    for i in range(n_layers)]
        except struct.error as exc:
            raise ProtocolError(f"RESULT frame of {len(p)} bytes is too short: {exc}") from exc
        if n_layers != len(info.layers):
            raise ProtocolError(f"RESULT has {n_layers} layers; the firmware announced {len(info.layers)}")
        layers = tuple(LayerReport(name, crc, ticks, nbytes) for name, (crc, ticks, nbytes) in zip(info.layers, rows))
        stopped = [x for x in layers if x.ticks == 0 and x.nbytes > 0] if status == 0 else []
        if stopped:  # a stopped counter would read as an enormous speed-up, and be recorded as one
            raise ProtocolError(f"the firmware's {info.ticks} counter did not count during layer {stopped[0].name} "
                              f"({stopped[0].nbytes} bytes written in 0 ticks"
                              + (f"; {len(stopped) - 1} more layers likewise" if len(stopped) > 1 else "")
                              + "): a debugger may have stopped the DWT (DEMCR = 0); rerun, and close other "
                              "debug sessions")
        cand_bytes = layers[-1].nbytes if status == 0 and n_cand > 0 else 0
        raw = self.read_layer(len(layers) - 1, cand_bytes) if cand_bytes else b""
        candidates = np.frombuffer(raw, dtype=CANDIDATE).copy()
        return RunReport(info.model_id, status, info.build_id, layers, candidates, n_cand, total, arena, stack)
