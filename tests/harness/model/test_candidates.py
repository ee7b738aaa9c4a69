"""Host half of the on-device post-processing: candidates decode to exactly the reference's detections."""

from pathlib import Path

import pytest

from harness.model.candidates import candidates, detect_candidates, head_thresholds
from harness.model.detect import detect
from harness.model.fixed_ref import run_fixed
from harness.model.modelfile import load
from harness.errors import UsageError
from harness.scenes.fixtures import load as load_fixtures

ROOT = Path(__file__).resolve().parents[3]


def test_candidate_detections_equal_full_detections():
    model = load(ROOT / "fixtures" / "models" / "default.npz")
    cfg, scales = model.config, model.require_quant()["scales"]
    found = 0
    for item in load_fixtures(ROOT / "fixtures")[:8]:
        ref = run_fixed(model, item.image())
        for t in (0.5, 0.89):
            recs, total = candidates(cfg, ref.layers, head_thresholds(cfg, scales, t), 3000)
            assert total == len(recs)
            want = detect(cfg, ref.raw, t)
            assert detect_candidates(cfg, scales, recs, t) == want
            found += len(want)
    assert found > 0


def test_threshold_below_device_selection_is_refused():
    model = load(ROOT / "fixtures" / "models" / "default.npz")
    with pytest.raises(UsageError, match="rebuild the firmware"):
        detect_candidates(model.config, model.require_quant()["scales"], candidates(model.config, run_fixed(
            model, load_fixtures(ROOT / "fixtures")[0].image()).layers, [0, 0, 0, 0], 10)[0], 0.3, 0.89)
