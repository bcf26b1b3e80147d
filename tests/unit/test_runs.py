"""runs: the one video lifecycle, driven by hand (no sockets), and the journal listening to it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from sora_nb import _exceptions as E
from sora_nb import dialects, runs
from sora_nb.events import Failed, Finished, Progressed, Saved, Submitted, Text
from sora_nb.flows import Emit, Fetch, Receive, Reply, Send, Sleep, Whole
from sora_nb.journal import Journal, JournalWriter
from sora_nb.models import VideoRequest
from sora_nb.retry import RetryPolicy

TASK = "sora-2:task_01k6x15vhrff09dkkqjrzwhm60"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Driver:
    """Performs a flow's steps from scripts: replies for Send, SSE data for Receive."""

    def __init__(self, replies=(), stream=()):
        self.replies = list(replies)
        self.stream = list(stream)
        self.clock = Clock()
        self.events = []
        self.sent = []
        self.fetched = []

    def ctx(self) -> runs.Context:
        return runs.Context(policy=RetryPolicy(rng=random.Random(0)), clock=self.clock)

    def run(self, flow):
        value, error = None, None
        while True:
            try:
                step = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            if isinstance(step, Send):
                self.sent.append(step.request)
                if step.stream:
                    value = "the-stream"
                    continue
                item = self.replies.pop(0)
                if isinstance(item, BaseException):
                    error = item
                else:
                    value = item
            elif isinstance(step, Receive):
                item = self.stream.pop(0) if self.stream else None
                if isinstance(item, BaseException):
                    error = item
                else:
                    value = item
            elif isinstance(step, Sleep):
                self.clock.now += step.seconds
            elif isinstance(step, Fetch):
                self.fetched.append(step.request)
                value = step.target
            elif isinstance(step, Emit):
                self.events.append(step.event)

    def kinds(self):
        return [type(e).__name__ for e in self.events]


def reply(body, headers=None):
    return Reply(200, headers or {}, json.dumps(body).encode())


def unified_answer(status, progress=None, **extra):
    body = {"id": TASK, "status": status, "status_update_time": 1759763427208}
    if progress is not None:
        body["progress"] = progress
    body.update(extra)
    return body


def prepared(dialect="unified", **kw):
    request = VideoRequest(prompt=kw.pop("prompt", "a cat"), model="sora-2", **kw)
    return runs.prepare(request, dialect, timeout=60)


def chunk(text=None, finish=None):
    delta = {} if text is None else {"content": text}
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        },
        ensure_ascii=False,
    )


# -- prepare ---------------------------------------------------------------------------------------


def test_prepare_validates_normalises_and_builds_once(tmp_path):
    image = tmp_path / "in.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    ready = prepared(prompt="  a cat  ", orientation="landscape", images=(str(image),))
    assert ready.request.prompt == "a cat"
    assert (ready.request.size, ready.request.duration) == ("small", 10)  # the model's defaults
    assert ready.create.json["images"][0].startswith("data:image/png;base64,")
    assert ready.params["images"] == ["in.png"]  # the journal keeps the name, not the bytes
    image.unlink()  # read once, at prepare time: the request no longer needs the file
    assert ready.create.json["images"][0].startswith("data:image/png;base64,")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"prompt": " "}, "prompt is empty"),
        ({"size": "huge"}, "takes size small, large"),
        ({"images": ("/no/such/file.png",)}, r"neither an http\(s\) URL nor a file"),
    ],
)
def test_prepare_refuses_before_anything_is_sent(kw, message):
    with pytest.raises(E.ValidationError, match=message):
        prepared(**kw)


def test_prepare_refuses_options_the_family_cannot_send():
    with pytest.raises(E.ValidationError, match="chat dialect takes only a prompt"):
        prepared("chat", duration=10)


# -- task families ---------------------------------------------------------------------------------


def test_video_events_in_order_and_the_file_saved(tmp_path):
    driver = Driver(
        [
            reply(unified_answer("pending")),
            reply(unified_answer("processing", 40)),
            reply(unified_answer("completed", video_url="https://cdn.example/v.mp4")),
        ]
    )
    outcome = driver.run(runs.video(prepared(), driver.ctx(), out_dir=tmp_path))
    assert driver.kinds() == [
        "Submitting",
        "Submitted",
        "Progressed",
        "Progressed",
        "Finished",
        "Saved",
    ]
    assert [e.job.status for e in driver.events[:5]] == [
        "submitting",
        "queued",
        "in_progress",
        "completed",
        "completed",
    ]
    assert outcome.job.video_url == "https://cdn.example/v.mp4"
    assert outcome.path == tmp_path / "sora-2_task_01k6x15vhrff09dkkqjrzwhm60.mp4"
    assert str(driver.fetched[0].path) == "https://cdn.example/v.mp4"
    assert driver.events[-1] == Saved(outcome.job, outcome.path)


