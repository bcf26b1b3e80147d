"""Streaming chat into a notebook: what a long stream costs the front end, and how soon the
first text shows, for ``%%sora_chat`` against updating the display on every chunk."""

from __future__ import annotations

import tempfile
from typing import Any

from .common import (
    DISPLAY_TYPES,
    alternate,
    clean_env,
    emulator_process,
    fmt_bytes,
    fmt_seconds,
    goal,
    kernel,
    median,
    ratio,
    row,
)

NAME = "streaming"
TITLE = "Streaming chat into a notebook"
METHOD = """\
A real kernel (ipykernel, started with jupyter_client as a front end would) talks to an emulator
running in a process of its own (`chat_chunks` chunks, `chat_chunk_delay` between them, model
`gpt-4`, seeded, so every run gets the same reply). The benchmark reads the kernel's iopub
messages like a front end. sora_nb: a `%%sora_chat -m gpt-4 --new` cell. The comparison, the
obvious hand-written cell: `display(Markdown(""), display_id=True)` then a loop over
`sora_nb.Client().stream_chat(...)` calling `handle.update(Markdown(event.full_text))` for every
event. Messages and bytes are what the front end received for the cell: every
`display_data`/`update_display_data`/`execute_result`, bytes = all values of every bundle,
UTF-8 (the same count sora_nb's kernel tests use); "final text" = the UTF-8 length of the whole
reply. For "first visible text" a setup cell instruments the kernel without changing what it
does: it wraps `ChatStreamState.feed` (the parser every stream goes through) to note the
monotonic time the first chunk with text was parsed, and the kernel's `display_pub.publish` to
note the time the first display message with non-empty `text/markdown` left for the front end
(and to count what was published, a check that the front end lost nothing). The delay is the
difference of the two, both kernel-side; the time the benchmark's front end received that
message is given too (CLOCK_MONOTONIC is shared by processes on Linux). The two cells
alternate in one kernel, after one unmeasured warm-up stream; figures are medians."""

SETUP = r"""
import json as _bjson, time as _btime
from IPython import get_ipython as _bget
import sora_nb.dialects.chat as _bchat
_B = {}
def _bench_reset():
    _B.clear()
    _B.update(first_chunk=None, first_text=None, published=0, published_bytes=0,
              cpu0=_btime.process_time())
_bench_reset()
_bfeed0 = _bchat.ChatStreamState.feed
def _bfeed(self, data):
    event = _bfeed0(self, data)
    if event is not None and event.text and _B["first_chunk"] is None:
        _B["first_chunk"] = _btime.monotonic()
    return event
_bchat.ChatStreamState.feed = _bfeed
_bpub = _bget().display_pub
_bpublish0 = _bpub.publish
def _bpublish(*args, **kwargs):
    now = _btime.monotonic()
    data = kwargs.get("data", args[0] if args else {}) or {}
    _B["published"] += 1
    _B["published_bytes"] += sum(len(str(v).encode()) for v in data.values())
    if _B["first_text"] is None and data.get("text/markdown"):
        _B["first_text"] = now
    return _bpublish0(*args, **kwargs)
_bpub.publish = _bpublish
%load_ext sora_nb
"""
PROMPT = "Tell me a long story about boats."
SORA_CELL = f"%%sora_chat -m gpt-4 --new --name _breply\n{PROMPT}"
NAIVE_CELL = f"""
_bench_reset()
from IPython.display import Markdown, display
import sora_nb
_bhandle = display(Markdown(""), display_id=True)
_bfull = ""
for _bevent in sora_nb.Client().stream_chat({PROMPT!r}, model="gpt-4"):
    _bfull = _bevent.full_text
    _bhandle.update(Markdown(_bfull))
_B["final_bytes"] = len(_bfull.encode())
"""
_CPU = "_B['cpu'] = _btime.process_time() - _B['cpu0']; "
REPORT_SORA = _CPU + "_B['final_bytes'] = len(_breply.text.encode()); print(_bjson.dumps(_B))"
REPORT_NAIVE = _CPU + "print(_bjson.dumps(_B))"


def _plan(quick: bool) -> dict[str, Any]:
    if quick:
        return {"chunks": 500, "delay": 0.001, "rounds": 1}
    return {"chunks": 5000, "delay": 0.0005, "rounds": 3}


def _one(k: Any, side: str) -> dict[str, Any]:
    if side == "sora_nb":
        # A cell magic must start its cell: reset the counters in a cell of their own.
        k.execute("_bench_reset()")
        run = k.execute(SORA_CELL)
        info = k.execute(REPORT_SORA).last_json()
    else:
        run = k.execute(NAIVE_CELL)
        info = k.execute(REPORT_NAIVE).last_json()
    shown = run.of(*DISPLAY_TYPES)
    first_seen = next(
        (t for t, m in shown if m["content"]["data"].get("text/markdown")), float("nan")
    )
    results = len(run.of("execute_result"))
    return {
        "messages": len(shown),
        "bytes": run.display_bytes(),
        "result_bytes": sum(
            len(str(v).encode())
            for _, msg in run.of("execute_result")
            for v in msg["content"]["data"].values()
        ),
        "final_bytes": info["final_bytes"],
        "first_visible": info["first_text"] - info["first_chunk"],
        "first_received": first_seen - info["first_chunk"],
        "published": info["published"] + results,
        "published_bytes": info["published_bytes"],
        "cell_seconds": run.ended - run.started,
        "kernel_cpu": info["cpu"],
    }


