"""The history report: one self-contained HTML page, a section per (board, model), a plot per metric, the gate's
regressions marked and tabled, every run listed; rendered for real in headless Chromium when one is installed."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser

import numpy as np
import pytest

from harness.history.record import FixtureResult, Run, run_metrics
from harness.history.report import RECORD_COMMAND, render_report, write_report
from harness.history.thresholds import defaults

LAYERS = ("stem", "rnnpool", "mb1", "mb2", "mb3", "mb4", "head1.loc", "head1.conf", "head2.loc", "head2.conf",
          "candidates")
# share of the ~168 M instructions each layer takes (the RNNPool layer and the first blocks dominate)
WEIGHTS = np.array([8, 30, 14, 12, 10, 8, 3, 3, 2, 2, 8], dtype=float)
TOTAL = 168_000_000
QEMU = ("qemu-stm32f405", "rnnpool-face")      # instructions: exact, gated at 0.1 %
BOARD = ("nucleo-f767zi", "rnnpool-face-s")    # cycles: noisy, gated at 2 % and a significance test
REGRESSED_LAYER = "mb3"
ARENA = 98_304


def sha(key: tuple[str, str], i: int) -> str:
    return hashlib.sha1(f"{key}{i}".encode()).hexdigest()


def make_run(key, i: int, rid: int, *, layer_factor=1.0, arena=ARENA, n_fixtures=4, repeats=3) -> Run:
    """Run ``i`` (0-based, one a day) of ``key``: fixtures × repeats of per-layer latency samples summing to the
    total; an emulator counts exactly, a board's cycles carry a little noise."""
    board, model = key
    cycles = board != QEMU[0]
    rng = np.random.default_rng(1000 * cycles + i)
    fixtures = []
    for k in range(n_fixtures):
        scale = 1.0 + 0.01 * (k - 1.5)  # scenes with more candidates take longer
        per_layer = TOTAL * WEIGHTS / WEIGHTS.sum() * scale * (0.62 if cycles else 1.0)
        latency = {}
        for layer, base in zip(LAYERS, per_layer):
            base = base * (layer_factor if layer == REGRESSED_LAYER else 1.0)
            noise = rng.normal(1.0, 0.001, repeats) if cycles else np.ones(repeats)
            latency[layer] = tuple(float(round(v)) for v in base * noise)
        latency["total"] = tuple(float(sum(latency[layer][r] for layer in LAYERS)) for r in range(repeats))
        fixtures.append(FixtureResult(
            name=f"scenes/scene-{k:03d}", matched=True, fingerprints={layer: f"{k:02x}c0ffee" for layer in LAYERS},
            detections=((12.0, 20.0, 60.0, 80.0, 0.91),), latency=latency, stack_bytes=6_912 + 8 * k,
            fixed_float=(5, 5, 5)))
    return Run(
        board=board, backend="pyocd" if cycles else "qemu",
        runs_on="ST-Link 066DFF49" if cycles else "QEMU 7.2.22 netduinoplus2, -icount shift=0",
        unit="cycles" if cycles else "instructions", model=model, model_id="9f1c2ab3d4e5",
        build_id=hashlib.sha1(f"build{key}{i}".encode()).hexdigest(), dsp=not cycles, commit=sha(key, i),
        dirty=i == 5, branch="main", time=f"2025-03-{i + 1:02d}T{10 + cycles:02d}:00:00+00:00", host="ci-runner-2",
        compiler="arm-none-eabi-gcc 12.2.1", packages={"python": "3.11.2"}, flash_bytes=241_664, ram_bytes=131_072,
        arena_bytes=arena, ap50=0.871, fixtures=tuple(fixtures), repeats=repeats, id=rid)


def history() -> list[Run]:
    """6 runs of each key, interleaved in time; QEMU's run 3 makes mb3 20 % slower (and stays so), its run 5 grows
    the arena by 2 KiB. The board's runs only vary by noise."""
    runs = []
    for i in range(6):
        runs.append(make_run(QEMU, i, len(runs) + 1, layer_factor=1.2 if i >= 2 else 1.0,
                             arena=ARENA + 2048 if i >= 4 else ARENA))
        runs.append(make_run(BOARD, i, len(runs) + 1))
    return runs


# -- a small DOM, so the tests read the page the way a browser would ------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict
    children: list = field(default_factory=list)
    text: str = ""

    def all(self, tag=None, cls=None):
        for child in self.children:
            if (tag is None or child.tag == tag) and (cls is None or cls in child.attrs.get("class", "").split()):
                yield child
            yield from child.all(tag, cls)

    def content(self) -> str:
        return self.text + "".join(c.content() for c in self.children)


