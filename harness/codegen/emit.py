"""C text of a generated model: weights as ``const`` arrays (flash), per-layer parameter structs, the arena offsets
from the planner and ``rp_model_run``, which calls the kernels in the device schedule (``graph.device_graph``).
Each step's C comes from its layer kind's ``emit`` (harness/model/kinds/)."""

from __future__ import annotations

import numpy as np

from harness.codegen.carray import c_array
from harness.codegen.graph import Graph, Step
from harness.codegen.plan import MemoryPlan
from harness.errors import CodegenError
from harness.model.layers import kind, sub
from harness.model.modelfile import Model
from harness.protocol.rowcode import upload_ring

HEADER = "/* generated — do not edit. model {id} ({arch}, {w}x{h}); made by harness codegen {version} */\n"
CODEGEN_VERSION = 1


def row_bytes(t) -> int:
    return t.nbytes // t.shape[0]


def stream_tables(g: Graph) -> dict[str, list[int]]:
    """Per streamed layer, the output rows it computes once n rows of its input are in (n = 0 … the input's
    height). Eager for the last: every row its window allows. A layer that another streamed layer reads computes
    only the rows that one's next ready row needs (the stem 4 rows at a time for RNNPool, not one), so that each
    kernel call, whose setup is paid per call, does a band's worth."""
    streamed = g.streamed()
    eager, lasts = {}, {}
    for s in streamed:
        h_in, h = g.tensors[s.inputs[0]].shape[0], g.tensors[s.output].shape[0]
        window = kind(s.kind).rows(s.layer)
        lasts[s.name] = [window.needs(y, h_in)[1] for y in range(h)]
        eager[s.name] = [sum(last < n for last in lasts[s.name]) for n in range(h_in + 1)]
    tables = dict(eager)
    for s, reader in zip(streamed, streamed[1:]):
        if reader.inputs[0] != s.output:
            continue
        takes = eager[reader.name]
        tables[s.name] = [lasts[reader.name][takes[m] - 1] + 1 if takes[m] else 0 for m in eager[s.name]]
    return tables


def _c(name: str) -> str:
    return name.replace(".", "_").replace("/", "_")


