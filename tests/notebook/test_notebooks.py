"""Every example notebook runs top to bottom under nbval and matches its stored outputs.

Volatile values are blanked by ``notebooks/nbval_sanitize.cfg``; no cell is skipped.  Each
notebook runs in its own pytest process (nbval starts a kernel per notebook).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbval")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SANITIZE = ROOT / "notebooks" / "nbval_sanitize.cfg"


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"quickstart.ipynb", "checkpoints.ipynb",
                                           "fault_tolerance_models.ipynb",
                                           "checkpoint_sync.ipynb"}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_matches_its_outputs(notebook, tmp_path):
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
           "--nbval-current-env", "--nbval-sanitize-with", str(SANITIZE),
           "--nbval-cell-timeout", "120", "-o", "addopts=", "--rootdir", str(tmp_path),
           str(notebook)]
    run = subprocess.run(cmd, cwd=notebook.parent, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
