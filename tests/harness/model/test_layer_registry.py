"""The layer-kind registry (harness/model/layers.py): names, the built-in kinds, and the recipe for a new kind.

The recipe is proven with a toy kind, ``relu_rq`` (ReLU, then requantised to its own scale), defined here and
registered at run time: no other module is edited. A toy architecture appends it as a block after M4's last MBConv,
with the last head reading it; the model then goes through random init, quantisation, float and fixed references,
codegen, the latency model, the host-built C (the toy kernel compiled beside the generated model) and, with
PyTorch, the training net and the EdgeML importer.
"""

from __future__ import annotations

import ctypes as C
import shutil

import numpy as np
import pytest

from harness.native import kernels as hk
from harness.build.host import build_host_library
from harness.codegen.generate import generate
from harness.codegen.plan import overlaps
from harness import latency
from harness.errors import UsageError
from harness.model import layers
from harness.model.archs import ARCHS
from harness.model.fixed_ref import device_layers, run_fixed
from harness.model.float_ref import run_float
from harness.model.layers import DeviceStep, Kernel, LayerKind, LayerName, kind, network, qkey, register, unregister
from harness.model.qmath import quantize_multiplier, requantize
from harness.model.quantize import layer_errors, quantize
from harness.model.random_init import random_model
from harness.model.synthetic import synthetic_image, synthetic_images

H, W = 48, 64

# ---- the toy kind: what a new kind's module holds -------------------------------------------------------------

TOY_H = """\
#ifndef RP_TOY_H
#define RP_TOY_H
#include "rp_kernels.h"
typedef struct { int32_t mult, shift, act_min, act_max; } rp_relu_rq_params;
/* out = clamp(requantize(max(in, 0), mult, shift)); in, out [H, W, C] int8, out may equal in. */
rp_status rp_relu_rq_s8(const rp_relu_rq_params *p, const rp_dims *d, const int8_t *in, int8_t *out);
#endif
"""
TOY_C = """\
#include "rp_toy.h"
rp_status rp_relu_rq_s8(const rp_relu_rq_params *p, const rp_dims *d, const int8_t *in, int8_t *out) {
    const int32_t t = 31 - p->shift;
    for (int32_t i = 0; i < d->h * d->w * d->c; i++) {
        const int64_t v = ((int64_t)(in[i] > 0 ? in[i] : 0) * p->mult + ((int64_t)1 << (t - 1))) >> t;
        out[i] = (int8_t)(v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v));
    }
    return RP_OK;
}
"""


def _relu_rq(x, mult, shift, act):
    return np.clip(requantize(np.maximum(np.asarray(x, np.int64), 0), mult, shift), *act)


class ReluRqParams(C.Structure):
    _fields_ = [(n, C.c_int32) for n in ("mult", "shift", "act_min", "act_max")]


def _relu_rq_host(src_dir):
    """The ctypes binding; in the repository the kernel would be in firmware/kernels/ and ``hk.library()``."""
    def call(x, mult, shift, act):
        lib = C.CDLL(str(build_host_library(extra=src_dir).path))
        x = hk.arr(x, np.int8)
        out = np.zeros_like(x)
        p = ReluRqParams(int(mult), int(shift), int(act[0]), int(act[1]))
        hk.check(lib.rp_relu_rq_s8(C.byref(p), C.byref(hk.Dims(*x.shape)), hk.ptr(x, C.c_int8),
                                   hk.ptr(out, C.c_int8)), "rp_relu_rq_s8")
        return out
    return call


def _fixed(layer, xs, ctx):
    p = ctx.p(layer.name)
    return {layer.name: ctx.k.relu_rq(xs[0], p["mult"], p["shift"], ctx.act(layer.name))}


def _quantize(layer, q):
    m, s = quantize_multiplier(q.scales[layer.inputs[0]] / q.scales[layer.name])
    q.put(layer.name, {"mult": np.int32(m), "shift": np.int32(s)})


