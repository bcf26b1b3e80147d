"""%%sora_batch and the job cap, in a real InteractiveShell against the emulator over loopback
sockets."""

from __future__ import annotations

import pytest

from sora_nb.journal import Journal
from tests.notebook.test_magics_shell import (  # the shell and its fixtures
    assert_usage_error,
    cell,
    env,
    ip,
    sora,
    total,
)

__all__ = ["env", "ip", "sora"]  # fixtures, used by name

pytestmark = pytest.mark.timeout(120)


def plain(result) -> str:
    return result.result._repr_mimebundle_()["text/plain"]


def test_a_batch_from_a_list_then_again(sora):
    sora.ip.user_ns["prompts"] = ["a red kite", "a blue boat"]
    result = cell(sora, "%sora_batch --from prompts --name made")
    out = sora.read()
    assert result.success, result.error_in_exec
    assert "this batch will create 2 paid jobs (0 already done, 0 resumed)" in out
    summary = result.result
    assert sora.ip.user_ns["made"] is summary and summary.ok
    assert [j.status for j in summary] == ["completed", "completed"]
    assert [j.item.where for j in summary] == ["prompts[0]", "prompts[1]"]
    assert all(p.is_file() and p.parent.name == "videos" for p in summary.paths)
    assert sora.emu.counters["create"] == 2
    text = plain(result)
    assert text.startswith("batch of 2 prompts: 2 completed")
    assert "videos/" in text and str(sora.dir) not in text  # files shown relative
    # The cell again: nothing is sent.
    sent = total(sora.emu)
    again = cell(sora, "%sora_batch --from prompts")
    assert "will create 0 paid jobs (2 already done, 0 resumed)" in sora.read()
    assert [j.status for j in again.result] == ["done", "done"]
    assert total(sora.emu) == sent


class Column:
    """What --from reads of a pandas Series: values and their index (pandas is not installed
    here; these are the only attributes used)."""

    def __init__(self, values, index):
        self.values, self.index = values, index

    def tolist(self):
        return list(self.values)


class Frame:
    """A DataFrame's surface: columns, index, to_dict("records"), df["col"] and df.col."""

    def __init__(self, data):
        self.data = data
        self.columns = list(data)
        self.index = [f"r{i}" for i in range(len(next(iter(data.values()))))]

    def __getitem__(self, name):
        return Column(self.data[name], self.index)

    def __getattr__(self, name):
        if name in self.__dict__.get("data", {}):
            return self[name]
        raise AttributeError(name)

    def to_dict(self, orient):
        assert orient == "records"
        rows = zip(*self.data.values(), strict=True)
        return [dict(zip(self.data, row, strict=True)) for row in rows]


def test_a_batch_from_a_frame_and_from_its_columns(sora):
    sora.ip.user_ns["df"] = Frame(
        {"prompt": ["a kite", "a boat"], "duration": [15, float("nan")], "note_": [1, 2]}
    )
    refused = cell(sora, "%sora_batch --from df --dry-run")
    assert_usage_error(refused, "df row 'r0'", "note_")
    sora.ip.user_ns["df"] = Frame({"prompt": ["a kite", "a boat"], "duration": [15, None]})
    whole = cell(sora, "%sora_batch --from df")
    assert whole.success, whole.error_in_exec
    jobs = list(whole.result)
    assert [sora.emu.jobs[j.job_id].seconds for j in jobs] == [15, 10]  # 10: the default
    assert jobs[0].item.where == "df row 'r0'"
    sora.read()
    # As typed: shell quoting takes the quotes off df['prompt'], so both forms are read.
    for option in ("df.prompt", "df['prompt']", "\"df['prompt']\"", "df[prompt]"):
        result = cell(sora, f"%sora_batch --from {option} --dry-run")
        assert result.success, (option, result.error_in_exec)
    # df.prompt gives no durations: the default duration, a different job from the first row.
    column = cell(sora, "%sora_batch --from df.prompt --dry-run")
    out = sora.read()
    assert "would create 1 paid job (1 already done, 0 resumed)" in out, out
    assert [j.item.where for j in column.result] == ["df.prompt['r0']", "df.prompt['r1']"]


