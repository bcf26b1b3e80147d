"""The panel and a ``%%sora_video`` cell in Notebook 7 (the other front end users have)."""

from __future__ import annotations

import time

import pytest

from tests.browser.conftest import (
    cell,
    check_plays_with_sound,
    run_cell,
    start_lab,
    wait_cell_done,
    wait_for_video,
    write_notebook,
)

pytestmark = pytest.mark.timeout(150)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, lab_env):
    """Notebook 7 instead of JupyterLab, with the same default environment (no gateway)."""
    server = start_lab(tmp_path_factory.mktemp("nb7"), lab_env, app="notebook")
    try:
        yield server
    finally:
        server.stop()


def test_panel_and_video_cell_in_notebook7(lab, page, page_log):
    write_notebook(
        lab.root,
        "nb7.ipynb",
        [
            "get_ipython().config.SoraMagics.emulator_job_seconds = 3",
            "%load_ext sora_nb",
            "%sora_panel",
            "%%sora_video --orientation landscape\na lantern on a lake",
        ],
    )
    lab.open(page, "nb7.ipynb")
    # Notebook 7 itself logs a settings-schema error while it starts (before any cell runs,
    # from the settings folder the fixture shares with JupyterLab); count only what follows.
    errors_at_start = len(page_log.errors)
    for index in (0, 1, 2):
        run_cell(page, index)
        assert "Error" not in wait_cell_done(page, index)["text"]
    panel = cell(page, 2)
    panel.locator("textarea").first.fill("a red kite over sand dunes")
    panel.get_by_role("button", name="Generate").click()
    video = panel.locator("video")
    deadline = time.monotonic() + 60
    while video.count() == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    props = video.first.evaluate("""async v => {
      for (let i = 0; i < 100 && v.readyState < 2 && !v.error; i++)
        await new Promise(r => setTimeout(r, 100));
      return {readyState: v.readyState, duration: v.duration, w: v.videoWidth,
              h: v.videoHeight, error: v.error && v.error.message};
    }""")
    assert props["error"] is None and props["readyState"] >= 2, props
    assert abs(props["duration"] - 10) <= 0.2 and props["h"] > props["w"], props

    run_cell(page, 3)
    assert "Error" not in wait_cell_done(page, 3, timeout=60_000)["text"]
    played = wait_for_video(page, 3)
    # Defaults: the file beside the notebook, served by the server; it plays, with its sound.
    check_plays_with_sound(played, duration=10, portrait=False, source="http")
    assert "/files/videos/" in played["currentSrc"], played
    assert page_log.errors[errors_at_start:] == [], page_log.errors
