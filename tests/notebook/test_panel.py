"""The control panel without a front end: set widget values, click, assert on traits and on
what the emulator saw."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from IPython.core.interactiveshell import InteractiveShell

from sora_nb.journal import Journal
from sora_nb.notebook import runner
from tests.conftest import KEY

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@pytest.fixture
def panel(emu, tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_BASE_URL", emu.base_url)
    monkeypatch.setenv("SORA_API_KEY", KEY)
    monkeypatch.setenv("SORA_NB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SORA_DIALECT", raising=False)
    monkeypatch.chdir(tmp_path)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "sora_nb")
    emu.reset_counters()  # loading asked what the gateway serves (GETs); count the clicks
    ip.run_line_magic("config", "SoraMagics.poll_interval = 0.05")
    try:
        result = ip.run_cell("%sora_panel")
        assert result.success, result.error_in_exec
        yield result.result
    finally:
        ip.run_line_magic("unload_ext", "sora_nb")


def test_choices_follow_the_model_rules(panel):
    assert list(panel.size.options) == ["small", "large"]
    assert [v for _, v in panel.duration.options] == [10, 15]
    panel.model.value = "sora-2-pro"
    assert list(panel.size.options) == ["large"] and panel.size.value == "large"
    assert [v for _, v in panel.duration.options] == [15, 25]
    panel.dialect.value = "openai"
    assert list(panel.size.options) == ["720x1280", "1024x1792"]  # portrait only
    assert [v for _, v in panel.duration.options] == [4, 8, 12]
    panel.orientation.value = "landscape"
    assert list(panel.size.options) == ["1280x720", "1792x1024"]
    panel.dialect.value = "chat"
    assert panel.size.disabled and panel.duration.disabled and panel.orientation.disabled
    # Every combination the widgets can express passes validation.
    panel.prompt.value = "x"
    for dialect in ("unified", "openai"):
        panel.dialect.value = dialect
        for model in ("sora-2", "sora-2-pro"):
            panel.model.value = model
            for orientation in ("portrait", "landscape"):
                panel.orientation.value = orientation
                for size in panel.size.options:
                    panel.size.value = size
                    for _, duration in panel.duration.options:
                        panel.duration.value = duration
                        panel.request()  # raises ValidationError if impossible


def test_gateway_line_redacts_the_key(panel, emu):
    assert emu.base_url in panel.gateway.value
    assert KEY not in panel.gateway.value and "***" in panel.gateway.value


def test_generate_runs_in_the_background_and_plays_the_video(panel, emu, tmp_path):
    panel.prompt.value = "a red kite over dunes"
    panel.orientation.value = "landscape"
    panel.generate.click()
    task = panel.task
    assert task is not None and not task.done()  # the click returned at once
    assert panel.generate.disabled and not panel.cancel.disabled
    result = runner.run(task)
    assert result.status == "completed" and panel.bar.value == 100
    assert "completed" in panel.status_line.value
    html = panel.video.outputs[0]["data"]["text/html"]
    assert '<video src="videos/' in html and result.path.exists()
    assert emu.counters["create"] == 1
    assert emu.jobs[result.id].params["orientation"] == "landscape"
    assert not panel.generate.disabled and panel.cancel.disabled
    assert Journal(tmp_path / "data" / "jobs.sqlite3").get(result.id).status == "completed"
    assert [v for _, v in panel.history_list.options] == [result.id]


def test_bad_input_is_one_line_in_the_panel_and_sends_nothing(panel, emu):
    panel.prompt.value = "   "
    panel.generate.click()
    assert panel.task is None
    assert "ValidationError" in panel.error.value and "prompt is empty" in panel.error.value
    panel.prompt.value = "ok"
    panel.image_urls.value = "ftp://not/an/image.png"
    panel.generate.click()
    assert "only http(s) URLs or local files" in panel.error.value
    assert sum(emu.counters.values()) == 0


def test_gateway_failure_is_one_line_in_the_panel(panel, emu):
    panel.prompt.value = "a kite [fail]"
    panel.generate.click()
    assert runner.run(panel.task) is None
    assert "GenerationFailed" in panel.error.value and "\n" not in panel.error.value
    assert panel.bar.bar_style == "danger"


def test_cancel_stops_waiting_and_deletes_on_the_openai_dialect(panel, emu):
    emu.set(job_seconds=30)
    panel.dialect.value = "openai"
    panel.prompt.value = "a slow one"
    panel.generate.click()
    runner.run(asyncio.sleep(0.5))
    panel.cancel.click()
    assert runner.run(panel.task) is None
    assert "cancelled" in panel.status_line.value
    assert "deleted on the gateway" in panel.status_line.value
    assert emu.counters["delete"] == 1 and len(emu.jobs) == 0


def test_reference_image_upload_is_sent(panel, emu):
    panel.dialect.value = "openai"
    panel.prompt.value = "animate this"
    panel.upload.value = (
        {
            "name": "ref.png",
            "type": "image/png",
            "size": len(PNG),
            "content": memoryview(PNG),
            "last_modified": datetime.now(timezone.utc),
        },
    )
    panel.generate.click()
    result = runner.run(panel.task)
    assert result.status == "completed"
    assert emu.jobs[result.id].params.get("input_reference")  # the file arrived


def test_history_replays_and_resumes(panel, emu, tmp_path):
    panel.prompt.value = "first"
    panel.generate.click()
    done = runner.run(panel.task)
    panel.load_history()
    panel.history_list.value = done.id
    panel.play.click()
    assert "<video" in panel.history_out.outputs[0]["data"]["text/html"]
    # A journal job that is still running (e.g. from an earlier kernel) is resumed from the list.
    import sora_nb

    with sora_nb.Client(base_url=emu.base_url, api_key=KEY) as client:
        job = client.create_video("second")
    Journal(tmp_path / "data" / "jobs.sqlite3").record(emu.base_url, job)
    panel.load_history()
    panel.history_list.value = job.id
    runner.run(panel.resume_selected())
    assert "<video" in panel.history_out.outputs[0]["data"]["text/html"]
    assert Journal(tmp_path / "data" / "jobs.sqlite3").get(job.id).status == "completed"


def test_chat_tab_streams_a_conversation(panel, emu):
    panel.chat_model.value = "gpt-4"
    panel.chat_input.value = "hello there"
    runner.run(panel.send_chat())
    text = panel.chat_out.outputs[0]["data"]["text/plain"]
    assert text.startswith("Echo from gpt-4: hello there")
    panel.chat_input.value = "and again"
    runner.run(panel.send_chat())
    assert len(panel.session.conversation) == 4  # two user turns, two answers
    panel.chat_new.click()
    assert panel.session.conversation == [] and panel.chat_out.outputs == ()
