"""`make test` sets up what the tests need beyond Python: Debian's chromium."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "ensure-chromium"


def test_make_test_runs_the_browser_setup_before_pytest():
    dry_run = subprocess.run(
        ["make", "-n", "test"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "scripts/ensure-chromium" in dry_run
    assert dry_run.index("scripts/ensure-chromium") < dry_run.index("pytest")
    ci_run = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert "apt-get" not in ci_run and "make test" in ci_run


def test_ensure_chromium_is_quiet_when_the_browser_is_there():
    env = {**os.environ, "OPENWFM_CHROMIUM": "/bin/true"}
    done = subprocess.run([SCRIPT], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""


def test_ensure_chromium_says_what_to_install_when_it_cannot(tmp_path):
    # a machine without apt-get: only `id` on the PATH
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "id").symlink_to(Path("/usr/bin/id"))
    env = {"PATH": str(bin_dir), "OPENWFM_CHROMIUM": str(tmp_path / "no-chromium")}
    done = subprocess.run(["/bin/bash", SCRIPT], env=env, capture_output=True, text=True)
    assert done.returncode == 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "apt-get install chromium" in lines[0]
