"""`polycodec bench` as a user and CI call it: formats, --check, --only, --size, --version."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types

import pytest

import polycodec
from polycodec import cli
from polycodec.bench import SECTIONS, Entry, report

ROW_KEYS = {"workload", "implementation", "time", "ratio", "target", "verdict"}


def _bench(*args, timeout=300):
    """`python -m polycodec bench ...` with stdout/stderr as pipes (not a terminal)."""
    return subprocess.run([sys.executable, "-m", "polycodec", "bench", *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ))


@pytest.fixture(scope="module")
def core_json():
    proc = _bench("--quick", "--only", "core", "--size", "0.005", "--repeat", "1",
                  "--format", "json", "--check")
    return proc


def test_json_rows_machine_and_load(core_json):
    assert core_json.returncode == 0, core_json.stderr
    data = json.loads(core_json.stdout)       # stdout is the JSON document and nothing else
    assert data["quick"] is True and data["size"] == 0.005
    assert data["machine"]["cpus"] == os.cpu_count()
    assert data["machine"]["implementation"] == polycodec.IMPLEMENTATION
    assert len(data["load"]["start"]) == 3 and len(data["load"]["end"]) == 3
    [core] = data["sections"]
    assert core["name"] == "core"
    rows = core["rows"]
    assert rows and all(ROW_KEYS <= set(r) for r in rows)
    timed = [r for r in rows if r["time"] is not None]
    assert all(r["time"] > 0 for r in timed)
    # a baseline row has ratio 1
    assert any(r["ratio"] == 1.0 and r["implementation"] == r["baseline"] for r in timed)
    # --size 0.005: 16 MiB * 0.005 and 10,000 * 0.005 items
    names = {r["workload"] for r in rows}
    assert "W2 dict of 50 items round trip" in names
    assert "W1 81.9 KiB pack_segments" in names


def test_json_check_summary(core_json):
    data = json.loads(core_json.stdout)
    assert data["check"]["passed"] is True and data["check"]["missed_twice"] == []
    gated = [t for s in data["sections"] for r in s["rows"] for t in r["targets"]
             if t["gated"] and t["applies"]]
    if polycodec.IMPLEMENTATION == "cython":
        # the size-independent targets (O(1) views, memory) are judged at any --size
        assert {t["target"] for t in gated} >= {"< 50 us", "<= 0x input", "<= 1x input"}
    assert data["check"]["summary"][0].startswith(f"check: {len(gated)} gated targets")


def test_fallback_rows_never_missed(core_json):
    rows = json.loads(core_json.stdout)["sections"][0]["rows"]
    fallback = [r for r in rows if r["implementation"].startswith("polycodec[python]")]
    assert fallback
    judged = [r for r in fallback if r["targets"]]
    assert judged, "the fallback shows where it stands against the core's targets"
    assert all(r["verdict"] == "info" for r in judged)
    assert all(not t["applies"] for r in judged for t in r["targets"])


def test_quiet_when_not_a_terminal(core_json):
    assert core_json.stderr == ""


def test_progress_on_a_terminal(capsys):
    p = report.Progress()
    p.start(enabled=True)
    p.set_section("core")
    p.step("W1 16 MiB round trip", 5, 20)
    err = capsys.readouterr().err
    assert "core" in err and "W1 16 MiB round trip" in err
    assert "[#####..............." in err and "5/20" in err
    p.clear()
    q = report.Progress()
    q.start()                                   # pytest's stdout is not a terminal
    q.step("anything", 1, 2)
    assert capsys.readouterr().err.strip() == ""


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.strip() == f"polycodec {polycodec.__version__} ({polycodec.IMPLEMENTATION} core)"


def test_help_names_sections_size_and_needs(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    out = capsys.readouterr().out
    for name in SECTIONS:
        assert f"  {name} " in out
    assert "--size F multiplies" in out and "POLYCODEC_HYPHA_PYTHON" in out
    assert "polycodec[bench]" in out


# --- sections plugged in through the registry ---------------------------------------------


class _Fake:
    """A section module whose rows carry one target; `met` says, per run, whether it is met."""

    def __init__(self, name, met, gated=True, applies=True):
        self.name, self.met, self.gated, self.applies, self.runs = name, list(met), gated, \
            applies, 0

    def run(self, args):
        met = self.met[min(self.runs, len(self.met) - 1)]
        self.runs += 1
        row = report.Row(f"{self.name} workload", "polycodec[cython]", 0.002, "peer")
        row.targets.append(report.Target("<= 1 ms", "2.00 ms", met, gated=self.gated,
                                         applies=self.applies, limit=1e-3))
        return report.Section(f"a test section ({self.name})",
                              [report.Row(row.workload, "peer", 0.004, "peer"), row])


@pytest.fixture
def plug(monkeypatch):
    """Register fake sections the way a new bench module is registered: one SECTIONS line."""
    def add(fake):
        module = f"_test_section_{fake.name}"
        monkeypatch.setitem(sys.modules, f"polycodec.bench.{module}",
                            types.SimpleNamespace(run=fake.run))
        monkeypatch.setitem(SECTIONS, fake.name, Entry(module, False, "test"))
        return fake
    return add


def test_check_fails_when_a_gated_target_is_missed_twice(plug, capsys):
    fake = plug(_Fake("always", met=[False]))
    assert cli.main(["bench", "--only", "always", "--check"]) == 1
    assert fake.runs == 2                      # measured once more before failing
    out = capsys.readouterr().out
    assert "always / always workload / polycodec[cython]: target <= 1 ms: MISSED twice" in out
    assert "check: FAILED" in out


def test_check_passes_when_the_re_measure_meets_it(plug, capsys):
    fake = plug(_Fake("flaky", met=[False, True]))
    assert cli.main(["bench", "--only", "flaky", "--check"]) == 0
    assert fake.runs == 2
    out = capsys.readouterr().out
    assert "met when re-measured" in out and "check: passed" in out


def test_check_ignores_reported_and_fallback_targets(plug, capsys):
    reported = plug(_Fake("reported", met=[False], gated=False))
    fallback = plug(_Fake("fallback", met=[False], applies=False))
    assert cli.main(["bench", "--only", "reported,fallback", "--check"]) == 0
    assert reported.runs == fallback.runs == 1
    out = capsys.readouterr().out
    assert "(target <= 1 ms): MISSED" in out                   # still reported
    assert "(target <= 1 ms, set for the compiled core): info" in out
    assert "check: 0 gated targets" in out


def test_without_check_a_miss_is_reported_not_fatal(plug):
    fake = plug(_Fake("nocheck", met=[False]))
    assert cli.main(["bench", "--only", "nocheck"]) == 0
    assert fake.runs == 1


def test_only_runs_the_named_sections_in_order(plug, capsys):
    a, b = plug(_Fake("a", met=[True])), plug(_Fake("b", met=[True]))
    assert cli.main(["bench", "--only", "b,a"]) == 0
    out = capsys.readouterr().out
    assert a.runs == b.runs == 1
    assert out.index("## b: a test section (b)") < out.index("## a: a test section (a)")


def test_only_unknown_section(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--only", "core,nosuch"])
    assert "unknown section nosuch" in str(exc.value) and "core" in str(exc.value)


def test_save_markdown_and_json(plug, tmp_path, capsys):
    plug(_Fake("saved", met=[True]))
    md, js = tmp_path / "r.md", tmp_path / "r.json"
    assert cli.main(["bench", "--only", "saved", "--save", str(md)]) == 0
    assert cli.main(["bench", "--only", "saved", "--save", str(js)]) == 0
    assert "## saved: a test section (saved)" in md.read_text()
    row = json.loads(js.read_text())["sections"][0]["rows"][1]
    assert row["ratio"] == 0.5 and row["verdict"] == "met" and row["target"] == "<= 1 ms"


def test_plot_needs_matplotlib(plug, monkeypatch, capsys, tmp_path):
    fake = plug(_Fake("plotted", met=[True]))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert cli.main(["bench", "--only", "plotted", "--plot", str(tmp_path / "p.png")]) == 2
    assert fake.runs == 0                      # checked before anything runs
    assert 'pip install "polycodec[bench]"' in capsys.readouterr().err


def test_plot_draws_a_png(plug, tmp_path):
    pytest.importorskip("matplotlib")
    plug(_Fake("drawn", met=[True]))
    png = tmp_path / "p.png"
    assert cli.main(["bench", "--only", "drawn", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_size_must_be_positive(capsys):
    assert cli.main(["bench", "--size", "0"]) == 2
    assert "--size must be > 0" in capsys.readouterr().err


def test_hybrid_section_scales_and_stays_json():
    proc = _bench("--quick", "--only", "hybrid", "--size", "0.02", "--repeat", "1",
                  "--format", "json")
    assert proc.returncode == 0, proc.stderr
    [hybrid] = json.loads(proc.stdout)["sections"]
    names = {r["workload"] for r in hybrid["rows"]}
    assert "H1 encode 200 x 10 records" in names              # 10,000 x 0.02
    assert "H3 2,000 records via emulator, workers=2" in names   # 100,000 x 0.02
    assert proc.stderr == ""


def test_only_hypha_without_a_server_python_says_what_to_do(monkeypatch, capsys):
    monkeypatch.delenv("POLYCODEC_HYPHA_PYTHON", raising=False)
    assert cli.main(["bench", "--only", "core,hypha"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "POLYCODEC_HYPHA_PYTHON" in err