def _emit(em, s):
    m, sh = int(em.a[qkey(s.name, "mult")]), int(em.a[qkey(s.name, "shift")])
    lo, hi = em.qc["act"][s.name]
    em.call(s, [f"const rp_relu_rq_params p = {{{m}, {sh}, {lo}, {hi}}};", f"const rp_dims d = {em.dims(s.output)};"],
            f"rp_relu_rq_s8(&p, &d, {em.ptr(s.inputs[0], 'const int8_t')}, {em.ptr(s.output, 'int8_t')})")


def _torch(blk, hard):
    import torch

    return torch.nn.ReLU()


def toy_kind(src_dir) -> LayerKind:
    return LayerKind(
        "relu_rq",
        step=lambda layer, g: DeviceStep(g.tensors[layer.inputs[0]].shape, in_place=0),
        emit=_emit, features=("elements", "1"), work=lambda s, w: {"elements": int(np.prod(w.out))},
        float=lambda layer, xs, ctx: {layer.name: np.maximum(xs[0], np.float32(0))},
        fixed=_fixed, kernels={"relu_rq": Kernel(_relu_rq, _relu_rq_host(src_dir))}, quantize=_quantize,
        prefix="rq", shape=lambda blk, src: src, torch=_torch, header="rp_toy.h")


# ---- the harness around it ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy kind registered, its C in a folder, and "toy-m4": M4 plus a relu_rq block read by the last head."""
    src = tmp_path_factory.mktemp("toy-kernel")
    (src / "rp_toy.h").write_text(TOY_H)
    (src / "rp_relu_rq_s8.c").write_text(TOY_C)
    arch = {"blocks": ARCHS["rpool-face-m4"]["blocks"] + [{"kind": "relu_rq", "in": 64, "out": 64, "stride": 1}],
            "heads": [dict(hd) for hd in ARCHS["rpool-face-m4"]["heads"]]}
    arch["heads"][3]["block"] = 4
    register(toy_kind(src))
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(ARCHS, "toy-m4", arch)
        float_model = random_model("toy-m4", seed=5, height=H, width=W)
        model = quantize(float_model, synthetic_images(H, W, 2, seed=6))
        yield src, float_model, model
    unregister("relu_rq")


def test_names_are_built_and_parsed_in_one_place():
    from harness.model.archs import build_config

    cfg = build_config("rpool-face-qvga-mono")
    names = [n for layer in network(cfg) for n in layer.outputs] + ["rnn1", "mb12.expand"]
    for n in names:
        assert str(LayerName.parse(n)) == n
    assert LayerName.parse("mb12.expand") == LayerName("mb", 12, "expand")
    assert LayerName.parse("l2norm0") == LayerName("l2norm", 0)
    assert LayerName.parse("head3.conf") == LayerName("head", 3, "conf") and layers.head_name(3, "conf") == "head3.conf"
    assert qkey("mb0.dw", "mult") == "q/mb0.dw.mult"
    with pytest.raises(ValueError):
        LayerName.parse("3x.y")


def test_device_order_runs_heads_after_their_block():
    from harness.model.archs import build_config

    cfg = build_config("rpool-face-m4")
    ref, dev = [x.name for x in network(cfg)], [x.name for x in network(cfg, device=True)]
    assert sorted(ref) == sorted(dev) and ref[-1] == dev[-1] == "candidates"
    assert dev[:6] == ["stem", "rnnpool", "mb0", "l2norm0", "head0.conf", "head0.loc"]
    assert device_layers(cfg) == ref[:-1]


def test_the_builtin_kinds_and_their_kernels():
    assert set(layers.kinds()) >= {"stem", "rnnpool", "mbconv", "l2norm", "conv_s16", "candidates"}
    ref, host = layers.kernels("reference"), layers.kernels("host")
    assert {"conv", "depthwise", "add", "l2norm", "rnnpool"} <= set(vars(ref)) and host.conv is hk.conv2d
    with pytest.raises(UsageError, match="unknown layer kind"):
        kind("nope")
    with pytest.raises(UsageError, match="already registered"):
        register(LayerKind("stem", None, None, (), None))


