"""A chat stream cut midway, in a real kernel through ``%%sora_chat``.

What the user must be left with, in the cell's outputs as a notebook keeps them (display
updates applied, as every front end and nbformat do): the text received so far, an error line
saying the stream ended early, and the video task id already seen, so the paid video is not lost.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from sora_nb.emulator import Fault, serve
from sora_nb.journal import Journal
from tests.conftest import KEY
from tests.kernelutil import Run, kernel

pytestmark = pytest.mark.timeout(180)


def final_outputs(run: Run) -> list[dict[str, Any]]:
    """The cell's outputs once every message is applied, as a front end (or nbformat) keeps them."""
    outputs: list[dict[str, Any]] = []
    for msg in run.messages:
        kind, content = msg["msg_type"], msg["content"]
        if kind in ("display_data", "execute_result"):
            display_id = content.get("transient", {}).get("display_id")
            outputs.append({"type": kind, "data": dict(content["data"]), "id": display_id})
        elif kind == "update_display_data":
            for out in outputs:
                if out["id"] == content["transient"]["display_id"]:
                    out["data"] = dict(content["data"])
        elif kind == "stream":
            outputs.append({"type": "stream", "data": {"text/plain": content["text"]}, "id": None})
        elif kind == "error":
            outputs.append({"type": "error", "data": {"text/plain": content["evalue"]}, "id": None})
        elif kind == "clear_output":
            outputs.clear()
    return outputs


def visible_text(outputs: list[dict[str, Any]]) -> str:
    parts = []
    for out in outputs:
        for mime in ("text/markdown", "text/plain"):
            if out["data"].get(mime):
                parts.append(html.unescape(out["data"][mime]))
    return "\n".join(parts)


@pytest.fixture
def gateway():
    with serve(job_seconds=3.0, concurrency=4, seed=5, api_key=KEY, render_scale=0.1) as emu:
        yield emu


def test_cut_chat_stream_keeps_text_error_and_task_id_in_the_cell(gateway, tmp_path):
    env = {
        "SORA_BASE_URL": gateway.base_url,
        "SORA_API_KEY": KEY,
        "SORA_NB_DATA_DIR": str(tmp_path / "data"),
    }
    # Chunks: the prompt block, the task id, queued, rendering, then progress: cut after six.
    gateway.add_fault(Fault(kind="chat", action="cut_stream", after_chunks=6, times=1))
    with kernel(tmp_path, env) as k:
        setup = k.execute("%load_ext sora_nb\n%config SoraMagics.progress = 'html'")
        assert setup.status == "ok", setup.errors
        run = k.execute("%%sora_chat\na paper lantern drifting over a dark lake")
        # What sora_nb had received when the stream broke (the error it wrapped keeps it).
        kept = k.execute(
            "cause = get_ipython().last_execution_result.error_in_exec.__context__\n"
            "print(type(cause).__name__)\n"
            "print(repr(cause.text))\n"
            "print(cause.task_id)"
        )
    assert kept.status == "ok", kept.errors
    cause_type, text_repr, task_id = kept.text.strip().splitlines()
    assert cause_type == "StreamInterrupted"
    text_so_far = eval(text_repr)  # a repr printed by the kernel
    assert task_id.startswith("task_") and task_id in text_so_far

    # The error: one line (no traceback wall) saying the stream ended early, with the task id.
    assert run.status == "error"
    (error,) = run.errors
    assert error["ename"] == "SoraCellError"
    assert "ended early" in error["evalue"] and task_id in error["evalue"]
    assert len(error["traceback"]) == 1 and "\n" not in error["evalue"]

    outputs = final_outputs(run)
    shown = visible_text(outputs)
    assert task_id in shown
    # The text received so far is still there when the cell has finished.
    assert text_so_far.strip() in shown, (text_so_far, outputs)

    # The task id is in the journal too, so the video can be found again.
    entry = Journal(tmp_path / "data" / "jobs.sqlite3").get(task_id)
    assert entry is not None and entry.dialect == "chat"
    assert gateway.counters["chat"] == 1
    assert re.search(r"ID: `?" + re.escape(task_id), text_so_far)
