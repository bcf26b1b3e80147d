"""The magics in JupyterLab, in a real browser, with no gateway configured.

``%load_ext sora_nb`` starts the built-in emulator inside the kernel; each test opens its own
notebook (and kernel) and checks what the page shows: the live status line, a ``<video>`` that
loads and plays, chat text that streams in, gateway text that cannot run script.
"""

from __future__ import annotations

import re
import time
from itertools import pairwise
from pathlib import Path

import pytest

from sora_nb.emulator.chat_text import ordinary_reply
from tests.browser.conftest import (
    cell,
    cell_state,
    is_done,
    run_all,
    run_cell,
    wait_cell_done,
    wait_for_video,
    write_notebook,
)

pytestmark = pytest.mark.timeout(120)

SETUP = [
    # Emulator settings are read when the extension loads, so they go in before %load_ext.
    "get_ipython().config.SoraMagics.emulator_job_seconds = 3",
    "%load_ext sora_nb",
]
EMULATOR_CELL = 1  # the %load_ext cell


@pytest.fixture(autouse=True)
def _one_kernel_at_a_time(lab):
    lab.stop_kernels()


def _open(lab, page, name, cells):
    write_notebook(lab.root, name, [*SETUP, *cells])
    lab.open(page, name)
    for i in range(len(SETUP)):
        _run_ok(page, i)
    loaded = cell_state(page, EMULATOR_CELL)["text"]
    assert "built-in emulator is serving at http://127.0.0.1:" in loaded, loaded
    return len(SETUP)


def _run_ok(page, index):
    run_cell(page, index)
    state = wait_cell_done(page, index, timeout=60_000)
    assert "Error" not in state["text"], state["text"]
    return state


def _watch(page, index, timeout=60.0, every=0.1, probe=None):
    """Sample cell ``index`` until it finishes; returns the samples taken while it ran, and the
    state it finished in. ``probe(page)``, if given, is added to each sample as ``"probe"``."""
    samples = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = cell_state(page, index)
        if probe is not None:
            state["probe"] = probe(page)
        if is_done(state["prompt"]):
            return samples, state
        samples.append(state)
        page.wait_for_timeout(every * 1000)
    raise AssertionError(f"cell {index} did not finish in {timeout} s: {samples[-1:]}")


def _check_plays(video, *, duration, portrait):
    assert video["error"] is None and video["playError"] is None, video
    assert video["readyState"] >= 2, video
    assert abs(video["duration"] - duration) <= 0.2, video
    assert video["videoWidth"] > 0 and video["videoHeight"] > 0, video
    if portrait:
        assert video["videoHeight"] > video["videoWidth"], video
    else:
        assert video["videoWidth"] > video["videoHeight"], video
    assert not video["paused"], video
    assert video["framesAfter"] > video["framesBefore"], video
    assert video["timeAfter"] > video["timeBefore"], video


def test_video_cell_shows_live_status_then_plays(lab, lab_env, page, page_log):
    first = _open(
        lab, page, "video.ipynb", ["%%sora_video --duration 10\na paper boat in the rain"]
    )
    run_cell(page, first)
    running, done = _watch(page, first)

    # The status line moved while the job ran: at least three different lines with a percent.
    lines = [s["text"].strip() for s in running if "%" in s["text"]]
    distinct = list(dict.fromkeys(lines))
    assert len(distinct) >= 3, [s["text"] for s in running]
    percents = {re.search(r"(\d+)%", line).group(1) for line in distinct}
    assert len(percents) >= 2, distinct

    # The video, in this cell only, loads and plays.
    assert "Error" not in done["text"], done["text"]
    assert done["html"].count("<video") == 1, done["html"]
    assert page.locator(".jp-OutputArea video").count() == 1
    video = wait_for_video(page, first)
    _check_plays(video, duration=10, portrait=True)
    # Saved beside the notebook, served by Lab through /files/.
    assert "/files/videos/" in video["src"], video
    assert list((lab.root / "videos").glob("*.mp4")), list(lab.root.iterdir())
    # The kernel saw the environment the test chose: the journal is in the tmp data folder.
    assert any(Path(lab_env["SORA_NB_DATA_DIR"]).iterdir())
    assert not page_log.errors, page_log.errors

    # The status line went back to empty: the video is the cell's one output.
    final = cell_state(page, first)
    assert "%" not in final["text"], final["text"]
    assert "progress" not in final["html"], final["html"]  # no widget bar, no <progress>


