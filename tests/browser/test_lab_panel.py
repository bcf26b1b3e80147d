"""The control panel in JupyterLab, in a real browser: type, click Generate, watch the progress,
play the video; the kernel stays free while the job runs."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import (
    ARTIFACTS,
    cell,
    cell_state,
    run_cell,
    wait_cell_done,
    write_notebook,
)

pytestmark = pytest.mark.timeout(150)


def _bar_width(panel) -> float | None:
    widths = panel.locator(".widget-hprogress .progress-bar").evaluate_all(
        "els => els.map(e => parseFloat(e.style.width))"
    )
    return widths[0] if widths else None


def test_panel_generates_in_the_background_and_plays(lab, page, page_log):
    write_notebook(
        lab.root,
        "panel.ipynb",
        [
            "get_ipython().config.SoraMagics.emulator_job_seconds = 4",
            "%load_ext sora_nb",
            "%sora_panel",
            "print(6 * 7)",
        ],
    )
    lab.open(page, "panel.ipynb")
    for index in (0, 1, 2):
        run_cell(page, index)
        assert "Error" not in wait_cell_done(page, index)["text"]
    panel = cell(page, 2)
    panel.locator("textarea").first.fill("a red kite over sand dunes")
    panel.get_by_role("button", name="landscape").click()
    panel.get_by_role("button", name="Generate").click()

    # While the job runs, another cell runs and finishes: the kernel stayed free.
    deadline = time.monotonic() + 10
    while (_bar_width(panel) or 0) <= 0 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert 0 < (_bar_width(panel) or 0) < 100, "the progress bar never started moving"
    run_cell(page, 3)
    other = wait_cell_done(page, 3, timeout=20_000)
    assert other["text"].strip() == "42"
    assert (_bar_width(panel) or 0) < 100, "the job finished before the other cell ran"

    widths, deadline = [], time.monotonic() + 60
    while time.monotonic() < deadline:
        width = _bar_width(panel)
        if width is not None and (not widths or widths[-1] != width):
            widths.append(width)
        if width == 100 and panel.locator("video").count():
            break
        page.wait_for_timeout(100)
    assert widths and widths[-1] == 100, widths
    assert len(set(widths)) >= 3 and widths == sorted(widths), widths
    status = panel.locator(".widget-html").all_inner_texts()
    assert any(re.search(r"completed · 100%", t) for t in status), status

    video = panel.locator("video").first
    props = video.evaluate("""async v => {
      const sleep = ms => new Promise(r => setTimeout(r, ms));
      for (let i = 0; i < 100 && v.readyState < 2 && !v.error; i++) await sleep(100);
      v.muted = true;
      const before = v.getVideoPlaybackQuality().totalVideoFrames;
      await v.play();
      await sleep(1000);
      const after = v.getVideoPlaybackQuality().totalVideoFrames;
      v.pause();
      v.currentTime = 2.0;
      await sleep(300);
      return {readyState: v.readyState, duration: v.duration, w: v.videoWidth,
              h: v.videoHeight, before, after, error: v.error && v.error.message,
              src: v.getAttribute('src')};
    }""")
    assert props["error"] is None, props
    assert props["readyState"] >= 2 and abs(props["duration"] - 10) <= 0.2, props
    assert props["w"] > props["h"], props  # landscape was picked
    assert abs(props["w"] / props["h"] - 16 / 9) < 0.02, props
    assert props["after"] > props["before"], props
    assert not page_log.errors, page_log.errors

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(ARTIFACTS / "panel-finished.png"))


def test_panel_shows_bad_input_as_one_line(lab, page, page_log):
    write_notebook(lab.root, "panel-bad.ipynb", ["%load_ext sora_nb", "%sora_panel"])
    lab.open(page, "panel-bad.ipynb")
    for index in (0, 1):
        run_cell(page, index)
        wait_cell_done(page, index)
    panel = cell(page, 1)
    panel.get_by_role("button", name="Generate").click()
    error = panel.locator(".widget-html", has_text="ValidationError")
    error.wait_for(timeout=10_000)
    assert "prompt is empty" in error.inner_text()
    assert "Traceback" not in cell_state(page, 1)["text"]
