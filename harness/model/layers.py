"""Layer kinds, layers and layer names: the one registry every stage of the harness dispatches through.

A *kind* (``LayerKind``) holds everything the harness knows about one sort of layer: float and fixed-point
reference, quantisation, random initialisation, EdgeML import, training block, device step (graph + C emitter),
latency features and the ctypes binding of its C kernel. The built-in kinds are the modules of
harness/model/kinds/, one per kind; ``register`` adds more at run time. A *layer* (``Layer``) is one use of a kind
in a model; ``network`` lists them for an architecture (a block's kind is its ``"kind"``, MBConv by default).
Layer names are built and parsed here only.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, SimpleNamespace

from harness.errors import UsageError

# ---- names ---------------------------------------------------------------------------------------------------

_NAME = re.compile(r"(?P<base>[A-Za-z_][A-Za-z_0-9]*?)(?P<index>\d*)(?:\.(?P<part>[A-Za-z_0-9.]+))?")


@dataclass(frozen=True)
class LayerName:
    """``mb3.expand`` = LayerName("mb", 3, "expand"); ``stem`` = LayerName("stem")."""

    base: str
    index: int | None = None
    part: str | None = None

    def __str__(self) -> str:
        return (self.base + ("" if self.index is None else str(self.index))
                + ("" if self.part is None else "." + self.part))

    @staticmethod
    def parse(text: str) -> LayerName:
        m = _NAME.fullmatch(text)
        if m is None:
            raise ValueError(f"{text!r} is not a layer name")
        return LayerName(m["base"], int(m["index"]) if m["index"] else None, m["part"])


def layer_name(base: str, index: int | None = None, part: str | None = None) -> str:
    return str(LayerName(base, index, part))


def sub(name: str, part: str) -> str:
    """A sub-layer or parameter of ``name``: ``mb0.expand``, ``head1.conf.w``."""
    return f"{name}.{part}"


def qkey(name: str, field_: str) -> str:
    """The model-file key of one of ``name``'s fixed-point parameters: ``q/mb0.expand.mult``."""
    return f"q/{name}.{field_}"


def head_name(j: int, part: str) -> str:
    return layer_name("head", j, part)


def block_kind(block: Mapping) -> str:
    """A block's kind: ``"kind"`` in its description, else MBConv (the face models' only block)."""
    return block.get("kind", "mbconv")


def block_name(cfg: dict, i: int) -> str:
    return layer_name(kind(block_kind(cfg["blocks"][i])).prefix, i)


# ---- kinds -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kernel:
    """A fixed-point primitive a kind's ``fixed`` op calls: the NumPy reference and the same function on the host-built
    C kernel (harness/native/kernels.py), so one schedule runs either (``kernels``)."""

    reference: Callable
    host: Callable


@dataclass(frozen=True)
class DeviceStep:
    """What a kind's ``step`` tells the device graph about one layer (harness/codegen/graph.py)."""

    shape: tuple[int, int, int]
    scratch: int = 0               # bytes of arena scratch
    macs: int = 0                  # multiply-accumulates, as the kernel performs them
    in_place: int | None = None    # the kernel may write its output this many bytes from its input's start
    dtype: str | None = None       # None: the quantised model's dtype for the layer
    spare: int = 0                 # scratch beyond `scratch` that makes the kernel faster: given where it is free


@dataclass(frozen=True)
class RowWindow:
    """The input rows a layer's output row y reads, for row streaming (harness/codegen/rings.py): rows
    y·stride − pad … y·stride − pad + rows − 1, clipped to the input (its padding). ``sink``: the layer reads each
    row of every input once, as it comes, and keeps only its own output (the candidates)."""

    rows: int = 1
    stride: int = 1
    pad: int = 0
    sink: bool = False

    def pixels(self, width: int, unit: str = "pixel") -> int:
        """The input pixels a kernel working in raster order holds at least (harness/codegen/floor.py). Pixel by
        pixel, a line buffer: from the oldest its window still reads to the newest it has read, (rows − 1)·width +
        rows for a square window; row by row, its rows. A sink reads each pixel (row) once, as it comes."""
        if unit == "row":
            return width * (1 if self.sink else self.rows)
        return 1 if self.sink else (self.rows - 1) * width + self.rows

    def needs(self, y: int, height: int) -> tuple[int, int]:
        """The first and last input row output row y reads."""
        first = y * self.stride - self.pad
        return max(first, 0), min(first + self.rows - 1, height - 1)


def _none(*_args):
    return {}


