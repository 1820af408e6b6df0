"""Start-up: --help, --version, option errors and a bad spec are answered without SymPy or NumPy.

What is pinned is what makes start-up fast, the modules loaded, not a time (the suite must not
depend on the machine's speed); docs/performance.md has the figures and
benchmarks/startup.py measures them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("sympy", "numpy", "jinja2", "mpmath")

PROBE = r"""
import argparse, contextlib, io, json, sys
from symbackprop.cli import build_parser, main

def loaded():
    return sorted({name.split(".")[0] for name in sys.modules})

def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exit:
            status = exit.code
    return status, err.getvalue()

commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
report = {"commands": {"status": 0, "modules": loaded(), "names": sorted(commands)}}
for argv in (["--help"], ["--version"], *([name, "--help"] for name in commands), ["derive", "--form", "nope", "x"]):
    status, _ = run(*argv)
    report[" ".join(argv)] = {"status": status, "modules": loaded()}
status, err = run("derive", sys.argv[1])
report["bad spec"] = {"status": status, "modules": loaded(), "stderr": err}
print(json.dumps(report))
"""


def test_help_version_option_errors_and_bad_specs_load_no_heavy_module(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\ninput: {name: x, size: 2}\ntarget: {name: y, size: 1}\n"
        "layers:\n  - {name: '1', units: 1, activation: rleu}\nloss: half_squared_error\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(done.stdout)
    for case, seen in report.items():
        heavy = [name for name in seen["modules"] if name in HEAVY]
        assert heavy == [], (case, heavy)
    assert {"derive", "numeric", "gradcheck", "codegen", "render", "verify"} <= set(report["commands"]["names"])
    assert all(report[f"{name} --help"]["status"] == 0 for name in report["commands"]["names"])
    assert report["--help"]["status"] == 0 and report["--version"]["status"] == 0
    assert "yaml" not in report["render --help"]["modules"]  # options alone need no spec reader
    assert report["derive --form nope x"]["status"] == 2
    assert report["bad spec"]["status"] == 2
    assert "bad.yaml:5: layers[0].activation: unknown activation 'rleu'" in report["bad spec"]["stderr"]


def test_the_package_loads_its_public_names_on_first_use() -> None:
    probe = (
        "import sys, symbackprop as sbp\nassert 'sympy' not in sys.modules\n"
        "assert sbp.load('specs/square_221.yaml').derive().grad('W_1') is not None\n"
        "assert 'sympy' in sys.modules and sbp.SpecError.__name__ == 'SpecError'\n"
        "from symbackprop import Network, VerifyResult, FORMS\nassert FORMS[0] == 'chain'\n"
        "assert set(sbp.__all__) <= set(dir(sbp))\n"
    )
    subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True, timeout=120)