def test_video_without_out_dir_downloads_nothing():
    driver = Driver([reply(unified_answer("completed", video_url="https://cdn.example/v.mp4"))])
    outcome = driver.run(runs.video(prepared(), driver.ctx(), out_dir=None))
    assert outcome.path is None and not driver.fetched
    assert driver.kinds() == ["Submitting", "Submitted", "Finished"]


def test_failed_generation_is_emitted_with_the_job_then_raised(tmp_path):
    driver = Driver(
        [
            reply(unified_answer("pending")),
            reply(unified_answer("failed", error="content policy violation")),
        ]
    )
    with pytest.raises(E.GenerationFailed) as info:
        driver.run(runs.video(prepared(), driver.ctx(), out_dir=tmp_path))
    failed = driver.events[-1]
    assert isinstance(failed, Failed) and failed.error is info.value
    assert failed.job.status == "failed" and "content policy" in failed.job.error
    assert not driver.fetched


def test_resume_of_a_journaled_job_polls_at_once_and_downloads(tmp_path):
    from sora_nb.models import Job

    job = Job(id=TASK, status="in_progress", dialect="unified", progress=20.0)
    driver = Driver([reply(unified_answer("completed", video_url="https://cdn.example/v.mp4"))])
    outcome = driver.run(runs.video(None, driver.ctx(), out_dir=tmp_path, resume=job, timeout=5))
    assert driver.clock.now == 1000.0  # no sleep before the first poll of a journal row
    assert outcome.path is not None and driver.kinds()[-2:] == ["Finished", "Saved"]


def test_resume_asks_the_gateway_whatever_the_journal_says(tmp_path):
    # A row marked failed (after a passing 404, say) is asked about again: the job may have
    # completed since. (It used to be refused without a request.)
    from sora_nb.models import Job

    job = Job(id=TASK, status="failed", dialect="unified", error="not found")
    driver = Driver([reply(unified_answer("completed", video_url="https://cdn.example/v.mp4"))])
    outcome = driver.run(runs.video(None, driver.ctx(), out_dir=tmp_path, resume=job))
    assert len(driver.sent) == 1 and outcome.job.ok and outcome.path is not None


def test_resume_of_a_job_the_gateway_failed_reports_its_reason():
    from sora_nb.models import Job

    job = Job(id=TASK, status="in_progress", dialect="unified")
    driver = Driver([reply(unified_answer("failed", error="moderation"))])
    with pytest.raises(E.GenerationFailed, match="moderation"):
        driver.run(runs.video(None, driver.ctx(), out_dir=None, resume=job))
    assert driver.kinds() == ["Progressed", "Failed"]


def test_resume_of_a_chat_job_without_a_status_route_uses_what_the_journal_kept(tmp_path):
    from sora_nb.models import Job

    done = Job(id="task_x", status="completed", dialect="chat", video_url="https://c/x.mp4")
    driver = Driver()
    outcome = driver.run(runs.video(None, driver.ctx(), out_dir=tmp_path, resume=done))
    assert driver.sent == [] and outcome.path is not None
    failed = Job(id="task_x", status="failed", dialect="chat", error="moderation")
    with pytest.raises(E.GenerationFailed, match="moderation"):
        Driver().run(runs.video(None, driver.ctx(), out_dir=None, resume=failed))


# -- videos through chat ---------------------------------------------------------------------------

SEED_STREAM = [
    "> ID: `task_01k7e5w9abcdef`\n",
    "> 排队中...\n",
    ">🏃 进度 36%\n",
    ">🏃 进度 44%\n",
    ">🏃 进度 44%\n",
    "> 生成完成 ✅\n",
    "[在线播放▶️](https://filesystem.site/cdn/20251013/x.mp4)\n",
]


def test_chat_video_follows_the_stream_then_downloads(tmp_path):
    stream = [chunk(t) for t in SEED_STREAM] + [chunk(finish="stop"), "[DONE]"]
    driver = Driver(stream=stream)
    outcome = driver.run(runs.video(prepared("chat"), driver.ctx(), out_dir=tmp_path))
    jobs = [
        (type(e).__name__, e.job.status, e.job.progress)
        for e in driver.events
        if not isinstance(e, Text)
    ]
    assert jobs[0][:2] == ("Submitting", "submitting")
    assert jobs[1:] == [
        ("Submitted", "queued", None),
        ("Progressed", "in_progress", 36.0),
        ("Progressed", "in_progress", 44.0),
        ("Progressed", "completed", 100.0),
        ("Finished", "completed", 100.0),
        ("Saved", "completed", 100.0),
    ]
    assert sum(isinstance(e, Text) for e in driver.events) == len(SEED_STREAM) + 1
    assert outcome.job.id == "task_01k7e5w9abcdef" and outcome.job.dialect == "chat"
    assert outcome.job.model == "sora-2" and outcome.job.prompt == "a cat"
    assert str(driver.fetched[0].path) == "https://filesystem.site/cdn/20251013/x.mp4"


