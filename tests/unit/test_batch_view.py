"""%%sora_batch's live output and summary, without a front end: a fake clock, counted sends,
captured bundles."""

from __future__ import annotations

from pathlib import Path

import pytest

from sora_nb import batch
from sora_nb.batch import Item
from sora_nb.journal import Journal
from sora_nb.models import Job
from sora_nb.notebook.batches import BatchSummary, BatchView
from sora_nb.plans import ClientCore


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def plan(tmp_path):
    client = ClientCore(
        base_url="https://relay.example/v1", api_key="k", journal=Journal(tmp_path / "j.sqlite3")
    )
    prompts = [f"prompt number {i}" for i in range(40)]
    return batch.plan([Item(p, {}, f"line {i + 1}") for i, p in enumerate(prompts)], client)


@pytest.fixture
def shown(monkeypatch):
    """Every bundle the view sends, by display id, in order."""
    sent: list[tuple[str, str, dict[str, str]]] = []
    import IPython.display as d

    monkeypatch.setattr(
        d, "display", lambda b, raw, display_id: sent.append(("show", display_id, b))
    )
    monkeypatch.setattr(
        d, "update_display", lambda b, raw, display_id: sent.append(("update", display_id, b))
    )
    return sent


def move(job, status, progress=None):
    job.status, job.progress = status, progress
    job.job = Job(id=f"task_{job.index}", status="queued", dialect="unified")


def test_the_live_output_starts_empty_is_bounded_and_ends_empty(plan, shown):
    clock = Clock()
    view = BatchView(plan, mode="html", rate=4.0, clock=clock)
    assert shown[0][0] == "show" and shown[0][2]["text/plain"] == ""
    ids = {display_id for _, display_id, _ in shown}
    for job in plan.jobs[:4]:  # four in flight
        move(job, "in_progress", 0.0)
        view(job)
    sends = len(shown)
    for step in range(1, 100):  # progress moving every 10 ms, no status change
        clock.now += 0.01
        for job in plan.jobs[:4]:
            job.progress = float(step)
            view(job)
    # About one second: at most rate (4) more draws, whatever the number of events.
    assert len(shown) - sends <= 5
    last = shown[-1][2]
    assert last["text/plain"].startswith("batch: 0/40 finished · 4 running")
    # One line per job in flight, not per prompt: the output's size does not grow with the batch.
    assert last["text/plain"].count("\n") == 4 and "line 5:" not in last["text/plain"]
    assert "<progress" in last["text/html"]
    view.close()
    assert shown[-1][2] == {"text/plain": "", "text/html": ""}
    assert {display_id for _, display_id, _ in shown} == ids  # one display id throughout


def test_a_status_change_is_drawn_at_once(plan, shown):
    clock = Clock()
    view = BatchView(plan, mode="html", rate=1.0, clock=clock)
    move(plan.jobs[0], "queued")
    view(plan.jobs[0])
    before = len(shown)
    move(plan.jobs[0], "in_progress", 5.0)
    view(plan.jobs[0])  # within the gap, but a new status
    assert len(shown) == before + 1
    plan.jobs[0].progress = 6.0
    view(plan.jobs[0])  # same status, within the gap: waits
    assert len(shown) == before + 1


def test_text_mode_says_each_job_once_as_it_ends(plan, capsys):
    view = BatchView(plan, mode="text", rate=4.0, clock=Clock())
    job = plan.jobs[0]
    move(job, "in_progress", 50.0)
    view(job)
    job.status, job.path = "completed", Path("videos/task_0.mp4")
    view(job)
    view(job)
    view.close()
    out = capsys.readouterr().out
    assert out.count("line 1: prompt number 0 · completed · videos/task_0.mp4") == 1
    assert out.rstrip().endswith("batch: 1/40 finished · 0 running · 2% · 0:00 elapsed")


def test_the_summary_is_deterministic_and_escaped(tmp_path):
    client = ClientCore(
        base_url="https://relay.example/v1", api_key="k", journal=Journal(tmp_path / "j.sqlite3")
    )
    items = [Item("<script>alert(1)</script>", {}, "line 1"), Item("a boat", {}, "line 2")]
    plan = batch.plan(items, client)
    plan.jobs[0].status, plan.jobs[0].error = "failed", "video job t1 failed: <b>no</b>"
    plan.jobs[1].status, plan.jobs[1].path = "completed", tmp_path / "videos" / "t2.mp4"
    summary = BatchSummary(plan, base_dir=tmp_path)
    bundle = summary._repr_mimebundle_()
    assert bundle == summary._repr_mimebundle_()
    assert "<script>" not in bundle["text/html"] and "&lt;script&gt;" in bundle["text/html"]
    assert "<b>no</b>" not in bundle["text/html"]
    assert bundle["text/plain"].splitlines()[0] == "batch of 2 prompts: 1 completed, 1 failed"
    assert "videos/t2.mp4" in bundle["text/plain"] and str(tmp_path) not in bundle["text/plain"]
    assert not summary.ok and summary.paths == [tmp_path / "videos" / "t2.mp4"]
    assert len(summary) == 2 and summary[1].prompt == "a boat"


def test_the_command_lines_progress_on_a_terminal_and_in_a_log(plan):
    import io

    from sora_nb.cli import Progress

    tty = io.StringIO()
    progress = Progress(tty, tty=True)
    progress.start(plan)
    job = plan.jobs[0]
    move(job, "in_progress", 40.0)
    progress(job)
    job.status, job.path = "completed", Path("videos/task_0.mp4")
    progress(job)
    progress.end()
    out = tty.getvalue()
    assert out.count("\n") == 2  # the job's line, and the overall line left in place at the end
    assert "line 1: completed · task_0 · videos/task_0.mp4\n" in out
    assert "\r[" in out and "1/40 finished" in out.splitlines()[-1]

    log = io.StringIO()
    progress = Progress(log, tty=False)
    progress.start(plan)
    job.status = "in_progress"
    progress(job)
    progress(job)  # no change: no line
    job.status = "completed"
    progress(job)
    assert "\r" not in log.getvalue()
    assert log.getvalue().splitlines() == [
        "line 1: in_progress · task_0",
        "line 1: completed · task_0 · videos/task_0.mp4",
    ]
