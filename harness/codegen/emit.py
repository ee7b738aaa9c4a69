"""C text of a generated model: weights as ``const`` arrays (flash), per-layer parameter structs, the arena offsets
from the planner and ``rp_model_run``, which calls the kernels in the device schedule (``graph.device_graph``)."""

from __future__ import annotations

import numpy as np

from harness.codegen.carray import c_array
from harness.codegen.graph import Graph, Step
from harness.codegen.plan import MemoryPlan
from harness.model.modelfile import Model

HEADER = "/* generated — do not edit. model {id} ({arch}, {w}x{h}); made by harness codegen {version} */\n"
CODEGEN_VERSION = 1


def _c(name: str) -> str:
    return name.replace(".", "_").replace("/", "_")


class _Emitter:
    def __init__(self, model: Model, graph: Graph, mp: MemoryPlan, head_thresholds: list[int]):
        self.m, self.g, self.mp, self.thresholds = model, graph, mp, head_thresholds
        self.cfg, self.a, self.qc = model.config, model.arrays, model.require_quant()
        self.data: list[str] = []   # array and parameter definitions
        self.body: list[str] = []   # statements of rp_model_run

    def arr(self, key: str) -> str:
        name = _c(key)
        self.data.append(c_array(name, np.asarray(self.a[f"q/{key}"])))
        return name

    def weights(self, layer: str, act=None) -> str:
        lo, hi = act if act is not None else self.qc["act"][layer]
        return (f"{{{self.arr(layer + '.w')}, {self.arr(layer + '.bias')}, "
                f"{{{self.arr(layer + '.mult')}, {self.arr(layer + '.shift')}}}, {lo}, {hi}}}")

    def ptr(self, tensor: str, ctype: str) -> str:
        return f"({ctype} *)(arena + {self.mp.offset(tensor)})"

    def dims(self, tensor: str) -> str:
        h, w, c = self.g.tensors[tensor].shape
        return f"{{{h}, {w}, {c}}}"

    def scratch(self, step: Step) -> str:
        return f"{{arena + {self.mp.offset(step.name + '.scratch')}, {step.scratch}}}"

    def call(self, step: Step, lines: list[str], call: str) -> None:
        self.body.append("    {\n" + "".join(f"        {ln}\n" for ln in lines)
                         + f"        RUN({call});\n    }}\n")

    def stem(self, s: Step) -> None:
        st, n = self.cfg["stem"], _c(s.name)
        self.data.append(f"static const rp_layer_weights {n}_l = {self.weights('stem')};\n")
        k = st["kernel"]
        self.call(s, [f"const rp_conv_params p = {{{k}, {st['stride']}, {self.qc['input_offset']}, {n}_l.act_min, "
                      f"{n}_l.act_max}};",
                      f"const rp_dims in = {self.dims('input')}, f = {{{k}, {k}, 1}}, out = {self.dims(s.output)};"],
                  f"rp_conv2d_u8_s8(&p, &{n}_l.q, &in, {self.ptr('input', 'const uint8_t')}, &f, {n}_l.w, "
                  f"{n}_l.bias, &out, {self.ptr(s.output, 'int8_t')})")

    def fastgrnn(self, name: str, n_in: int) -> str:
        a, hard = self.a, int(self.cfg["nonlinearity"] == "hard")
        scalar = {k: int(a[f"q/{name}.{k}"]) for k in ("x_shift", "mult", "shift", "zeta", "nu")}
        n_hidden = int(a[f"q/{name}.w"].shape[0])
        self.data.append(
            f"static const rp_fastgrnn_params {name}_p = {{.n_in = {n_in}, .n_hidden = {n_hidden}, "
            f".w = {self.arr(name + '.w')}, .x_shift = {scalar['x_shift']}, .mult = {scalar['mult']}, "
            f".shift = {scalar['shift']}, .bg = {self.arr(name + '.bg')}, .bh = {self.arr(name + '.bh')}, "
            f".zeta = {scalar['zeta']}, .nu = {scalar['nu']}, .hard = {hard}}};\n")
        return f"{name}_p"

    def rnnpool(self, s: Step) -> None:
        rp = self.cfg["rnnpool"]
        r1 = self.fastgrnn("rnn1", self.g.tensors["stem"].shape[2])
        r2 = self.fastgrnn("rnn2", rp["hidden1"])
        om, osh = int(self.a["q/rnnpool.out_mult"]), int(self.a["q/rnnpool.out_shift"])
        self.data.append(f"static const rp_rnnpool_params rnnpool_p = {{.patch = {rp['patch']}, .stride = "
                         f"{rp['stride']}, .rnn1 = &{r1}, .rnn2 = &{r2}, .out_mult = {om}, .out_shift = {osh}}};\n")
        self.call(s, [f"const rp_context ctx = {self.scratch(s)};",
                      f"const rp_dims in = {self.dims(s.inputs[0])}, out = {self.dims(s.output)};"],
                  f"rp_rnnpool_s8(&ctx, &rnnpool_p, &in, {self.ptr(s.inputs[0], 'const int8_t')}, &out, "
                  f"{self.ptr(s.output, 'int8_t')})")

    def mbconv(self, s: Step) -> None:
        i = int(s.name[2:])
        blk, n = self.cfg["blocks"][i], _c(s.name)
        add = "0"
        if blk["residual"]:
            q = {k: int(self.a[f"q/{s.name}.add.{k}"]) for k in ("ka", "kb", "mult", "shift")}
            self.data.append(f"static const rp_add_params {n}_add = {{{q['ka']}, {q['kb']}, {q['mult']}, "
                             f"{q['shift']}, -128, 127}};\n")
            add = f"&{n}_add"
        self.data.append(
            f"static const rp_mbconv_params {n}_p = {{{blk['hidden']}, {blk['stride']}, "
            f"{self.weights(s.name + '.expand')}, {self.weights(s.name + '.dw')}, "
            f"{self.weights(s.name + '.project')}, {add}}};\n")
        self.call(s, [f"const rp_context ctx = {self.scratch(s)};",
                      f"const rp_dims in = {self.dims(s.inputs[0])}, out = {self.dims(s.output)};"],
                  f"rp_mbconv_s8(&ctx, &{n}_p, &in, {self.ptr(s.inputs[0], 'const int8_t')}, &out, "
                  f"{self.ptr(s.output, 'int8_t')})")

    def l2norm(self, s: Step) -> None:
        n = _c(s.name)
        self.data.append(f"static const rp_quant_params {n}_q = {{{self.arr(s.name + '.mult')}, "
                         f"{self.arr(s.name + '.shift')}}};\n")
        self.call(s, [f"const rp_dims d = {self.dims(s.output)};"],
                  f"rp_l2norm_s8(&{n}_q, &d, {self.ptr(s.inputs[0], 'const int8_t')}, {self.ptr(s.output, 'int8_t')})")

    def conv_s16(self, s: Step) -> None:
        n = _c(s.name)
        self.data.append(f"static const rp_layer_weights {n}_l = {self.weights(s.name)};\n")
        c_in = self.g.tensors[s.inputs[0]].shape[2]
        self.call(s, [f"const rp_conv_params p = {{3, 1, 0, {n}_l.act_min, {n}_l.act_max}};",
                      f"const rp_dims in = {self.dims(s.inputs[0])}, f = {{3, 3, {c_in}}}, "
                      f"out = {self.dims(s.output)};"],
                  f"rp_conv2d_s8_s16(&p, &{n}_l.q, &in, {self.ptr(s.inputs[0], 'const int8_t')}, &f, {n}_l.w, "
                  f"{n}_l.bias, &out, {self.ptr(s.output, 'int16_t')})")

    def candidates(self, s: Step) -> None:
        base = 0
        self.body.append("    *n_candidates = 0;\n")
        for j, t in enumerate(self.thresholds):
            conf, loc = f"head{j}.conf", f"head{j}.loc"
            h, w, _ = self.g.tensors[conf].shape
            self.call(s, [f"const rp_candidates_params p = {{{base}, {t}}};",
                          f"const rp_dims d = {self.dims(conf)};"],
                      f"rp_candidates_s16(&p, &d, {self.ptr(conf, 'const int16_t')}, "
                      f"{self.ptr(loc, 'const int16_t')}, {self.ptr('candidates', 'rp_candidate')}, "
                      f"{self.g.max_candidates}, n_candidates)")
            base += h * w

    def run(self) -> tuple[str, str]:
        cfg, g, mp = self.cfg, self.g, self.mp
        layers = []
        for idx, s in enumerate(g.steps):
            t = g.tensors[s.output]
            self.body.append(f"    /* {s.name} */\n    BEGIN({idx});\n")
            getattr(self, s.kind)(s)
            nbytes = (f"(*n_candidates < {g.max_candidates} ? *n_candidates : {g.max_candidates}) * "
                      "(int32_t)sizeof(rp_candidate)") if s.kind == "candidates" else str(t.nbytes)
            self.body.append(f"    END({idx}, arena + {mp.offset(s.output)}, {nbytes});\n")
            elem = "(int32_t)sizeof(rp_candidate)" if t.dtype == "candidate" else str(t.nbytes // int(np.prod(t.shape)))
            layers.append(f'    {{"{s.name}", {t.shape[0]}, {t.shape[1]}, {t.shape[2]}, {elem}, {s.macs}u}},\n')
        h, w = cfg["input"]["height"], cfg["input"]["width"]
        head = HEADER.format(id=self.m.model_id, arch=cfg["arch"], w=w, h=h, version=CODEGEN_VERSION)
        config_h = (head + "#ifndef RP_MODEL_CONFIG_H\n#define RP_MODEL_CONFIG_H\n\n"
                    f'#define RP_MODEL_ID "{self.m.model_id}"\n#define RP_MODEL_ARENA_BYTES {mp.arena_bytes}\n'
                    f"#define RP_MODEL_N_LAYERS {len(g.steps)}\n#define RP_MODEL_MAX_CANDIDATES {g.max_candidates}\n"
                    "\n#endif /* RP_MODEL_CONFIG_H */\n")
        model_c = (head + '#include "rp_model.h"\n#include "model_config.h"\n\n'
                   + "".join(self.data)
                   + f"\nstatic const rp_layer_info layers[{len(layers)}] = {{\n" + "".join(layers) + "};\n\n"
                   f'const rp_model_info rp_model = {{RP_MODEL_ID, {h}, {w}, RP_MODEL_ARENA_BYTES, '
                   f"{mp.offset('input')}, {mp.offset('candidates')}, RP_MODEL_MAX_CANDIDATES, RP_MODEL_N_LAYERS, "
                   "layers};\n\n"
                   "#define BEGIN(i) if (hook) hook(user, (i), 0, 0, 0)\n"
                   "#define END(i, data, n) if (hook) hook(user, (i), 1, (data), (n))\n"
                   "#define RUN(call) do { const rp_status st_ = (call); if (st_ != RP_OK) return st_; } while (0)\n\n"
                   "rp_status rp_model_run(uint8_t *arena, rp_layer_hook hook, void *user, int32_t *n_candidates) {\n"
                   + "".join(self.body) + "    return RP_OK;\n}\n")
        return config_h, model_c


def emit(model: Model, graph: Graph, mp: MemoryPlan, head_thresholds: list[int]) -> dict[str, str]:
    """File name → text: ``model_config.h`` and ``model.c``."""
    config_h, model_c = _Emitter(model, graph, mp, head_thresholds).run()
    return {"model_config.h": config_h, "model.c": model_c}