class Strict(HTMLParser):
    """Builds the tree and fails on anything unbalanced: every element closed, in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]
        self.doctype = None

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert tag not in VOID, f"</{tag}> closes a void element"
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(Node("#text", {}, text=data))


def parse(text: str) -> Node:
    p = Strict()
    p.feed(text)
    p.close()
    assert p.stack == [p.root], f"unclosed: {[n.tag for n in p.stack[1:]]}"
    assert p.doctype and p.doctype.lower() == "doctype html"
    return p.root


def sections(root: Node) -> dict[tuple[str, str], Node]:
    out = {}
    for s in root.all("section"):
        h2 = next(s.all("h2")).content()
        board, model = (x.strip() for x in h2.split("/"))
        out[board, model] = s
    return out


def rows(table: Node) -> list[list[str]]:
    return [[td.content().strip() for td in tr.all("td")] for tr in table.all("tr") if any(tr.all("td"))]


@pytest.fixture(scope="module")
def runs():
    return history()


@pytest.fixture(scope="module")
def page(runs):
    return render_report(runs, defaults(), title="nightly <history> & co")


@pytest.fixture(scope="module")
def dom(page):
    return parse(page)


# -- tests ----------------------------------------------------------------------------------------------------------


def test_page_is_balanced_html_with_unique_ids_and_escaped_title(page, dom):
    ids = [n.attrs["id"] for n in dom.all() if "id" in n.attrs]
    assert len(ids) == len(set(ids)), "matplotlib's figure_1/axes_1 ids must be made unique per figure"
    assert next(dom.all("title")).content() == "nightly <history> & co"
    assert "nightly &lt;history&gt; &amp; co" in page


def test_page_is_self_contained(page, dom):
    for tag in ("script", "link", "img", "iframe", "object", "embed"):
        assert not list(dom.all(tag)), f"<{tag}> in a page that must open offline"
    refs = [(n.tag, k, v) for n in dom.all() for k, v in n.attrs.items() if k in ("src", "href", "xlink:href")]
    assert refs, "the plots' markers and the section links refer inside the page"
    assert all(v.startswith("#") for _, _, v in refs), [r for r in refs if not r[2].startswith("#")]
    lower = page.lower()
    for outside in ("http:", "https:", "file:", "@import", "<?xml", "<!doctype svg"):
        assert outside not in lower
    assert lower.count("url(") == lower.count("url(#")


def test_a_section_per_key_naming_its_board_model_and_setup(runs, dom):
    secs = sections(dom)
    assert list(secs) == [QEMU, BOARD]
    meta = next(secs[QEMU].all("p", "meta")).content()
    for text in ("qemu-stm32f405", "rnnpool-face", "QEMU 7.2.22 netduinoplus2", "instructions", "6 runs",
                 sha(QEMU, 0)[:7], sha(QEMU, 5)[:7] + "*"):
        assert text in meta
    assert "cycles" in next(secs[BOARD].all("p", "meta")).content()


def test_a_plot_per_metric_present(runs, dom):
    for key, sec in sections(dom).items():
        present = set().union(*(run_metrics(r) for r in runs if r.key == key))
        plotted = present - {"latency.total.min", "latency.total.max", "latency.total.spread"}
        layers = {m for m in plotted if m.startswith("latency.layer.")}
        assert len(layers) == len(LAYERS)
        figures = list(sec.all("figure"))
        # one <svg> per metric, the layers' small multiples sharing one picture (each on its own axes)
        assert sum(len(list(f.all("svg"))) for f in figures) == len(plotted) - len(layers) + 1
        named = [m for f in figures for m in f.attrs["data-metrics"].split()]
        assert sorted(named) == sorted(plotted)
        axes = {n.attrs["id"].split("-", 1)[1] for n in sec.all("g") if n.attrs.get("id", "").split("-", 1)[-1]
                in plotted}
        assert axes == plotted, "every metric (each layer too) has axes of its own"
        total = next(f for f in figures if f.attrs["data-metrics"] == "latency.total")
        assert "fixtures min–max" in total.content()
        assert "instructions" in total.content() or "cycles" in total.content()


def figure_of(sec: Node, metric: str) -> Node:
    return next(f for f in sec.all("figure") if metric in f.attrs["data-metrics"].split())


def axes_of(sec: Node, metric: str) -> Node:
    return next(n for n in sec.all("g") if n.attrs.get("id", "").endswith("-" + metric))


def test_regressions_are_tabled_with_their_commits(runs, dom):
    secs = sections(dom)
    table = next(secs[QEMU].all("table", "regressions"))
    found = {r[2]: r for r in rows(table)}
    layer = found[f"latency.layer.{REGRESSED_LAYER}"]
    assert [c.split()[-1] for c in layer[:2]] == [sha(QEMU, 2)[:7], sha(QEMU, 1)[:7]]  # "#5 14f24c4"
    assert all(c.startswith("#") for c in layer[:2])
    assert "+20" in layer[5]
    arena = found["memory.arena_bytes"]
    assert [c.split()[-1] for c in arena[:2]] == [sha(QEMU, 4)[:7], sha(QEMU, 3)[:7]]
    assert arena[2:5] == ["memory.arena_bytes", f"{ARENA:,}", f"{ARENA + 2048:,}"]
    assert "+2,048" in arena[5] or "+2048" in arena[5]
    assert not list(secs[BOARD].all("table", "regressions"))
    assert "no regressions" in secs[BOARD].content()


def test_regressions_are_marked_on_their_plots(dom):
    sec = sections(dom)[QEMU]
    red = "#d62728"
    assert red in str(_attrs(axes_of(sec, "memory.arena_bytes")))
    assert red in str(_attrs(axes_of(sec, f"latency.layer.{REGRESSED_LAYER}")))
    assert red not in str(_attrs(axes_of(sec, "memory.flash_bytes")))
    assert red not in str(_attrs(axes_of(sec, "latency.layer.stem")))
    assert red not in str(_attrs(figure_of(sections(dom)[BOARD], "memory.arena_bytes")))


def _attrs(node: Node) -> list:
    return [node.attrs, *(n.attrs for n in node.all())]


def test_run_table_lists_every_run_newest_first(runs, dom):
    for key, sec in sections(dom).items():
        mine = [r for r in runs if r.key == key]
        table = rows(next(sec.all("table", "runs")))
        assert [int(r[0]) for r in table] == [r.id for r in reversed(mine)]
        for row, run in zip(table, reversed(mine)):
            assert row[2].startswith(run.commit[:7] + ("*" if run.dirty else "")) and "main" in row[2]
            assert row[3] == run.build_id[:12]
            assert row[4] == ("dsp" if run.dsp else "portable")
            assert row[6] == "0.871"
            assert row[7:10] == ["241,664", "131,072", f"{run.arena_bytes:,}"]


def test_empty_history_is_a_page_saying_how_to_record(tmp_path):
    path = write_report([], tmp_path / "out" / "report.html")
    text = path.read_text(encoding="utf-8")
    dom = parse(text)
    assert "nothing recorded yet" in dom.content().lower()
    assert RECORD_COMMAND == "pytest --board=qemu-stm32f405" and RECORD_COMMAND in dom.content()
    assert not list(dom.all("svg")) and not list(dom.all("section"))


def test_runs_without_fixtures_plot_only_what_they_have():
    bare = [dataclasses.replace(make_run(QEMU, i, i + 1), fixtures=(), ap50=None, dirty=False) for i in range(2)]
    sec = sections(parse(render_report(bare, defaults())))[QEMU]
    named = sorted(m for f in sec.all("figure") for m in f.attrs["data-metrics"].split())
    assert named == ["memory.arena_bytes", "memory.flash_bytes", "memory.ram_bytes"]
    assert "no regressions" in sec.content()
    assert [r[6] for r in rows(next(sec.all("table", "runs")))] == ["–", "–"]


def test_fifty_runs_render_in_seconds(tmp_path):
    many = [make_run(QEMU, i, i + 1, n_fixtures=2, repeats=1) for i in range(50)]
    many = [dataclasses.replace(r, time=f"2025-{1 + i // 28:02d}-{1 + i % 28:02d}T10:00:00+00:00")
            for i, r in enumerate(many)]
    t0 = time.perf_counter()
    path = write_report(many, tmp_path / "report.html", defaults())
    elapsed = time.perf_counter() - t0
    assert elapsed < 15, f"{elapsed:.1f} s for 50 runs"  # a few seconds on a laptop; slack for a loaded CI runner
    assert len(rows(next(parse(path.read_text()).all("table", "runs")))) == 50


def _chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def test_renders_in_headless_chromium(runs, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium on PATH (apt-get install chromium)")
    cv2 = pytest.importorskip("cv2")
    html = write_report(runs, tmp_path / "report.html", defaults())
    png = tmp_path / "out.png"
    cmd = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1200,3000",
           html.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert png.is_file(), done.stderr[-2000:]
    img = cv2.imread(str(png))
    assert img is not None and img.shape[:2] == (3000, 1200)
    non_white = (img < 235).any(axis=2).mean()
    b, g, r = (img[..., k].astype(int) for k in range(3))
    red = ((r > 170) & (g < 90) & (b < 90)).sum()  # the regression triangles and commit labels
    assert non_white > 0.05, f"only {non_white:.1%} of the page is drawn"
    assert red > 50, f"{red} red pixels: no regression markers visible"