def run(quick: bool = False) -> dict[str, Any]:
    plan = _plan(quick)
    with (
        emulator_process(seed=5, chat_chunks=plan["chunks"], chat_chunk_delay=plan["delay"]) as emu,
        tempfile.TemporaryDirectory(prefix="sora-bench-stream-") as tmp,
    ):
        env = clean_env(
            SORA_BASE_URL=emu["base_url"], SORA_API_KEY="sk-bench", SORA_NB_DATA_DIR=tmp
        )
        with kernel(tmp, env) as k:
            k.execute(SETUP)
            k.execute(SORA_CELL)  # warm-up, not measured
            samples = alternate(
                {"sora_nb": lambda r: _one(k, "sora_nb"), "naive": lambda r: _one(k, "naive")},
                plan["rounds"],
            )
    m = {
        side: {key: median([x[key] for x in runs]) for key in runs[0]}
        for side, runs in samples.items()
    }
    s, n = m["sora_nb"], m["naive"]
    final = s["final_bytes"]
    rows = [
        row(
            f"Display messages, {plan['chunks']:,}-chunk stream",
            f"{s['messages']:.0f}",
            f"update per chunk: {n['messages']:.0f}",
            ratio(s["messages"], n["messages"]),
        ),
        row(
            "Bytes to the front end",
            fmt_bytes(s["bytes"]),
            f"update per chunk: {fmt_bytes(n['bytes'])}",
            ratio(s["bytes"], n["bytes"]),
        ),
        row(
            f"Bytes / final text ({fmt_bytes(final)})",
            f"{s['bytes'] / final:.1f}x",
            f"update per chunk: {n['bytes'] / n['final_bytes']:.0f}x",
            ratio(s["bytes"] / final, n["bytes"] / n["final_bytes"]),
        ),
        row(
            "First chunk parsed → first text published (kernel)",
            fmt_seconds(s["first_visible"]),
            f"update per chunk: {fmt_seconds(n['first_visible'])}",
            ratio(s["first_visible"], n["first_visible"]),
        ),
        row(
            "First chunk parsed → first text received by the front end",
            fmt_seconds(s["first_received"]),
            f"update per chunk: {fmt_seconds(n['first_received'])}",
            ratio(s["first_received"], n["first_received"]),
        ),
        row(
            "Cell run time (execute → idle)",
            fmt_seconds(s["cell_seconds"]),
            f"update per chunk: {fmt_seconds(n['cell_seconds'])}",
            ratio(s["cell_seconds"], n["cell_seconds"]),
        ),
        row(
            "Kernel CPU time for the cell (all threads)",
            fmt_seconds(s["kernel_cpu"]),
            f"update per chunk: {fmt_seconds(n['kernel_cpu'])}",
            ratio(s["kernel_cpu"], n["kernel_cpu"]),
        ),
    ]
    goals = [
        goal(
            "Bytes under 20x the final text", f"{s['bytes'] / final:.1f}x", s["bytes"] < 20 * final
        ),
        goal(
            "First text within 100 ms of the first chunk",
            fmt_seconds(s["first_visible"]),
            s["first_visible"] <= 0.1,
        ),
    ]
    lost = {side: [x["published"] - x["messages"] for x in runs] for side, runs in samples.items()}
    notes = [
        f"Published by the kernel minus received by the front end, per run: {lost} "
        "(0 means nothing was dropped on the way).",
        f"Of sora_nb's {fmt_bytes(s['bytes'])}, the cell's final result (the reply as "
        f"`text/plain` and `text/markdown`) is {fmt_bytes(s['result_bytes'])}; the live updates "
        f"are the other {fmt_bytes(s['bytes'] - s['result_bytes'])} "
        f"({(s['bytes'] - s['result_bytes']) / final:.1f}x the final text; `LiveMarkdown`'s "
        "rule allows (1 + 1/growth) = 6x, plus one whole-text update per `max_gap`, 2 s).",
    ]
    if n["final_bytes"] != final:
        notes.append(f"The two sides' replies differ in length: {final} vs {n['final_bytes']}.")
    return {
        "rows": rows,
        "goals": goals,
        "notes": notes,
        "params": plan,
        "raw": {"samples": samples, "medians": m},
    }


def explain(result: dict[str, Any]) -> list[str]:
    out = []
    s = result["raw"]["medians"]["sora_nb"]
    for g in result["goals"]:
        if g["met"]:
            continue
        if g["goal"].startswith("Bytes"):
            out.append(
                f"{g['goal']}: {g['value']} over {s['messages']:.0f} messages. Every update of "
                "`LiveMarkdown` (`sora_nb/notebook/sinks.py`) carries the whole text so far; the "
                "growth rule bounds the updates to the stream's growth, and a slow stream adds "
                "one whole-text update per `max_gap` (2 s)."
            )
        else:
            out.append(
                f"{g['goal']}: {g['value']}. `LiveMarkdown.append` sends the first text at once; "
                "the delay is the kernel's, between parsing and publishing."
            )
    return out
