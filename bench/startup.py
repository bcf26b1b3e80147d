"""Start-up: ``%load_ext sora_nb`` in a fresh IPython and ``import sora_nb``, against
``import openai``, each in a fresh process."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from typing import Any

from .common import alternate, clean_env, fmt_seconds, goal, median, ratio, row, run_python

NAME = "startup"
TITLE = "Start-up"
METHOD = """\
Every sample is a fresh process. `%load_ext sora_nb` runs in a fresh IPython
(`python -m IPython --quick`, a temporary `IPYTHONDIR`, so no profile or history interferes):
the time is taken inside it, around `get_ipython().run_line_magic('load_ext', 'sora_nb')`, so
IPython's own start is not counted. With `SORA_BASE_URL` set (to a loopback port where nothing
listens) the emulator is not started: with `SORA_DIALECT=unified` nothing is contacted; without
a dialect `%load_ext` asks the gateway which families it serves (its GETs are refused at once
here, so this is the cost of the probe's code, not of a network). Without `SORA_BASE_URL`,
`%load_ext` imports and starts the built-in emulator. `import sora_nb` and `import openai` are
timed inside a fresh `python -c` around the import statement. Bytecode is kept in a folder of
the run's own (`PYTHONPYCACHEPREFIX`), filled by one discarded warm-up run of each kind, so every
package is measured from bytecode as an installed one runs. The kinds run in turn, the order
reversed every other round; figures are medians. One extra `-X importtime` run of each
`%load_ext` shows where the time goes: the packages first imported during the call, by
cumulative time."""

# __phello__: a tiny frozen module nothing imports, a marker in `-X importtime` output for where the
# timed part starts.
_IPY_CODE = (
    "import __phello__, json, time; t = time.perf_counter(); "
    "get_ipython().run_line_magic('load_ext', 'sora_nb'); "
    "print(json.dumps({'seconds': time.perf_counter() - t}))"
)
_IMPORT = "import json, time; t = time.perf_counter(); import {m}; " + (
    "print(json.dumps({{'seconds': time.perf_counter() - t}}))"
)
NO_GATEWAY = "http://127.0.0.1:9/v1"  # set so the emulator is not started; never contacted


def _ipython(env: dict[str, str], extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *extra, "-m", "IPython", "--quick", "--no-banner", "-c", _IPY_CODE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _load_ext(env: dict[str, str]) -> float:
    proc = _ipython(env)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    found = re.findall(r'\{"seconds": ([0-9.e-]+)\}', proc.stdout)
    if not found:
        raise RuntimeError(f"no timing from IPython: {proc.stdout[-500:]} {proc.stderr[-500:]}")
    return float(found[-1])


def _import(module: str, env: dict[str, str]) -> float:
    return float(run_python(_IMPORT.format(m=module), env=env)["seconds"])


def _deep_breakdown(env: dict[str, str], top: int = 8) -> list[tuple[str, float]]:
    """Packages first imported by ``%load_ext`` (after the marker), by cumulative import time."""
    proc = _ipython(env, ("-X", "importtime"))
    lines = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            lines.append((m.group(4), int(m.group(2)) / 1e6))
    start = next((i for i, (name, _) in enumerate(lines) if name == "__phello__"), None)
    if start is None:
        return []
    best: dict[str, float] = {}
    for name, cumulative in lines[start + 1 :]:
        root = name.split(".")[0]
        best[root] = max(best.get(root, 0.0), cumulative)
    return sorted(best.items(), key=lambda x: -x[1])[:top]


def run(quick: bool = False) -> dict[str, Any]:
    rounds = 3 if quick else 15
    tmp = tempfile.TemporaryDirectory(prefix="sora-bench-startup-")
    # Compiled bytecode is kept in a folder of the run's own (not in the checkout), for every
    # package alike, and one warm-up run of each kind fills it: both sides are measured as an
    # installed package runs, from bytecode, never compiling their source.
    base = clean_env(
        IPYTHONDIR=tmp.name, SORA_NB_DATA_DIR=tmp.name, PYTHONPYCACHEPREFIX=f"{tmp.name}/pyc"
    )
    base.pop("PYTHONDONTWRITEBYTECODE", None)
    with_url = {**base, "SORA_BASE_URL": NO_GATEWAY, "SORA_DIALECT": "unified"}
    with_auto = {**base, "SORA_BASE_URL": NO_GATEWAY}
    kinds = {
        "load_ext": lambda r: _load_ext(with_url),
        "load_ext_auto": lambda r: _load_ext(with_auto),
        "openai": lambda r: _import("openai", base),
        "import_sora_nb": lambda r: _import("sora_nb", base),
        "load_ext_emulator": lambda r: _load_ext(base),
    }
    try:
        for measure in kinds.values():
            measure(-1)  # warm-up: bytecode written, not counted
        samples = alternate(kinds, rounds)
        breakdown = _deep_breakdown(with_url)
        breakdown_emulator = _deep_breakdown(base)
    finally:
        tmp.cleanup()
    m = {k: median(v) for k, v in samples.items()}
    r_load = ratio(m["load_ext"], m["openai"])
    r_auto = ratio(m["load_ext_auto"], m["openai"])
    r_import = ratio(m["import_sora_nb"], m["openai"])
    r_emu = ratio(m["load_ext_emulator"], m["openai"])
    openai_text = f"`import openai`: {fmt_seconds(m['openai'])}"
    rows = [
        row(
            "`%load_ext sora_nb` (gateway and dialect set, no emulator)",
            fmt_seconds(m["load_ext"]),
            openai_text,
            r_load,
        ),
        row(
            "`%load_ext sora_nb` (gateway set, `dialect=auto`: it asks the gateway at load)",
            fmt_seconds(m["load_ext_auto"]),
            openai_text,
            r_auto,
        ),
        row("`import sora_nb`", fmt_seconds(m["import_sora_nb"]), openai_text, r_import),
        row(
            "`%load_ext sora_nb` starting the built-in emulator",
            fmt_seconds(m["load_ext_emulator"]),
            openai_text,
            r_emu,
        ),
    ]
    goals = [
        goal(
            "`%load_ext sora_nb` with a gateway at most a quarter of `import openai` (≤ 0.25)",
            f"{r_load:.2f}",
            r_load <= 0.25,
        ),
        goal(
            "`%load_ext sora_nb` starting the emulator at most half of `import openai` (≤ 0.5)",
            f"{r_emu:.2f}",
            r_emu <= 0.5,
        ),
    ]
    notes = [
        "Where `%load_ext sora_nb` (gateway set) spends its time: the packages it imports first, "
        "by cumulative `-X importtime` (sora_nb includes everything it pulls in): "
        + ", ".join(f"{n} {fmt_seconds(s)}" for n, s in breakdown),
        "The same with the emulator started: "
        + ", ".join(f"{n} {fmt_seconds(s)}" for n, s in breakdown_emulator),
    ]
    return {
        "rows": rows,
        "goals": goals,
        "notes": notes,
        "params": {"rounds": rounds},
        "raw": {
            "samples": samples,
            "medians": m,
            "breakdown": breakdown,
            "breakdown_emulator": breakdown_emulator,
        },
    }


def explain(result: dict[str, Any]) -> list[str]:
    if all(g["met"] for g in result["goals"]):
        return []
    m = result["raw"]["medians"]
    parts = ", ".join(f"{n} {fmt_seconds(s)}" for n, s in result["raw"]["breakdown"])
    return [
        f"`%load_ext sora_nb` took {fmt_seconds(m['load_ext'])} (gateway set) and "
        f"{fmt_seconds(m['load_ext_emulator'])} (emulator) against {fmt_seconds(m['openai'])} "
        f"for `import openai`. What it imports first, by cumulative import time: {parts}."
    ]