def test_chat_video_failure_is_failed_with_the_reason():
    stream = [
        chunk("> ID: `task_01k7e5w9abcdef`\n>🏃 进度 12..\n"),
        chunk("> 生成失败 ❌ 内容违规\n", finish="stop"),
        "[DONE]",
    ]
    driver = Driver(stream=stream)
    with pytest.raises(E.GenerationFailed) as info:
        driver.run(runs.video(prepared("chat"), driver.ctx(), out_dir=None))
    assert "生成失败" in info.value.reason
    failed = driver.events[-1]
    assert isinstance(failed, Failed) and failed.job.id == "task_01k7e5w9abcdef"
    assert failed.job.status == "failed"


def test_chat_video_cut_stream_keeps_text_and_task_id():
    driver = Driver(stream=[chunk("> ID: `task_01k7e5w9abcdef`\n>🏃 进度 50..\n"), None])
    with pytest.raises(E.StreamInterrupted) as info:
        driver.run(runs.video(prepared("chat"), driver.ctx(), out_dir=None))
    assert info.value.task_id == "task_01k7e5w9abcdef" and "进度 50" in info.value.text
    assert isinstance(driver.events[-1], Failed)


def test_chat_answer_given_whole_instead_of_streamed():
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(SEED_STREAM)},
                "finish_reason": "stop",
            }
        ],
    }
    driver = Driver(stream=[Whole(json.dumps(body, ensure_ascii=False).encode())])
    outcome = driver.run(runs.video(prepared("chat"), driver.ctx(), out_dir=None))
    assert outcome.job.ok and outcome.job.video_url.endswith("/x.mp4")


# -- the journal listens ---------------------------------------------------------------------------


def test_journal_writer_records_on_submit_and_keeps_rows_resumable(tmp_path):
    from sora_nb.models import Job

    journal = Journal(tmp_path / "jobs.sqlite3")
    write = JournalWriter(journal, "http://gw/v1", {"duration": 10})
    queued = Job(id=TASK, status="queued", dialect="unified", model="sora-2", prompt="a cat")
    write(Text(event=None, job=Job(id="", status="in_progress", dialect="chat")))  # no id yet
    assert journal.count() == 0
    write(Submitted(queued))
    assert journal.get(TASK).status == "queued" and journal.get(TASK).params == {"duration": 10}
    running = Job(id=TASK, status="in_progress", dialect="unified", progress=30.0)
    write(Progressed(running))
    write(Failed(running, E.PollTimeout("late", job_id=TASK)))
    assert journal.get(TASK).status == "in_progress"  # a timeout leaves it resumable
    failed = Job(id=TASK, status="failed", dialect="unified", error="moderation")
    write(Failed(failed, E.GenerationFailed("x", job=failed, reason="moderation")))
    assert (journal.get(TASK).status, journal.get(TASK).error) == ("failed", "moderation")


def test_journal_writer_keeps_the_saved_file(tmp_path):
    from sora_nb.models import Job

    journal = Journal(tmp_path / "jobs.sqlite3")
    write = JournalWriter(journal, "http://gw/v1")
    done = Job(id=TASK, status="completed", dialect="unified", video_url="https://cdn/v.mp4")
    write(Finished(done))
    write(Saved(done, Path("videos/v.mp4")))
    assert journal.get(TASK).path == str(Path("videos/v.mp4").resolve())


def test_every_builtin_dialect_runs_through_the_same_lifecycle():
    # Nothing but the family's abilities decides the path: streamed families stream, the others
    # create and poll.
    for name in dialects.names():
        family = dialects.get(name)
        assert family.abilities.streams != family.abilities.poll, name


# -- a create whose answer may never come ---------------------------------------------------------


def _writer(tmp_path):
    from sora_nb.events import Submitting

    journal = Journal(tmp_path / "jobs.sqlite3")
    write = JournalWriter(journal, "http://gw/v1", {"duration": 10}, notice=lambda _: None)
    stand_in = runs.pending(dialects.get("unified"), model="sora-2", prompt="a cat")
    write(Submitting(stand_in))
    return journal, write, stand_in


