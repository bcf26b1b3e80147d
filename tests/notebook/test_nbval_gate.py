"""nbval really compares the tutorials' outputs: an edited stored output makes it fail.

A copy of notebooks/quickstart.ipynb is run with ``pytest --nbval`` in a subprocess, with the
tutorials' sanitize file, against the built-in emulator: once as committed (it passes), once with
one stored result changed by hand (it fails, on that cell, because the outputs differ).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbval")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SOURCE = "boat.id, boat.status, boat.width, boat.height, str(boat.path)"


def run_nbval(folder: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SORA_")}
    env.pop("PYTEST_ADDOPTS", None)
    env["SORA_NB_DATA_DIR"] = str(data_dir)  # a fresh journal, as for the committed run
    sanitize = str(folder / "sanitize.cfg")
    args = ["--nbval", "--nbval-current-env", "--nbval-sanitize-with", sanitize]
    args += ["-p", "no:cacheprovider", "--rootdir", str(folder), "-q", "quickstart.ipynb"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def copy_quickstart(folder: Path) -> Path:
    folder.mkdir()
    shutil.copy(NOTEBOOKS / "sanitize.cfg", folder)
    return Path(shutil.copy(NOTEBOOKS / "quickstart.ipynb", folder))


def test_committed_quickstart_passes(tmp_path: Path) -> None:
    folder = tmp_path / "as_committed"
    copy_quickstart(folder)
    result = run_nbval(folder, tmp_path / "data")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_an_edited_output_fails(tmp_path: Path) -> None:
    folder = tmp_path / "edited"
    notebook = copy_quickstart(folder)
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    (cell,) = [c for c in nb["cells"] if "".join(c["source"]) == SOURCE]
    (result,) = [o for o in cell["outputs"] if o["output_type"] == "execute_result"]
    text = "".join(result["data"]["text/plain"])
    assert "'completed'" in text
    result["data"]["text/plain"] = text.replace("'completed'", "'failed'")
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")

    run = run_nbval(folder, tmp_path / "data")
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert "1 failed" in run.stdout
    assert "Cell outputs differ" in run.stdout
    assert SOURCE in run.stdout  # the failure names the edited cell
