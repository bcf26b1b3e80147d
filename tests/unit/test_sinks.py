"""The sinks' one throttle, without a front end: a fake clock, real widgets, counted sends."""

from __future__ import annotations

import ipywidgets as w
import pytest

from sora_nb import _exceptions as E
from sora_nb.events import Failed, Finished, Progressed, Saved, Submitted
from sora_nb.models import Job
from sora_nb.notebook.sinks import LiveMarkdown, PanelStatus, StatusView, Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def job(status: str = "in_progress", progress: float | None = None) -> Job:
    return Job(id="task_1", status=status, dialect="unified", progress=progress, model="sora-2")


# -- Throttle --------------------------------------------------------------------------------------


def test_first_update_is_always_due_then_the_gap_holds():
    clock = Clock()
    t = Throttle(0.25, clock=clock)
    assert t.due()
    t.sent()
    clock.now += 0.1
    assert not t.due()
    assert t.due(urgent=True)  # a new status does not wait
    clock.now += 0.2
    assert t.due()


def test_growth_rule_caps_the_bytes_of_a_growing_text():
    clock = Clock()
    t = Throttle(0.1, growth=0.2, max_gap=2.0, clock=clock)
    sent_bytes, size = 0, 0
    for _ in range(20_000):
        size += 5
        clock.now += 0.01
        if t.due(size):
            t.sent(size)
            sent_bytes += size
    # Each update carries the whole text: growth 20% bounds the total near 1 + 1/0.2 = 6 times
    # the final size, plus one update per max_gap for the time the stream lasted.
    duration_updates = (20_000 * 0.01) / 2.0
    assert sent_bytes <= 6 * size + duration_updates * size
    assert t.updates < 200


def test_max_gap_sends_a_slow_stream_anyway():
    clock = Clock()
    t = Throttle(0.1, growth=0.2, max_gap=2.0, clock=clock)
    t.sent(1000)
    clock.now += 1.0
    assert not t.due(1001)  # too little growth, too soon
    clock.now += 1.0
    assert t.due(1001)


# -- status sinks ----------------------------------------------------------------------------------


def test_cell_status_draws_at_most_rate_times_a_second(capsys):
    clock = Clock()
    view = StatusView("sora-2", mode="text", rate=4.0, clock=clock)
    first = view.messages
    for i in range(1, 100):  # a poll every 10 ms, progress moving each time
        clock.now += 0.01
        view(Progressed(job(progress=float(i))))
    # One second of updates: the first draw plus at most 4 more (status did not change).
    assert view.messages - first <= 5
    view.close()
    assert "99%" in capsys.readouterr().out  # the close draws the last state


def test_status_changes_and_details_are_drawn_at_once():
    clock = Clock()
    bar, label = w.FloatProgress(), w.HTML()
    panel = PanelStatus(bar, label, name="sora-2", rate=1.0, clock=clock)
    panel(Submitted(job("queued")))
    assert "queued" in label.value
    panel(Progressed(job(progress=10.0)))
    assert "in progress" in label.value  # new status: no wait
    panel(Progressed(job(progress=20.0)))
    assert "20%" not in label.value  # same status within the gap: held back
    panel(Finished(job("completed", 100.0)))
    assert "completed" in label.value and "downloading" in label.value
    assert bar.value == 100.0 and bar.bar_style == "success"
    panel(Saved(job("completed", 100.0), path=__import__("pathlib").Path("v.mp4")))
    assert "downloading" not in label.value


def test_a_failure_shows_on_the_same_sink():
    bar, label = w.FloatProgress(), w.HTML()
    panel = PanelStatus(bar, label, name="sora-2", clock=Clock())
    failed = job("failed")
    panel(Failed(failed, E.GenerationFailed("no", job=failed, reason="no")))
    assert bar.bar_style == "danger" and "failed" in label.value
    panel(Failed(None, E.PollTimeout("late", job_id="task_1")))
    assert "timed out" in label.value


@pytest.mark.parametrize("sink", ["cell", "panel"])
def test_text_sinks_share_the_throttle(sink, capsys):
    clock = Clock()
    out = w.Output() if sink == "panel" else None
    live = LiveMarkdown(mode="html" if out else "text", clock=clock, output=out)
    for _ in range(5000):
        clock.now += 0.001
        live.append("word ")
    live.flush()
    assert live.text == "word " * 5000
    if out is not None:
        assert out.outputs[0]["data"]["text/plain"] == live.text
        # Bounded: a few dozen updates and at most ~6x the text, not 5,000 of them.
        assert live.messages < 60
        assert live.bytes < 8 * 2 * len(live.text.encode())  # two mime types per update
    else:
        assert capsys.readouterr().out == live.text  # a terminal gets each piece once


def test_text_for_a_terminal_carries_no_escape_sequences(capsys):
    live = LiveMarkdown(mode="text", clock=Clock())
    live.append("\x1b[2J\x1b]0;pwned\x07safe ")
    live.append("text\x9b31m\n\tindented")
    out = capsys.readouterr().out
    assert out == "[2J]0;pwnedsafe text31m\n\tindented"
    assert not any(c in out for c in "\x1b\x07\x9b")
    assert live.text == "\x1b[2J\x1b]0;pwned\x07safe text\x9b31m\n\tindented"  # the reply keeps it
