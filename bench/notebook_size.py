"""Notebook size: the quickstart executed headless, videos as files (the default) against the
same notebook with the videos embedded."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .common import ROOT, alternate, clean_env, fmt_bytes, goal, median, ratio, row

NAME = "notebook_size"
TITLE = "Notebook size"
NOTEBOOK = ROOT / "notebooks" / "quickstart.ipynb"
EMBED_CELL = "%config SoraMagics.show = 'embed'"
METHOD = """\
`notebooks/quickstart.ipynb` is copied into a fresh temporary folder and executed headless with
`jupyter execute --output=run.ipynb` (no gateway configured, so `%load_ext sora_nb` starts the
built-in emulator, as a new user would see it; a temporary `SORA_NB_DATA_DIR`). Default: the
notebook as it is (videos saved beside it, shown with a `<video>` element pointing at the file).
Embedded: the same notebook with a first code cell `%config SoraMagics.show = 'embed'` (IPython
keeps the setting and applies it when `%load_ext` creates the magics). The size is the executed
`.ipynb` file's. The two alternate, the order reversed every other round; figures are
medians."""


def _plan(quick: bool) -> dict[str, Any]:
    return {"rounds": 1 if quick else 2}


def _execute(embed: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sora-bench-nb-") as tmp:
        folder = Path(tmp)
        nb = json.loads(NOTEBOOK.read_text())
        if embed:
            cell = {
                "cell_type": "code",
                "execution_count": None,
                "id": "bench-embed",
                "metadata": {},
                "outputs": [],
                "source": [EMBED_CELL],
            }
            nb["cells"].insert(0, cell)
        (folder / "quickstart.ipynb").write_text(json.dumps(nb, indent=1))
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "jupyter",
                "execute",
                "--output=run.ipynb",
                "quickstart.ipynb",
            ],
            cwd=folder,
            env=clean_env(SORA_NB_DATA_DIR=str(folder / "data")),
            capture_output=True,
            text=True,
            timeout=600,
        )
        out = folder / "run.ipynb"
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"jupyter execute failed:\n{proc.stderr[-3000:]}")
        executed = json.loads(out.read_text())
        errors = [
            o
            for c in executed["cells"]
            for o in c.get("outputs", [])
            if o.get("output_type") == "error"
        ]
        if errors:
            raise RuntimeError(f"the notebook raised: {errors[0].get('evalue')}")
        largest = max(
            (len(json.dumps(o)) for c in executed["cells"] for o in c.get("outputs", [])),
            default=0,
        )
        videos = sum(p.stat().st_size for p in folder.rglob("*.mp4") if p.is_file())
        return {
            "bytes": out.stat().st_size,
            "largest_output": largest,
            "video_files": videos,
            "source_bytes": (folder / "quickstart.ipynb").stat().st_size,
        }


def run(quick: bool = False) -> dict[str, Any]:
    plan = _plan(quick)
    samples = alternate(
        {"file": lambda r: _execute(False), "embed": lambda r: _execute(True)}, plan["rounds"]
    )
    m = {side: {k: median([x[k] for x in runs]) for k in runs[0]} for side, runs in samples.items()}
    f, e = m["file"], m["embed"]
    rows = [
        row(
            "Executed quickstart.ipynb",
            fmt_bytes(f["bytes"]),
            f"videos embedded: {fmt_bytes(e['bytes'])}",
            ratio(f["bytes"], e["bytes"]),
        ),
        row(
            "Largest single output",
            fmt_bytes(f["largest_output"]),
            f"videos embedded: {fmt_bytes(e['largest_output'])}",
            ratio(f["largest_output"], e["largest_output"]),
        ),
        row(
            "Video files saved beside the notebook",
            fmt_bytes(f["video_files"]),
            f"videos embedded: {fmt_bytes(e['video_files'])}",
            None,
        ),
    ]
    goals = [
        goal("Executed quickstart under 100 KiB", fmt_bytes(f["bytes"]), f["bytes"] < 100 << 10),
    ]
    notes = [
        f"The unexecuted notebook is {fmt_bytes(f['source_bytes'])}.",
        f"The emulator's videos are small ({fmt_bytes(f['video_files'])} in all here: "
        "synthetic frames rendered at a quarter of the reported size). Embedding adds about "
        "4/3 of the video's bytes (base64), so with a real gateway's videos, megabytes each, the "
        "embedded notebook grows to megabytes; the default notebook's size does not depend on "
        "the videos.",
    ]
    return {"rows": rows, "goals": goals, "notes": notes, "params": plan, "raw": samples}


def explain(result: dict[str, Any]) -> list[str]:
    if all(g["met"] for g in result["goals"]):
        return []
    f = result["raw"]["file"][0]
    return [
        f"The executed notebook is {fmt_bytes(f['bytes'])}; its largest output "
        f"{fmt_bytes(f['largest_output'])}."
    ]