def test_a_new_kind_runs_through_the_references(toy):
    _, float_model, model = toy
    image = synthetic_image(H, W, seed=9)
    fl = run_float(model, image).layers
    assert np.array_equal(fl["rq4"], np.maximum(fl["mb3"], 0))
    fx = run_fixed(model, image)
    names = list(fx.fingerprints)
    assert names[names.index("mb3") + 1] == "rq4"
    p = {k: model.arrays[qkey("rq4", k)] for k in ("mult", "shift")}
    assert np.array_equal(fx.layers["rq4"], _relu_rq(fx.layers["mb3"], p["mult"], p["shift"], (-128, 127)))
    assert fx.fingerprints["rq4"] and fx.layers["rq4"].dtype == np.int8
    errors = {e.name: e for e in layer_errors(model, [image])}
    assert errors["rq4"].cosine > 0.99 and errors["head3.conf"].cosine > 0.99


def test_a_new_kind_goes_through_codegen_and_the_latency_model(toy, tmp_path):
    _, _, model = toy
    gen = generate(model, tmp_path)
    c = (tmp_path / "model.c").read_text()
    assert '#include "rp_model.h"\n' in c and '\n#include "rp_toy.h"\n' in c and "rp_relu_rq_s8(&p, &d, " in c
    step = next(s for s in gen.graph.steps if s.kind == "relu_rq")
    assert step.in_place == 0 and not overlaps(gen.plan)
    assert gen.plan.offset("rq4") == gen.plan.offset("mb3")  # in place over its dying input
    works = {w.name: w for w in latency.layer_work(model)}
    assert works["rq4"].features == {"1": 1, "elements": 3 * 4 * 64}
    assert latency.FEATURES["relu_rq"] == ("elements", "1") and "relu_rq" in latency.FEATURES
    toys = [next(w for w in latency.layer_work(latency.resized(model, h, wd)) if w.kind == "relu_rq")
            for h, wd in ((48, 64), (64, 96), (96, 128))]
    cal = latency.fit([(w, 100 + 3 * w.features["elements"]) for w in toys], "toy")
    assert latency.predict(cal, [works["rq4"]]) == {"rq4": 100 + 3 * 768}


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_a_new_kind_runs_in_c_on_the_host(toy, tmp_path):
    """The toy kernel compiled beside the generated model (as firmware/kernels/ would hold it): the generated C and
    the per-kernel host schedule both match the fixed-point reference bit for bit."""
    from harness.native.generated import HostModel
    from harness.native.model import run_host

    src, _, model = toy
    for f in src.iterdir():
        shutil.copy(f, tmp_path / f.name)
    image = synthetic_image(H, W, seed=9)
    ref = run_fixed(model, image)
    run = HostModel(model, tmp_path).run(image)
    for name in device_layers(model.config):
        assert np.array_equal(run.layers[name], ref.layers[name]), name
    assert run_host(model, image)["rq4"].tobytes() == ref.layers["rq4"].tobytes()


def test_a_new_kind_trains_and_imports(toy):
    torch = pytest.importorskip("torch", reason="training needs the [torch] extra")
    from harness.model.edgeml import from_state_dict
    from harness.train.net import RPoolFace

    torch.manual_seed(3)
    net = RPoolFace("toy-m4").eval()
    model = from_state_dict(net.numpy_state_dict(), "toy-m4", H, W)
    image = synthetic_image(H, W, seed=5)
    raw = run_float(model, image).raw
    with torch.no_grad():
        conf, loc = net(torch.from_numpy(image.astype(np.float32) - 117.312)[None, None])
    mine = np.concatenate([conf[0].numpy().ravel(), loc[0].numpy().ravel()])
    assert np.abs(mine - raw).max() < 1e-4 * max(1.0, np.abs(raw).max())
