"""EdgeML checkpoint import: a PyTorch twin of EdgeML's models → torch.save → import_edgeml → float reference."""

from __future__ import annotations

import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install 'harness[torch]'")

from harness.errors import CheckpointError, DependencyError, HarnessError, InputError  # noqa: E402
from harness.model.archs import num_priors  # noqa: E402
from harness.model.edgeml import import_edgeml  # noqa: E402

from . import edgeml_torch  # noqa: E402

M4, QVGA = "rpool-face-m4", "rpool-face-qvga-mono"
TOL = 1e-4


def _images(h: int, w: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(h * 1000 + w)
    yy, xx = np.mgrid[0:h, 0:w]
    return {"noise": rng.integers(0, 256, (h, w), dtype=np.uint8),
            "gradient": np.clip(255 * (0.6 * xx / (w - 1) + 0.4 * yy / (h - 1)), 0, 255).astype(np.uint8)}


def _save(tmp_path, model, name="ckpt.pth", wrap=lambda sd: sd):
    path = tmp_path / name
    torch.save(wrap(model.state_dict()), path)
    return path


# The M4 at full size with set ζ/ν and with the default ζ/ν on a small input by default; the QVGA architecture and
# the default ζ/ν at full size under -m slow.
@pytest.mark.parametrize("arch, h, w, zeta_nu", [
    pytest.param(M4, 240, 320, None, marks=pytest.mark.slow),
    pytest.param(QVGA, 240, 320, None, marks=pytest.mark.slow),
    (M4, 128, 160, None),
    (M4, 240, 320, (1.5, -2.0)),
    pytest.param(QVGA, 240, 320, (1.5, -2.0), marks=pytest.mark.slow),
])
def test_round_trip_matches_pytorch(tmp_path, arch, h, w, zeta_nu):
    from harness.model.float_ref import run_float

    twin = edgeml_torch.make_model(arch, seed=11, zeta_nu=zeta_nu)
    model = import_edgeml(_save(tmp_path, twin), arch, height=h, width=w)
    assert model.arch == arch and model.input_hw == (h, w)
    if zeta_nu is not None:
        assert float(model.arrays["rnn1.zeta"]) == pytest.approx(zeta_nu[0])
        assert float(model.arrays["rnn2.nu"]) == pytest.approx(zeta_nu[1])
    for name, image in _images(h, w).items():
        expected = edgeml_torch.raw_outputs(twin, image)
        raw = run_float(model, image).raw
        assert raw.shape == expected.shape == (6 * num_priors(model.config),)
        diff = np.abs(raw.astype(np.float64) - expected)
        worst = int(diff.argmax())
        assert diff[worst] <= TOL, (f"{arch} {w}x{h} {name}: max |float_ref - torch| = {diff[worst]:.3g} at index "
                                    f"{worst} (got {raw[worst]}, expected {expected[worst]})")


@pytest.mark.parametrize("arch", [M4, QVGA])
def test_twin_activations_are_in_a_useful_range(arch):
    # A twin whose ReLU6 layers were all clipped or all zero would hide folding and layout bugs.
    stats = edgeml_torch.activation_stats(edgeml_torch.make_model(arch, seed=11), _images(240, 320)["gradient"])
    relus = {k: v for k, v in stats.items() if k.endswith(".2") and not k.startswith(("loc.", "conf."))}
    assert relus and all(v[0] < 0.6 and v[1] < 0.5 and v[0] + v[1] < 0.8 for v in relus.values()), relus
    assert 0.3 < stats["rnn_model"][2] < 1.0
    assert all(stats[f"{h}.{j}"][2] > 0.5 for h in ("loc", "conf") for j in range(4))


def test_zeta_nu_are_used(tmp_path):
    from harness.model.float_ref import run_float

    image = _images(240, 320)["noise"]
    raws = [run_float(import_edgeml(_save(tmp_path, edgeml_torch.make_model(M4, seed=2, zeta_nu=zn)), M4),
                      image).raw for zn in (None, (1.5, -2.0))]
    assert np.abs(raws[0] - raws[1]).max() > 0.1


def test_array_names_and_layouts(tmp_path):
    twin = edgeml_torch.make_model(M4, seed=0)
    a = import_edgeml(_save(tmp_path, twin), M4).arrays
    assert all(v.dtype == np.float32 for v in a.values())
    assert a["stem.w"].shape == (4, 1, 3, 3) and a["stem.b"].shape == (4,)
    assert a["rnn1.W"].shape == (16, 4) and a["rnn2.W"].shape == (16, 16) and a["rnn1.bg"].shape == (16,)
    assert a["rnn1.zeta"].shape == () and float(a["rnn1.zeta"]) == 100.0 and float(a["rnn1.nu"]) == -100.0
    np.testing.assert_array_equal(a["rnn1.W"], twin.rnn_model.cell_rnn.cell.W.detach().numpy().T)
    assert a["mb0.expand.w"].shape == (128, 64, 1, 1) and a["mb0.dw.w"].shape == (128, 1, 3, 3)
    assert a["mb2.project.w"].shape == (64, 64, 1, 1) and a["mb2.project.b"].shape == (64,)
    assert {k for k in a if k.startswith("l2norm")} == {"l2norm0.w", "l2norm1.w", "l2norm2.w"}
    assert a["head0.conf.w"].shape == (4, 32, 3, 3) and a["head3.conf.w"].shape == (2, 64, 3, 3)
    assert a["head2.loc.w"].shape == (4, 64, 3, 3)
    bn = twin.conv[1]
    scale = (bn.weight / torch.sqrt(bn.running_var + 1e-5)).detach().numpy()
    np.testing.assert_allclose(a["stem.w"], twin.conv[0].weight.detach().numpy() * scale[:, None, None, None],
                               rtol=1e-6)


def test_checkpoint_forms_give_one_model(tmp_path):
    twin = edgeml_torch.make_model(M4, seed=4)
    paths = [_save(tmp_path, twin, "plain.pth"),
             _save(tmp_path, twin, "dp.pth", lambda sd: {f"module.{k}": v for k, v in sd.items()}),
             _save(tmp_path, twin, "wrapped.pth", lambda sd: {"weight": sd, "epoch": 7})]
    ids = {import_edgeml(p, M4).model_id for p in paths}
    assert len(ids) == 1


def _error(exc_type, *args, **kwargs) -> str:
    with pytest.raises(exc_type) as info:
        import_edgeml(*args, **kwargs)
    msg = str(info.value)
    assert isinstance(info.value, HarnessError) and msg and "\n" not in msg
    return msg


def test_missing_file(tmp_path):
    assert "not found" in _error(InputError, tmp_path / "nope.pth", M4)


def test_not_a_torch_file(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("this is not a checkpoint\n" * 10)
    assert "not a PyTorch checkpoint" in _error(CheckpointError, path, M4)


def test_wrong_arch_names_key_and_suggests_the_right_one(tmp_path):
    path = _save(tmp_path, edgeml_torch.make_model(M4, seed=1))
    msg = _error(CheckpointError, path, QVGA)
    assert "mob.2.conv.2.weight" in msg and "(64, 64, 1, 1)" in msg and "(32, 64, 1, 1)" in msg
    assert repr(M4) in msg


def test_missing_and_unexpected_keys(tmp_path):
    sd = edgeml_torch.make_model(M4, seed=1).state_dict()
    missing = {k: v for k, v in sd.items() if k != "L2Norm4_3.weight"}
    torch.save(missing, tmp_path / "missing.pth")
    assert "L2Norm4_3.weight" in _error(CheckpointError, tmp_path / "missing.pth", M4)
    torch.save({**sd, "extra.weight": torch.zeros(3)}, tmp_path / "extra.pth")
    assert "unexpected keys extra.weight" in _error(CheckpointError, tmp_path / "extra.pth", M4)


def test_inconsistent_shared_cell(tmp_path):
    sd = edgeml_torch.make_model(M4, seed=1).state_dict()
    sd["rnn_model.cell_bidirrnn.unrollRNN.RNNCell_reverse.U"] = sd["rnn_model.cell_bidirrnn.cell.U"] + 1
    torch.save(sd, tmp_path / "bad.pth")
    assert "RNNCell_reverse.U" in _error(CheckpointError, tmp_path / "bad.pth", M4)


def test_without_torch(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    assert "pip install 'harness[torch]'" in _error(DependencyError, tmp_path / "x.pth", M4)


def test_cli_import_then_reference(tmp_path, capsys):
    """The command line end to end: import-edgeml --quantize, then reference --float equals the twin's output."""
    import json

    import cv2

    from harness.cli import main

    net = edgeml_torch.make_model(M4, seed=5)
    torch.save({"weight": net.state_dict(), "epoch": 3}, tmp_path / "ckpt.pth")
    img = (np.arange(240 * 320).reshape(240, 320) * 7 % 251).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "in.png"), img)
    assert main(["model", "import-edgeml", str(tmp_path / "ckpt.pth"), "--arch", M4, "--quantize",
                 "--calib-synthetic", "2", "-o", str(tmp_path / "m.npz")]) == 0
    assert main(["reference", "--model", str(tmp_path / "m.npz"), "--image", str(tmp_path / "in.png"), "--float",
                 "--json", "--raw-out", str(tmp_path / "raw.npy")]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(out)["mode"] == "float"
    assert np.abs(np.load(tmp_path / "raw.npy") - edgeml_torch.raw_outputs(net, img)).max() <= TOL
