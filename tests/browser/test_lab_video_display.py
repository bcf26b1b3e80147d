"""Finished videos play, with their sound, wherever the files are: in JupyterLab, headless
Chromium started with ``--autoplay-policy=no-user-gesture-required`` (see conftest).

(a) defaults: the file is saved beside the notebook and served by Lab (a small relative
``<video>``); (b) the out folder outside the server's root: Lab cannot serve it, so the bytes
travel over the widget comm and play from a blob URL; (c) the panel with such an out folder;
(d) the ``-n 2`` grid, in both places. Each asserts on the ``<video>`` elements themselves.
"""

from __future__ import annotations

import time

import pytest

from tests.browser.conftest import (
    cell,
    check_plays_with_sound,
    play_video,
    run_cell,
    wait_cell_done,
    wait_for_video,
    write_notebook,
)

pytestmark = pytest.mark.timeout(150)

SETUP = [
    "get_ipython().config.SoraMagics.emulator_job_seconds = 2",
    "%load_ext sora_nb",
]


@pytest.fixture(autouse=True)
def _one_kernel_at_a_time(lab):
    lab.stop_kernels()


@pytest.fixture
def outside(tmp_path_factory, lab):
    """An absolute folder in another temporary tree: not under the server's root."""
    folder = tmp_path_factory.mktemp("shared-videos")
    assert lab.root.resolve() not in folder.resolve().parents
    return folder


def _open(lab, page, name, cells):
    write_notebook(lab.root, name, [*SETUP, *cells])
    lab.open(page, name)
    for index in range(len(SETUP)):
        run_cell(page, index)
        state = wait_cell_done(page, index, timeout=60_000)
        assert "Error" not in state["text"], state["text"]
    return len(SETUP)


def _run(page, index):
    run_cell(page, index)
    state = wait_cell_done(page, index, timeout=90_000)
    assert "Error" not in state["text"], state["text"]
    return state


def test_a_defaults_a_served_file_plays_with_sound(lab, page, page_log):
    first = _open(
        lab, page, "display-a.ipynb", ["%%sora_video --duration 10\na brass band on a pier"]
    )
    state = _run(page, first)
    video = wait_for_video(page, first)
    check_plays_with_sound(video, duration=10, portrait=True, source="http")
    # Lab resolved the output's relative src (the notebook stays small) through /files/.
    assert "/files/videos/" in video["currentSrc"], video
    assert "played in a live widget" not in state["text"]
    assert not page_log.errors, page_log.errors


def test_b_a_folder_outside_the_root_plays_from_the_widget(lab, page, page_log, outside):
    first = _open(
        lab,
        page,
        "display-b.ipynb",
        [f"%%sora_video --duration 10 --orientation landscape --out {outside}\nthunder at sea"],
    )
    state = _run(page, first)
    saved = list(outside.glob("*.mp4"))
    assert len(saved) == 1, list(outside.iterdir())
    video = wait_for_video(page, first)
    check_plays_with_sound(video, duration=10, portrait=False, source="blob")
    # The caption under the player; the HTML fallback is for viewers without widgets only.
    assert "sora-2 · 10 s" in state["text"], state["text"]
    assert "played in a live widget" not in state["text"], state["text"]
    # Nothing asked the server for the kernel's path (the old output was a 404 and a black box).
    assert str(outside) not in lab.log_tail(400)
    assert not page_log.errors, page_log.errors


def test_c_the_panel_with_an_outside_folder_plays(lab, page, page_log, outside):
    first = _open(
        lab,
        page,
        "display-c.ipynb",
        [f"%config SoraMagics.out_dir = {str(outside)!r}", "%sora_panel"],
    )
    _run(page, first)
    panel_index = first + 1
    _run(page, panel_index)
    panel = cell(page, panel_index)
    panel.locator("textarea").first.fill("a choir in a cave")
    panel.get_by_role("button", name="landscape").click()
    panel.get_by_role("button", name="Generate").click()
    video = panel.locator("video")
    deadline = time.monotonic() + 60
    while video.count() == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    props = play_video(video.first)
    check_plays_with_sound(props, duration=10, portrait=False, source="blob")
    assert len(list(outside.glob("*.mp4"))) == 1
    assert not page_log.errors, page_log.errors


@pytest.mark.parametrize("where", ["beside the notebook", "outside the root"])
def test_d_a_grid_of_two_plays_both(lab, page, page_log, outside, where):
    out = "" if where == "beside the notebook" else f" --out {outside}"
    first = _open(
        lab, page, "display-d.ipynb", [f"%%sora_video -n 2 --duration 10{out}\nkites over a cliff"]
    )
    _run(page, first)
    assert cell(page, first).locator(".jp-OutputArea video").count() == 2
    source = "http" if where == "beside the notebook" else "blob"
    seen = set()
    for nth in range(2):
        video = wait_for_video(page, first, nth=nth)
        check_plays_with_sound(video, duration=10, portrait=True, source=source)
        seen.add(video["currentSrc"])
    assert len(seen) == 2, seen  # two variants, two files
    assert not page_log.errors, page_log.errors