@dataclass(frozen=True)
class LayerKind:
    """One sort of layer; every stage looks its code up here. Each op gets the ``Layer`` and a stage context."""

    name: str                                   # graph step kind, latency calibration key
    step: Callable                              # (layer, GraphCtx) -> DeviceStep
    emit: Callable                              # (emitter, step) -> None, or END's byte count as C text
    features: tuple[str, ...]                   # latency cost features ("1" is the constant)
    work: Callable                              # (step, WorkCtx) -> {feature: value}
    float: Callable | None = None               # (layer, inputs, ctx) -> {name: tensor}, sub-layers first
    fixed: Callable | None = None               # the same in integers; calls primitives through ctx.k
    kernels: Mapping[str, Kernel] = field(default_factory=dict)
    quantize: Callable | None = None            # (layer, QuantCtx): puts the q/ params, may adjust scales/act
    parts: tuple[str, ...] = ()                 # sub-layer outputs the references keep (fused on the device)
    relu6: tuple[str, ...] = ()                 # which outputs are ReLU6 ("" is the layer's own)
    dtype: str = "int8"                         # device type of its outputs
    params: tuple[str, ...] = ()                # parameter groups it reads besides its own name's
    init: Callable | None = None                # (layer, inputs per image, InitCtx) -> outputs; None: float op
    edgeml_keys: Callable = _none               # (layer, cfg) -> {checkpoint key: shape}
    from_edgeml: Callable = _none               # (state dict, layer) -> {float array name: array}
    prefix: str = ""                            # a block kind's name prefix: block i is f"{prefix}{i}"
    shape: Callable | None = None               # a block kind: (block, input HWC) -> output HWC
    torch: Callable | None = None               # a block kind: (block, hard) -> torch.nn.Module (EdgeML tree)
    header: str = ""                            # header declaring its C kernel, when not rp_kernels.h
    rows: Callable | None = None                # (layer) -> RowWindow: the input rows each output row reads
    consumes: Callable | None = None            # (layer) -> groups of inputs, each read (that part of the layer
                                                # run) right after its last member is made, so they die early
    streams: bool = False                       # its emit computes output rows [em.rows) when asked: with a
                                                # ``rows`` window it runs as its input's rows arrive (rp_model_stream)
    carry: Callable | None = None               # (layer, input HWC) -> (RowWindow, width, bytes per pixel): a
                                                # fused kind's window over a tensor it makes inside (floor.py)


_KINDS: dict[str, LayerKind] = {}
_loaded = False


def kinds() -> Mapping[str, LayerKind]:
    """Every registered kind by name. The built-in ones are imported on first use, not with this module: they import
    the references, which import this module."""
    global _loaded
    if not _loaded:
        from harness.model.kinds import BUILTIN

        for mod in BUILTIN:
            k = importlib.import_module(f"harness.model.kinds.{mod}").KIND
            _KINDS.setdefault(k.name, k)
        _loaded = True
    return MappingProxyType(_KINDS)


def kind(name: str) -> LayerKind:
    try:
        return kinds()[name]
    except KeyError:
        raise UsageError(f"unknown layer kind {name!r}; registered: {', '.join(sorted(_KINDS))}") from None


def register(k: LayerKind) -> LayerKind:
    kinds()
    if k.name in _KINDS and _KINDS[k.name] is not k:
        raise UsageError(f"layer kind {k.name!r} is already registered")
    _KINDS[k.name] = k
    return k


def unregister(name: str) -> None:
    _KINDS.pop(name, None)


def kernels(which: str = "reference") -> SimpleNamespace:
    """Every kind's primitives, ``which`` = "reference" (NumPy) or "host" (the C kernels through ctypes)."""
    found: dict[str, Kernel] = {}
    for k in kinds().values():
        for name, kern in k.kernels.items():
            if found.setdefault(name, kern) is not kern:
                raise UsageError(f"kernel {name!r} is declared twice, differently (kind {k.name})")
    return SimpleNamespace(**{n: getattr(kern, which) for n, kern in found.items()})


# ---- layers ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Layer:
    name: str
    kind: str
    inputs: tuple[str, ...]                     # layer names, or "input" (the 8-bit image)
    spec: Mapping = field(default_factory=dict)  # its part of the model description (a block, a head, …)
    index: int | None = None                    # block or head index

    @property
    def outputs(self) -> tuple[str, ...]:
        """The tensors the references produce for it: sub-layers, then its own."""
        return (*(sub(self.name, p) for p in kind(self.kind).parts), self.name)


def network(cfg: dict, device: bool = False) -> tuple[Layer, ...]:
    """The layers of an architecture description (harness/model/archs.py), in the references' order: stem, RNNPool,
    the blocks, then per head its L2Norm and conf/loc convs, then the candidates. ``device=True``: the firmware's
    order, where each head runs right after the block it reads (its buffers die early; every layer is a pure
    function of its inputs, so both orders compute the same values)."""
    blocks, prev = [], "rnnpool"
    for i, blk in enumerate(cfg["blocks"]):
        blocks.append(Layer(block_name(cfg, i), block_kind(blk), (prev,), blk, i))
        prev = blocks[-1].name
    heads = []
    for j, hd in enumerate(cfg["heads"]):
        src, chain = blocks[hd["block"]].name, []
        if hd["l2norm"] is not None:
            chain.append(Layer(layer_name("l2norm", j), "l2norm", (src,), hd, j))
            src = chain[-1].name
        for part, n in (("conf", hd["conf"]), ("loc", 4)):
            chain.append(Layer(head_name(j, part), "conv_s16", (src,), {"part": part, "out": n}, j))
        heads.append(chain)
    out = [Layer("stem", "stem", ("input",), cfg["stem"]), Layer("rnnpool", "rnnpool", ("stem",), cfg["rnnpool"])]
    if device:
        for b in blocks:
            out += [b] + [x for j, hd in enumerate(cfg["heads"]) if hd["block"] == b.index for x in heads[j]]
    else:
        out += blocks + [x for chain in heads for x in chain]
    convs = tuple(x.name for chain in heads for x in chain if x.kind == "conv_s16")
    return (*out, Layer("candidates", "candidates", convs, cfg["detection"]))
