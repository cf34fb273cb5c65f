"""`openwfm demo` from an installed wheel: the example scenarios and py.typed ship inside it.

The wheel is built without network (``--no-build-isolation``, setuptools from the dev extras)
from a copy of the sources, installed with ``--no-deps`` into a fresh virtual environment that
sees the test environment's dependencies through a ``.pth`` line, and run from a folder with
no ``examples/`` next to it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args, **kwargs):
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
    )
    dist = tmp_path_factory.mktemp("dist")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(dist),
            str(source),
        ]
    )
    (built,) = dist.glob("openwfm-*.whl")
    return built


def test_wheel_holds_the_examples_and_py_typed(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "openwfm/py.typed" in names
    assert {"openwfm/examples/center.yaml", "openwfm/examples/anonymous-bank.yaml"} <= names


def test_top_level_examples_are_the_package_copies():
    for name in ("center.yaml", "anonymous-bank.yaml"):
        top = ROOT / "examples" / name
        assert top.read_bytes() == (ROOT / "src" / "openwfm" / "examples" / name).read_bytes()


def test_demo_runs_from_an_installed_wheel(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ]
    )
    # the dependencies: this environment's site-packages, after the venv's own (a .pth line
    # adds the folder to the path without running its .pth files, so no editable openwfm)
    purelib = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    shared = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "shared-dependencies.pth").write_text("\n".join(sorted(shared)) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run(
        [str(python), "-c", "import openwfm; print(openwfm.__file__)"], cwd=work, env=env
    ).stdout.strip()
    assert Path(where).resolve().is_relative_to(venv.resolve()), where
    out = work / "demo"
    done = _run(
        [
            str(venv / "bin" / "openwfm"),
            "demo",
            "--out",
            str(out),
            "--weeks",
            "3",
            "--time-limit",
            "2",
            "--deterministic",
            "--replications",
            "2",
        ],
        cwd=work,
        env=env,
    )
    assert (out / "report.html").stat().st_size > 0
    assert (out / "plan" / "summary.json").exists()
    assert "VERDICT" in done.stdout