def test_a_batch_from_a_csv_file_with_options(sora):
    (sora.dir / "p.csv").write_text(
        "prompt,model,seconds,size\na lighthouse,sora-2-pro,15,large\na harbour,,,\n",
        encoding="utf-8",
    )
    result = cell(sora, "%sora_batch --file p.csv --parallel 2")
    assert result.success, result.error_in_exec
    first, second = result.result
    params = sora.emu.jobs[first.job_id].params
    assert params["model"] == "sora-2-pro" and params["size"] == "large"
    assert float(params["duration"]) == 15
    assert sora.emu.jobs[second.job_id].model == "sora-2"
    assert first.item.where == "p.csv line 2"
    keys = {e.batch_key for e in Journal().entries()}
    assert keys == {first.key, second.key}


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("%%sora_batch --file p.csv\na kite", ["one place", "cell body", "--file"]),
        ("%sora_batch --file nosuch.csv", ["nosuch.csv"]),
        ("%sora_batch --file bad.csv", ["bad.csv line 3", "'ten'"]),
        ("%sora_batch --file typo.jsonl", ["typo.jsonl line 1", "durration"]),
        ("%sora_batch --from nosuch", ["nosuch"]),
        ("%sora_batch --from 'x + 1'", ["--from"]),
        ("%sora_batch --from text", ["one piece of text"]),
        ("%sora_batch --from number", ["int"]),
        ("%sora_batch", ["no prompts"]),
        ("%%sora_batch\n# only a comment\n\n", ["no prompts"]),
        ("%%sora_batch --parallel 0\na kite", ["--parallel"]),
        ("%%sora_batch --max-jobs -1\na kite", ["--max-jobs"]),
        ("%%sora_batch --name 1x\na kite", ["--name"]),
        ("%%sora_batch --timeout 0\na kite", ["--timeout"]),
        ("%%sora_batch --orientation sideways\na kite", ["cell line 2", "sideways"]),
    ],
)
def test_batch_mistakes_are_one_line_and_nothing_is_sent(sora, text, needles):
    (sora.dir / "p.csv").write_text("prompt\na kite\n", encoding="utf-8")
    (sora.dir / "bad.csv").write_text("prompt,seconds\na,10\nb,ten\n", encoding="utf-8")
    (sora.dir / "typo.jsonl").write_text('{"prompt": "a", "durration": 10}\n', encoding="utf-8")
    sora.ip.user_ns.update(text="a single prompt", number=3)
    assert_usage_error(cell(sora, text), *needles)
    assert total(sora.emu) == 0


def test_the_cap_refuses_before_anything_is_sent(sora):
    assert cell(sora, "%config SoraMagics.max_jobs_per_cell = 2").success
    body = "\n".join(f"prompt number {i}" for i in range(3))
    message = assert_usage_error(cell(sora, "%%sora_batch\n" + body), "3 paid jobs", "cap of 2")
    assert "SoraMagics.max_jobs_per_cell" in message and "--max-jobs 3" in message
    assert total(sora.emu) == 0
    # Repeated prompts are one job: two distinct prompts pass the cap of two.
    ok = cell(sora, "%%sora_batch\nprompt number 0\nprompt number 1\nprompt number 0")
    assert ok.success and sora.emu.counters["create"] == 2
    # --max-jobs allows more for one cell; resumed and finished items do not count.
    ok = cell(sora, "%%sora_batch --max-jobs 3\n" + body)
    assert ok.success and sora.emu.counters["create"] == 3
    assert "will create 1 paid job (2 already done, 0 resumed)" in sora.read()
    assert sora.magics.max_jobs_per_cell == 2


def test_the_cap_setting_rejects_a_negative_value(sora):
    cell(sora, "%config SoraMagics.max_jobs_per_cell = -1")
    assert sora.magics.max_jobs_per_cell == 20
    assert_usage_error(cell(sora, "%sora_config max_jobs_per_cell=-1"), "max_jobs_per_cell")


def test_variants_say_how_many_paid_jobs_and_obey_the_cap(sora):
    grid = cell(sora, "%%sora_video -n 2\ntwo paper boats")
    assert grid.success and "sora_nb: this cell will create 2 paid jobs" in sora.read()
    single = cell(sora, "%%sora_video\none paper boat")
    assert single.success and "paid jobs" not in sora.read()
    assert cell(sora, "%config SoraMagics.max_jobs_per_cell = 2").success
    sent = total(sora.emu)
    message = assert_usage_error(cell(sora, "%%sora_video -n 3\nthree boats"), "3 paid jobs")
    assert "max_jobs_per_cell" in message
    assert total(sora.emu) == sent
    assert cell(sora, "%%sora_video -n 3 --max-jobs 3\nthree boats").success
    assert_usage_error(cell(sora, "%%sora_video -n 9 --max-jobs 0\nnine"), "1 to 8")
    assert sora.emu.counters["create"] == 6


def test_a_dry_run_sends_nothing(sora):
    result = cell(sora, "%%sora_batch --dry-run\na kite\na boat")
    out = sora.read()
    assert result.success
    assert "dry run: this batch would create 2 paid jobs" in out
    assert [j.status for j in result.result] == ["would create"] * 2
    assert total(sora.emu) == 0 and not (sora.dir / "videos").exists()
