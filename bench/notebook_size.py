"""Notebook size in each display mode: the quickstart executed headless with ``show`` set to
file (what ``auto`` picks there), widget, embed and link, with videos of a realistic size."""

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
# A 10 s Sora-2 video at 720p is megabytes; the emulator's are tens of KiB (synthetic frames at
# a quarter of the reported size), so its files are padded to this size (a `free` box, which
# players skip) to show what each mode costs with real videos.
PADDING = 4 << 20
MODES = ("file", "widget", "embed", "link")
METHOD = f"""\
`notebooks/quickstart.ipynb` is copied into a fresh temporary folder and executed headless with
`jupyter execute --output=run.ipynb` (no gateway configured, so `%load_ext sora_nb` starts the
built-in emulator; a temporary `SORA_NB_DATA_DIR`), once per display mode: a first code cell sets
`%config SoraMagics.show = '<mode>'`, and a cell right after `%load_ext` pads the emulator's
videos to {PADDING >> 20} MiB (`video_padding`, a `free` box players skip), the size of a real
10-second 720p video. *file* is what `show = 'auto'` picks for a headless run with the videos
beside the notebook. *widget*: `jupyter execute` (nbclient) saves the widgets' state, video bytes
included, in the notebook's metadata, as JupyterLab does only when "Save widget state
automatically" is on; the size without that metadata (JupyterLab's default) is reported too.
The size is the executed `.ipynb` file's. The modes alternate, the order reversed every other
round; figures are medians."""


def _plan(quick: bool) -> dict[str, Any]:
    return {"rounds": 1 if quick else 2, "padding": PADDING}


def _cell(source: str, cid: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cid,
        "metadata": {},
        "outputs": [],
        "source": [source],
    }


def _execute(mode: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sora-bench-nb-") as tmp:
        folder = Path(tmp)
        nb = json.loads(NOTEBOOK.read_text())
        load = next(
            i
            for i, c in enumerate(nb["cells"])
            if c["cell_type"] == "code" and "%load_ext sora_nb" in "".join(c["source"])
        )
        pad = f"__import__('sora_nb').magics().emulator.set(video_padding={PADDING})"
        nb["cells"].insert(load + 1, _cell(pad, "bench-padding"))
        nb["cells"].insert(0, _cell(f"%config SoraMagics.show = {mode!r}", "bench-mode"))
        (folder / "quickstart.ipynb").write_text(json.dumps(nb, indent=1))
        proc = subprocess.run(
            [sys.executable, "-m", "jupyter", "execute", "--output=run.ipynb", "quickstart.ipynb"],
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
        outputs = [o for c in executed["cells"] for o in c.get("outputs", [])]
        largest = max((len(json.dumps(o)) for o in outputs), default=0)
        widget_state = len(json.dumps(executed["metadata"].get("widgets", {})))
        executed["metadata"].pop("widgets", None)
        without_state = len(json.dumps(executed, indent=1))
        videos = [p for p in folder.rglob("*.mp4") if p.is_file()]
        return {
            "bytes": out.stat().st_size,
            "bytes_without_widget_state": without_state,
            "widget_state": widget_state,
            "largest_output": largest,
            "videos": len(videos),
            "video_files": sum(p.stat().st_size for p in videos),
        }


def run(quick: bool = False) -> dict[str, Any]:
    plan = _plan(quick)
    samples = alternate({m: (lambda r, m=m: _execute(m)) for m in MODES}, plan["rounds"])
    med = {
        side: {k: median([x[k] for x in runs]) for k in runs[0]} for side, runs in samples.items()
    }
    e = med["embed"]
    saved = (
        ("bytes_without_widget_state", "saved without widget state (JupyterLab)"),
        ("bytes", "saved with widget state (nbclient)"),
    )
    rows = [
        row(
            f"Executed quickstart, show={mode}, {how}",
            fmt_bytes(med[mode][key]),
            f"show=embed: {fmt_bytes(e[key])}",
            ratio(med[mode][key], e[key]),
        )
        for key, how in saved
        for mode in ("file", "widget", "link")
    ]
    w = med["widget"]
    for mode in ("file", "widget", "link"):
        m = med[mode]
        rows.append(
            row(
                f"Largest single output, show={mode}",
                fmt_bytes(m["largest_output"]),
                f"show=embed: {fmt_bytes(e['largest_output'])}",
                ratio(m["largest_output"], e["largest_output"]),
            )
        )
    rows.append(
        row(
            "Video files saved beside the notebook",
            f"{med['file']['videos']:.0f} file(s), {fmt_bytes(med['file']['video_files'])}",
            f"show=link: {fmt_bytes(med['link']['video_files'])}",
            None,
        )
    )
    f = med["file"]
    goals = [
        goal("show=file notebook under 100 KiB", fmt_bytes(f["bytes"]), f["bytes"] < 100 << 10),
        goal(
            "show=widget notebook (state not saved) under 100 KiB",
            fmt_bytes(w["bytes_without_widget_state"]),
            w["bytes_without_widget_state"] < 100 << 10,
        ),
    ]
    notes = [
        f"Embedding costs 4/3 of each video ({fmt_bytes(e['bytes'])} for "
        f"{med['file']['videos']:.0f} video(s) of {PADDING >> 20} MiB): that is why `auto` embeds "
        "only in Colab (no file route; large embeds can crash its output frame) and only up to "
        "`SoraMagics.embed_limit_mb`.",
        f"With show=widget the saved widget state is {fmt_bytes(w['widget_state'])} (against "
        f"{fmt_bytes(med['file']['widget_state'])} with show=file: the status and panel "
        "widgets): the video's bytes, base64, in the notebook's metadata instead of the outputs.",
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
