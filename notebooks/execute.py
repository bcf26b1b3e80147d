"""Execute the tutorial notebooks as committed: offline, against the built-in emulator.

    python notebooks/execute.py [NAME ...]     # from the repository root; default: all of them

For each notebook: a fresh journal (SORA_NB_DATA_DIR), no SORA_* gateway variables, its videos
folder emptied first, then `jupyter execute --inplace` from the notebooks folder. Afterwards:
- machine paths are taken out of outputs (%sora_jobs shows saved files as absolute paths):
  the notebooks folder's absolute path becomes "…/";
- the widget state keeps only the widgets some output still shows (the live status widgets are
  closed when their cell ends, but nbclient keeps their state);
- per-cell execution timestamps are dropped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NOTEBOOKS = Path("notebooks").resolve()  # run from the repository root
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
REF = re.compile(r"IPY_MODEL_([0-9a-f]+)")


def _map_text(value, fn):
    if isinstance(value, list):
        return [fn(v) for v in value]
    return fn(value) if isinstance(value, str) else value


def clean(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    prefix = str(NOTEBOOKS.resolve()) + os.sep
    shown: set[str] = set()
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("execution", None)
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = _map_text(out["text"], lambda t: t.replace(prefix, "…/"))
            data = out.get("data", {})
            for key in data:
                data[key] = _map_text(data[key], lambda t: t.replace(prefix, "…/"))
            if WIDGET_VIEW in data:
                shown.add(data[WIDGET_VIEW]["model_id"])
    widgets = nb["metadata"].get("widgets", {}).get(WIDGET_STATE)
    if widgets is not None:
        state, keep, todo = widgets["state"], set(), list(shown)
        while todo:
            model = todo.pop()
            if model in keep or model not in state:
                continue
            keep.add(model)
            todo += REF.findall(json.dumps(state[model]))
        widgets["state"] = {k: v for k, v in state.items() if k in keep}
        if not keep:
            del nb["metadata"]["widgets"]
    text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    assert prefix not in text, f"{path.name}: a machine path is left"
    path.write_text(text, encoding="utf-8")


def execute(name: str, jupyter: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SORA_")}
    with tempfile.TemporaryDirectory(prefix="sora_nb-journal-") as data_dir:
        env["SORA_NB_DATA_DIR"] = data_dir
        shutil.rmtree(NOTEBOOKS / "videos" / name, ignore_errors=True)
        subprocess.run(
            [jupyter, "execute", f"{name}.ipynb", "--inplace"], cwd=NOTEBOOKS, env=env, check=True
        )
    clean(NOTEBOOKS / f"{name}.ipynb")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--clean-only"]:
        for name in sys.argv[2:]:
            clean(NOTEBOOKS / f"{name}.ipynb")
        sys.exit()
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
    names = sys.argv[1:] or sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    for name in names:
        execute(name, jupyter)
        print("executed", name, flush=True)
