import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training needs the [torch] extra")

from harness.model.edgeml import from_state_dict  # noqa: E402
from harness.model.float_ref import run_float  # noqa: E402
from harness.model.synthetic import synthetic_image  # noqa: E402
from harness.train.loss import NEG_POS, multibox_loss  # noqa: E402
from harness.train.net import RPoolFace  # noqa: E402


def _randomised(arch: str, hard: bool) -> RPoolFace:
    torch.manual_seed(3)
    net = RPoolFace(arch, hard=hard).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return net


@pytest.mark.parametrize("arch,hard", [("rpool-face-m4", False), ("rpool-face-m4", True),
                                       ("rpool-face-qvga-mono", False)])
def test_exported_net_matches_the_float_reference(arch, hard):
    net = _randomised(arch, hard)
    model = from_state_dict(net.numpy_state_dict(), arch, 120, 160, "hard" if hard else "exact")
    image = synthetic_image(120, 160, seed=5)
    raw = run_float(model, image).raw
    with torch.no_grad():
        conf, loc = net(torch.from_numpy(image.astype(np.float32) - 117.312)[None, None])
    mine = np.concatenate([conf[0].numpy().ravel(), loc[0].numpy().ravel()])
    assert np.abs(mine - raw).max() < 1e-4 * max(1.0, np.abs(raw).max())


def test_multibox_loss_mines_three_negatives_per_positive():
    b, p = 2, 50
    labels = torch.zeros(b, p, dtype=torch.int64)
    labels[0, :5] = 1
    conf = torch.zeros(b, p, 2, requires_grad=True)
    loc = torch.zeros(b, p, 4, requires_grad=True)
    loc_t = torch.ones(b, p, 4)
    loss_l, loss_c = multibox_loss(conf, loc, labels, loc_t)
    # smooth-L1(0 → 1) = 0.5 per coordinate, 4 per prior, 5 priors, divided by 5 positives
    assert loss_l.item() == pytest.approx(2.0)
    # every CE term is log 2; image 0: 5 positives + 15 negatives, image 1 (no face): 12 negatives minimum
    assert loss_c.item() == pytest.approx((5 + NEG_POS * 5 + NEG_POS * 4) * np.log(2) / 5)
    (loss_l + loss_c).backward()
    assert conf.grad.abs().sum() > 0 and loc.grad[labels == 0].abs().sum() == 0


def test_confident_correct_predictions_cost_almost_nothing():
    labels = torch.tensor([[1, 0, 0, 0, 0, 0]])
    conf = torch.tensor([[[-9.0, 9.0]] + [[9.0, -9.0]] * 5])
    loc_t = torch.randn(1, 6, 4)
    loss_l, loss_c = multibox_loss(conf, loc_t.clone(), labels, loc_t)
    assert loss_l.item() == 0.0 and loss_c.item() < 1e-6
