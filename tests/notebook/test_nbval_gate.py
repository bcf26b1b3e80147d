"""nbval really compares the tutorials' outputs, and what it compares holds on any machine.

A copy of notebooks/quickstart.ipynb is run with ``pytest --nbval`` in a subprocess, with the
tutorials' sanitize file and conftest, against the built-in emulator:

- as committed, in a folder whose ``videos/quickstart/`` already holds a video under every name
  the stored outputs give, each with one byte changed past its header: what another CPU's
  encoder renders for the same job, or an earlier run of the README's main job leaves. It
  passes, and the folder is byte for byte as it was (the run wrote nothing beside the notebook);
- with one stored result changed by hand: it fails, on that cell, because the outputs differ.
"""

from __future__ import annotations

import json
import os
import re
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
    shutil.copy(NOTEBOOKS / "conftest.py", folder)
    return Path(shutil.copy(NOTEBOOKS / "quickstart.ipynb", folder))


def other_machines_videos(notebook: Path) -> list[Path]:
    """Plant, beside ``notebook``, a video under each name its stored outputs give: a real mp4
    from the emulator's encoder with one byte changed past its header."""
    from sora_nb.emulator.render import render_video

    names = set(re.findall(r"videos/quickstart/[\w.-]+\.mp4", notebook.read_text("utf-8")))
    assert names, "the stored outputs name no video"
    media = render_video(
        "another CPU", seed=0, width=64, height=112, seconds=1, out_dir=notebook.parent, stem="v"
    )
    data = bytearray(media.mp4.read_bytes())
    for made in (media.mp4, media.thumbnail, media.spritesheet, media.gif):
        made.unlink()
    data[len(data) // 2] ^= 0xFF
    planted = []
    for name in sorted(names):
        path = notebook.parent / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(data))
        planted.append(path)
    return planted


def snapshot(folder: Path) -> dict[str, bytes]:
    skip = {"__pycache__", ".pytest_cache"}
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not skip & set(p.relative_to(folder).parts)
    }


def test_committed_quickstart_passes_beside_another_machines_videos(tmp_path: Path) -> None:
    folder = tmp_path / "as_committed"
    notebook = copy_quickstart(folder)
    planted = other_machines_videos(notebook)
    before = snapshot(folder)
    assert len(before) == 3 + len(planted)

    result = run_nbval(folder, tmp_path / "data")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
    assert snapshot(folder) == before, "the run wrote into the notebooks' folder"


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
