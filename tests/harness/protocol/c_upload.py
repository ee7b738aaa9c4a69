"""The firmware's upload receiver (firmware/protocol/rp_upload.c and the row decoder, host build) through ctypes:
the device end of the upload for tests that have no emulator."""

import ctypes as C
import functools

from harness.build.host import FIRMWARE, build_host_library
from harness.protocol.rowcode import upload_ring
from harness.protocol.spec import constant

STATUS = {0: "ok", -1: "outside", -2: "beyond-ring", -3: "bad-row"}  # RP_UPLOAD_ of rp_upload.h


class CUploadState(C.Structure):
    _fields_ = [("image", C.c_void_p), ("h", C.c_int32), ("w", C.c_int32), ("ring", C.c_void_p),
                ("ring_bytes", C.c_uint32), ("codec", C.c_int32), ("total", C.c_uint32), ("pos", C.c_uint32),
                ("row", C.c_int32)]


@functools.cache
def library() -> C.CDLL:
    lib = C.CDLL(str(build_host_library(extra=FIRMWARE / "protocol").path))
    lib.rp_upload_start.argtypes = [C.POINTER(CUploadState), C.c_int32, C.c_uint32]
    lib.rp_upload_chunk.argtypes = [C.POINTER(CUploadState), C.c_uint32, C.c_char_p, C.c_int32]
    lib.rp_upload_complete.argtypes = [C.POINTER(CUploadState)]
    return lib


class CUpload:
    """One device's input image and upload scratch (as the arena holds them), driven by the C functions."""

    def __init__(self, h: int, w: int, ring_bytes: int | None = None):
        self.h, self.w = h, w
        self.ring_bytes = ring_bytes or upload_ring(w)
        self._image = C.create_string_buffer(h * w)
        self._scratch = C.create_string_buffer(self.ring_bytes + self.ring_bytes // 8 + w)
        self.state = CUploadState(C.cast(self._image, C.c_void_p), h, w, C.cast(self._scratch, C.c_void_p),
                                  self.ring_bytes, -1, 0, 0, 0)

    def start(self, codec: str, total: int) -> str:
        code = constant("CODEC_ROWS") if codec == "rows" else constant("CODEC_RAW") if codec == "raw" else 99
        return STATUS[library().rp_upload_start(C.byref(self.state), code, total)]

    def chunk(self, offset: int, data: bytes) -> str:
        return STATUS[library().rp_upload_chunk(C.byref(self.state), offset, data, len(data))]

    @property
    def complete(self) -> bool:
        return bool(library().rp_upload_complete(C.byref(self.state)))

    @property
    def image(self) -> bytes:
        return self._image.raw