def test_a_create_is_journaled_under_a_local_id_before_it_is_sent(tmp_path):
    journal, write, stand_in = _writer(tmp_path)
    row = journal.get(stand_in.id)
    assert stand_in.id.startswith("local:") and row.status == "submitting"
    assert row.prompt == "a cat" and row.params == {"duration": 10}
    # The answer comes: the same row now carries the gateway's id.
    from sora_nb.models import Job

    write(Submitted(Job(id=TASK, status="queued", dialect="unified", prompt="a cat")))
    assert journal.get(stand_in.id) is None
    assert journal.get(TASK).status == "queued" and journal.get(TASK).params == {"duration": 10}
    assert journal.count() == 1


@pytest.mark.parametrize(
    ("error", "kept"),
    [
        (E.BadRequestError("400 no", status_code=400), False),  # refused: nothing was made
        (E.ConnectError("never connected"), False),
        (E.SubmissionUnknown("answer lost"), True),  # the gateway may have made it
        (E.ProtocolError("an unreadable 200"), True),
    ],
)
def test_a_create_that_failed_keeps_its_row_only_if_a_job_may_exist(tmp_path, error, kept):
    journal, write, stand_in = _writer(tmp_path)
    write(Failed(None, error))
    row = journal.get(stand_in.id)
    if kept:
        assert row.status == "unknown" and "may have made (and billed)" in row.error
    else:
        assert row is None


def test_a_chat_video_that_never_names_its_task_is_kept_under_the_local_id(tmp_path):
    from sora_nb.models import Job

    journal, write, stand_in = _writer(tmp_path)
    write(Progressed(Job(id="", status="in_progress", dialect="chat", progress=40.0)))
    assert journal.get(stand_in.id).status == "submitting"  # passing news, no id: unchanged
    done = Job(id="", status="completed", dialect="chat", video_url="https://c/x.mp4")
    write(Finished(done))
    write(Saved(done, Path("videos/x.mp4")))
    row = journal.get(stand_in.id)
    assert row.status == "completed" and row.path.endswith("videos/x.mp4")


def test_the_interrupt_line_says_what_may_have_been_billed():
    from sora_nb.models import Job
    from sora_nb.notebook.render import interrupted_line

    local = runs.pending(dialects.get("openai"), model="sora-2", prompt="p")
    line = interrupted_line([local])
    assert "may have made (and billed)" in line and local.id in line
    assert "nothing was submitted" not in line
    polled = Job(id=TASK, status="queued", dialect="unified")
    assert f"%sora_jobs --resume {TASK} finishes it" in interrupted_line([polled])
    streamed = Job(id="task_x", status="in_progress", dialect="chat")
    said = interrupted_line([streamed])
    assert "cannot be resumed" in said and "--resume" not in said


def test_the_journal_remembers_how_long_a_models_jobs_take(tmp_path):
    # The poll schedule's prior (PollSchedule(expected_seconds=…)) for jobs that report little.
    import sqlite3

    from sora_nb.models import Job

    journal = Journal(tmp_path / "jobs.sqlite3")
    assert journal.typical_seconds("http://gw/v1", "sora-2") is None
    for n, seconds in enumerate((100.0, 140.0, 120.0, 900.0)):
        job = Job(id=f"t{n}", status="completed", dialect="unified", model="sora-2")
        journal.record("http://gw/v1", job)
        with sqlite3.connect(journal.path) as db:
            db.execute(
                "UPDATE jobs SET created_at = updated_at - ? WHERE id = ?", (seconds, f"t{n}")
            )
    journal.record("http://gw/v1", Job(id="q", status="queued", dialect="unified", model="sora-2"))
    journal.record(
        "http://other/v1", Job(id="o", status="completed", dialect="unified", model="sora-2")
    )
    assert journal.typical_seconds("http://gw/v1", "sora-2") == 140.0  # the median
    assert journal.typical_seconds("http://gw/v1", "veo-3") is None


def test_a_client_with_a_journal_polls_with_its_history(tmp_path):
    from sora_nb.client import Client

    journal = Journal(tmp_path / "jobs.sqlite3")
    with Client(base_url="http://127.0.0.1:9/v1", journal=journal) as client:
        assert client._history("sora-2") is None
        from sora_nb.models import Job

        journal.record(
            client.base_url, Job(id="t", status="completed", dialect="unified", model="sora-2")
        )
        import sqlite3

        with sqlite3.connect(journal.path) as db:
            db.execute("UPDATE jobs SET created_at = updated_at - 95")
        assert client._history("sora-2") == 95.0
    with Client(base_url="http://127.0.0.1:9/v1") as plain:
        assert plain._history("sora-2") is None  # no journal: no memory