class _Emitter:
    """The C being written and the helpers every kind's ``emit`` uses (harness/model/kinds/)."""

    c_name = staticmethod(_c)

    def __init__(self, model: Model, graph: Graph, mp: MemoryPlan, head_thresholds: list[int]):
        self.m, self.g, self.mp, self.thresholds = model, graph, mp, head_thresholds
        self.cfg, self.a, self.qc = model.config, model.arrays, model.require_quant()
        self.data: list[str] = []   # array and parameter definitions
        self.body: list = []        # statements of rp_model_run, and after each layer a list of parts run then
        self.tails: dict[str, list[str]] = {}  # the parts run after each tensor's layer
        self.index = 0              # the step being emitted
        self.rows = ("0", "out.h")  # a streaming kind's output rows to compute, as C expressions: all of them
                                    # (its call's `out` dims) unless the layer streams

    def arr(self, key: str) -> str:
        name = _c(key)
        self.data.append(c_array(name, np.asarray(self.a["q/" + key])))
        return name

    def weights(self, layer: str, act=None) -> str:
        lo, hi = act if act is not None else self.qc["act"][layer]
        return (f"{{{self.arr(sub(layer, 'w'))}, {self.arr(sub(layer, 'bias'))}, "
                f"{{{self.arr(sub(layer, 'mult'))}, {self.arr(sub(layer, 'shift'))}}}, {lo}, {hi}}}")

    def ptr(self, tensor: str, ctype: str) -> str:
        return f"({ctype} *)(arena + {self.mp.offset(tensor)})"

    def dims(self, tensor: str) -> str:
        h, w, c = self.g.tensors[tensor].shape
        return f"{{{h}, {w}, {c}}}"

    def scratch(self, step: Step) -> str:
        return f"{{arena + {self.mp.offset(sub(step.name, 'scratch'))}, {step.scratch}}}"

    def call(self, step: Step, lines: list[str], call: str, after: str | None = None) -> None:
        """A kernel call of ``step``; ``after`` (a tensor made before the step just ahead of it): the call runs right
        after that tensor's layer instead, timed as part of ``step`` (PAUSE adds its ticks to the step's)."""
        block = "    {\n" + "".join(f"        {ln}\n" for ln in lines) + f"        RUN({call});\n    }}\n"
        if after is None or after == self.g.steps[self.index - 1].output:
            self.body.append(block)
        else:
            self.tails[after].append(f"    /* {step.name}, part */\n    BEGIN({self.index});\n{block}"
                                     f"    PAUSE({self.index});\n")

    def stream(self) -> str:
        """``rp_model_stream``'s body: each streamed layer computes, band after band, the output rows its input's
        rows now allow (tables from its kind's row window, ``stream_tables``), each band timed as a part of the layer
        and fingerprinted. The bands are fixed, however the rows arrive, so every run makes the same kernel calls
        and counts the same instructions."""
        g, mp, body = self.g, self.mp, []
        made_by = {s.output: k for k, s in enumerate(g.streamed())}
        tables = stream_tables(g)
        for k, s in enumerate(g.streamed()):
            src, t = s.inputs[0], g.tensors[s.output]
            h_in, h = g.tensors[src].shape[0], t.shape[0]
            ready, name = tables[s.name], _c(s.name)
            ends = sorted(set(ready) - {0})
            band = [min(e for e in ends if e > first) for first in range(h)]
            self.data.append(f"/* {s.name}: its output rows computable from the first n rows of {src}, and the band "
                             "that starts at each row */\n"
                             f"static const uint16_t {name}_ready[{h_in + 1}] = {{{', '.join(map(str, ready))}}};\n"
                             f"static const uint16_t {name}_band[{h}] = {{{', '.join(map(str, band))}}};\n")
            rows_in = "rows" if src == "input" else f"done[{made_by[src]}]"
            self.index, self.body, self.rows = g.steps.index(s), [], ("first", "end")
            if kind(s.kind).emit(self, s) or self.tails.get(s.output):
                raise CodegenError(f"layer {s.name} cannot stream: its bytes or parts are not whole rows")
            call = "".join("".join(x) for x in self.body)
            base, row = f"arena + {mp.offset(s.output)}", row_bytes(t)
            body.append(f"    while (done[{k}] < {name}_ready[{rows_in}]) {{ /* {s.name} */\n"
                        f"        const int32_t first = done[{k}], end = {name}_band[first];\n"
                        f"        BEGIN({self.index});\n"
                        + "".join(f"    {line}\n" for line in call.splitlines())
                        + f"        done[{k}] = end;\n"
                        f"        ROWS({self.index}, {base} + first * {row}, (end - first) * {row});\n"
                        f"        if (end == {h}) DONE({self.index}, {base}, {t.nbytes});\n"
                        "    }\n")
        self.body, self.rows = [], ("0", "out.h")
        return "".join(body)

    def run(self) -> tuple[str, str]:
        cfg, g, mp = self.cfg, self.g, self.mp
        layers = []
        stream = self.stream()
        n_streamed = len(g.streamed())
        if n_streamed:
            self.body.append("    if (!streamed) {\n        int32_t done[RP_MODEL_N_STREAMED] = {0};\n"
                             f"        RUN(rp_model_stream(arena, {g.tensors['input'].shape[0]}, done, hook, user));\n"
                             "    }\n")
        for idx, s in enumerate(g.steps):
            t = g.tensors[s.output]
            self.index = idx
            elem = "(int32_t)sizeof(rp_candidate)" if t.dtype == "candidate" else str(t.nbytes // int(np.prod(t.shape)))
            layers.append(f'    {{"{s.name}", {t.shape[0]}, {t.shape[1]}, {t.shape[2]}, {elem}, {s.macs}u}},\n')
            if idx < n_streamed:
                continue
            self.body.append(f"    /* {s.name} */\n    BEGIN({idx});\n")
            nbytes = kind(s.kind).emit(self, s) or str(t.nbytes)  # a kind may report fewer bytes than its tensor
            self.body.append(f"    END({idx}, arena + {mp.offset(s.output)}, {nbytes});\n")
            self.body.append(self.tails.setdefault(s.output, []))
        h, w = cfg["input"]["height"], cfg["input"]["width"]
        head = HEADER.format(id=self.m.model_id, arch=cfg["arch"], w=w, h=h, version=CODEGEN_VERSION)
        config_h = (head + "#ifndef RP_MODEL_CONFIG_H\n#define RP_MODEL_CONFIG_H\n\n"
                    f'#define RP_MODEL_ID "{self.m.model_id}"\n#define RP_MODEL_ARENA_BYTES {mp.arena_bytes}\n'
                    f"#define RP_MODEL_N_LAYERS {len(g.steps)}\n#define RP_MODEL_MAX_CANDIDATES {g.max_candidates}\n"
                    "/* the first layers, which run as the image's rows arrive (rp_model_stream); at least 1 */\n"
                    f"#define RP_MODEL_N_STREAMED {max(n_streamed, 1)}\n"
                    "/* the upload's reorder ring, its bitmap, a row of residuals (firmware/protocol/rp_upload.h) */\n"
                    f"#define RP_MODEL_UPLOAD_OFFSET {mp.offset('upload')}\n"
                    f"#define RP_MODEL_UPLOAD_RING {upload_ring(w)}\n"
                    "\n#endif /* RP_MODEL_CONFIG_H */\n")
        headers = dict.fromkeys(kind(s.kind).header for s in g.steps if kind(s.kind).header)
        model_c = (head + '#include "rp_model.h"\n' + "".join(f'#include "{h}"\n' for h in headers)
                   + '#include "model_config.h"\n\n'
                   + "".join(self.data)
                   + f"\nstatic const rp_layer_info layers[{len(layers)}] = {{\n" + "".join(layers) + "};\n\n"
                   f'const rp_model_info rp_model = {{RP_MODEL_ID, {h}, {w}, RP_MODEL_ARENA_BYTES, '
                   f"{mp.offset('input')}, {mp.offset('candidates')}, RP_MODEL_MAX_CANDIDATES, RP_MODEL_N_LAYERS, "
                   f"{n_streamed}, layers}};\n\n"
                   "#define BEGIN(i) if (hook) hook(user, (i), 0, 0, 0)\n"
                   "#define END(i, data, n) if (hook) hook(user, (i), 1, (data), (n))\n"
                   "#define PAUSE(i) if (hook) hook(user, (i), 2, 0, 0)\n"
                   "#define RUN(call) do { const rp_status st_ = (call); if (st_ != RP_OK) return st_; } while (0)\n"
                   "#define ROWS(i, data, n) if (hook) hook(user, (i), 3, (data), (n))\n"
                   "#define DONE(i, data, n) if (hook) hook(user, (i), 4, (data), (n))\n\n"
                   "rp_status rp_model_stream(uint8_t *arena, int32_t rows, int32_t *done, rp_layer_hook hook, "
                   "void *user) {\n"
                   + (stream or "    (void)arena, (void)rows, (void)done, (void)hook, (void)user;\n")
                   + "    return RP_OK;\n}\n\n"
                   "rp_status rp_model_run(uint8_t *arena, int32_t streamed, rp_layer_hook hook, void *user, "
                   "int32_t *n_candidates) {\n"
                   + ("" if n_streamed else "    (void)streamed;\n")
                   + "".join(x if isinstance(x, str) else "".join(x) for x in self.body) + "    return RP_OK;\n}\n")
        return config_h, model_c


def emit(model: Model, graph: Graph, mp: MemoryPlan, head_thresholds: list[int]) -> dict[str, str]:
    """File name → text: ``model_config.h`` and ``model.c``."""
    config_h, model_c = _Emitter(model, graph, mp, head_thresholds).run()
    return {"model_config.h": config_h, "model.c": model_c}