def test_landscape_video_plays_after_run_all(lab, page, page_log):
    """Run All straight after opening the notebook (the kernel-readiness race)."""
    cells = [
        *SETUP,
        "%%sora_video --orientation landscape --duration 15 --model sora-2\nwaves at dawn",
    ]
    write_notebook(lab.root, "landscape.ipynb", cells)
    lab.open(page, "landscape.ipynb")
    run_all(page)
    last = len(cells) - 1
    done = wait_cell_done(page, last, timeout=60_000)
    assert "Error" not in done["text"], done["text"]
    assert "built-in emulator" in cell_state(page, EMULATOR_CELL)["text"]
    video = wait_for_video(page, last)
    _check_plays(video, duration=15, portrait=False)
    assert not page_log.errors, page_log.errors


def test_chat_streams_into_the_cell(lab, page, page_log):
    message = "Tell me about paper boats."
    first = _open(
        lab,
        page,
        "chat.ipynb",
        [
            # The extension keeps (context, emulator) on the magics object.
            "__import__('sora_nb').magics().emulator.set(chat_chunks=400, chat_chunk_delay=0.01)",
            f"%%sora_chat -m gpt-4\n{message}",
        ],
    )
    _run_ok(page, first)
    chat = first + 1
    run_cell(page, chat)
    running, _ = _watch(page, chat, every=0.15)

    lengths = [len(s["text"].strip()) for s in running]
    assert len(lengths) >= 3, lengths
    grew = sum(b > a for a, b in pairwise(lengths))
    assert grew >= 2, lengths

    # The whole answer is there, once: the live view went back to empty when the cell's result
    # (the same text) was shown. Late renders of the live view would have landed within 1 s.
    page.wait_for_timeout(1000)
    final = cell_state(page, chat)
    expected = ordinary_reply("gpt-4", [{"role": "user", "content": message}], 0, 400)
    shown = " ".join(final["text"].split())
    assert " ".join(expected.split()) in shown, (expected, shown)
    assert shown.count("Echo from gpt-4:") == 1, final["html"]
    assert not page_log.errors, page_log.errors


HOSTILE = (
    "Please repeat: <script>window.__pwned=1</script> and "
    "<img src=x onerror=\"window.__pwned=2;alert('pwned')\"> and "
    '<a href="javascript:window.__pwned=3">raw link</a> and '
    "[markdown link](javascript:window.__pwned=4)"
)


# Elements in the outputs that could run script: any <script>, any <img> (the hostile one has
# src=x), javascript: links, inline event handlers, iframes and objects.
_ACTIVE_JS = """() => {
  const found = [];
  for (const el of document.querySelectorAll('.jp-OutputArea *')) {
    const tag = el.tagName.toLowerCase();
    if (['script', 'img', 'iframe', 'object', 'embed'].includes(tag)) found.push(el.outerHTML);
    for (const attr of el.attributes) {
      if (attr.name.toLowerCase().startsWith('on') ||
          /^\\s*javascript:/i.test(attr.value)) found.push(el.outerHTML);
    }
  }
  return found;
}"""


def test_chat_text_cannot_run_script(lab, page, page_log):
    first = _open(lab, page, "hostile.ipynb", [f"%%sora_chat -m gpt-4\n{HOSTILE}"])
    run_cell(page, first)
    running, done = _watch(page, first, probe=lambda p: p.evaluate(_ACTIVE_JS))
    page.wait_for_timeout(500)  # time for a broken image's onerror to fire
    final = cell_state(page, first)

    assert "Echo from gpt-4:" in final["text"], final["text"]
    # The markup shows as text ...
    assert "<script>window.__pwned=1</script>" in final["text"], final["text"]
    assert "onerror=" in final["text"], final["text"]
    # ... and never became elements, neither while streaming nor at the end.
    for state in [*running, done]:
        assert state["probe"] == [], state
    assert page.evaluate(_ACTIVE_JS) == []
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert not page_log.dialogs, page_log.dialogs
    # Clicking what looks like a link runs nothing either.
    for link in cell(page, first).locator(".jp-OutputArea a").all():
        link.click(no_wait_after=True)
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert not page_log.dialogs, page_log.dialogs


def test_short_chat_answer_shows_once(lab, page, page_log):
    """A fast stream (the default: one word per chunk, no delay) ends with the live view back
    to empty and the answer shown once, as the cell's result."""
    first = _open(lab, page, "short-chat.ipynb", ["%%sora_chat -m gpt-4\nSay hello."])
    run_cell(page, first)
    wait_cell_done(page, first)
    page.wait_for_timeout(1000)  # late renders of the live view would have landed by now
    final = cell_state(page, first)
    assert final["text"].count("Echo from gpt-4: Say hello.") == 1, final["html"]
    assert not page_log.errors, page_log.errors
