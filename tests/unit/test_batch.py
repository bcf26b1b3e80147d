"""sora_nb.batch without a gateway: reading prompts (errors name the line), the idempotency key,
and the plan the journal decides (what is done, resumed, created, left alone)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sora_nb import batch
from sora_nb.batch import BatchError, Item
from sora_nb.journal import Journal
from sora_nb.models import Job
from sora_nb.plans import ClientCore

BASE = "https://relay.example/v1"


# -- reading ------------------------------------------------------------------------------------


def test_text_one_prompt_per_line_skipping_blanks_and_comments():
    items = batch.parse_text("a red kite\n\n# not a prompt\n   \n  a blue boat  \n", "cell")
    assert [(i.prompt, i.where) for i in items] == [
        ("a red kite", "cell line 1"),
        ("a blue boat", "cell line 5"),
    ]
    assert all(i.options == {} for i in items)


def test_text_line_numbers_start_where_the_user_sees_them():
    (item,) = batch.parse_text("a kite", "cell", first_line=2)
    assert item.where == "cell line 2"


def test_csv_prompt_and_option_columns():
    text = (
        "prompt,model,seconds,size,orientation\n"
        "a red kite,sora-2-pro,15,large,landscape\n"
        '"a boat, at dusk",,,,\n'
        '"two\nlines",sora-2,10,,portrait\n'
    )
    items = batch.parse_csv(text, "p.csv")
    assert items[0] == Item(
        "a red kite",
        {"model": "sora-2-pro", "duration": 15.0, "size": "large", "orientation": "landscape"},
        "p.csv line 2",
    )
    assert items[1] == Item("a boat, at dusk", {}, "p.csv line 3")  # empty cells: not given
    assert items[2].prompt == "two\nlines" and items[2].options["duration"] == 10.0


def test_csv_header_is_case_and_space_insensitive_and_duration_is_read_too():
    (item,) = batch.parse_csv(" Prompt , DURATION \na kite, 10 \n")
    assert item.options == {"duration": 10.0}


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("model,size\nsora-2,large\n", ["p.csv line 1", "no 'prompt' column"]),
        ("prompt,durtion\na kite,10\n", ["p.csv line 1", "unknown column 'durtion'"]),
        ("prompt,model\na kite,sora-2\n,sora-2\n", ["p.csv line 3", "no prompt"]),
        ("prompt,seconds\na kite,10\na boat,ten\n", ["p.csv line 3", "'ten'", "not a number"]),
        ("prompt,seconds\na kite,-5\n", ["p.csv line 2", "positive"]),
        ("prompt,seconds,duration\na kite,10,15\n", ["p.csv line 2", "both"]),
        ("prompt\na kite,extra\n", ["p.csv line 2", "2 fields"]),
        ("prompt,prompt\na,b\n", ["p.csv line 1", "twice"]),
    ],
)
def test_csv_mistakes_name_the_line(text, needles):
    with pytest.raises(BatchError) as caught:
        batch.parse_csv(text, "p.csv")
    message = str(caught.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


def test_jsonl_objects_and_bare_strings():
    text = (
        '{"prompt": "a red kite", "duration": 15, "model": "sora-2-pro"}\n'
        "\n"
        '"a blue boat"\n'
        '{"prompt": "a frog", "seconds": "10", "size": null}\n'
    )
    items = batch.parse_jsonl(text, "p.jsonl")
    assert items == [
        Item("a red kite", {"duration": 15.0, "model": "sora-2-pro"}, "p.jsonl line 1"),
        Item("a blue boat", {}, "p.jsonl line 3"),
        Item("a frog", {"duration": 10.0}, "p.jsonl line 4"),
    ]


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ('{"prompt": "a"}\n{"prompt": "b"\n', ["p.jsonl line 2", "not valid JSON"]),
        ('{"prompt": "a", "durration": 10}\n', ["p.jsonl line 1", "unknown option 'durration'"]),
        ('{"model": "sora-2"}\n', ["p.jsonl line 1", "no prompt"]),
        ("[1, 2]\n", ["p.jsonl line 1", "expected an object"]),
        ('{"prompt": 5}\n', ["p.jsonl line 1", "must be text"]),
        ('{"prompt": "a", "duration": true}\n', ["p.jsonl line 1", "duration"]),
        ('{"prompt": "a", "model": 3}\n', ["p.jsonl line 1", "model must be text"]),
    ],
)
def test_jsonl_mistakes_name_the_line(text, needles):
    with pytest.raises(BatchError) as caught:
        batch.parse_jsonl(text, "p.jsonl")
    for needle in needles:
        assert needle in str(caught.value), str(caught.value)


def test_read_items_picks_the_format_from_the_suffix(tmp_path):
    (tmp_path / "p.csv").write_text("prompt,seconds\na kite,10\n", encoding="utf-8")
    (tmp_path / "p.jsonl").write_text('{"prompt": "a boat"}\n', encoding="utf-8")
    (tmp_path / "p.txt").write_text("a frog\n", encoding="utf-8-sig")  # a BOM is no prompt
    assert batch.read_items(tmp_path / "p.csv")[0].options == {"duration": 10.0}
    assert batch.read_items(tmp_path / "p.jsonl")[0].prompt == "a boat"
    assert batch.read_items(tmp_path / "p.txt")[0].prompt == "a frog"
    with pytest.raises(BatchError, match="line 1"):
        batch.read_items(tmp_path / "p.txt", "jsonl")


def test_values_and_a_series_like_column():
    items = batch.from_values(["a kite", "a boat"], "prompts")
    assert [(i.prompt, i.where) for i in items] == [
        ("a kite", "prompts[0]"),
        ("a boat", "prompts[1]"),
    ]
    with pytest.raises(BatchError, match=r"prompts\[1\]: no prompt"):
        batch.from_values(["a kite", float("nan")], "prompts")
    labelled = batch.from_values(["a kite"], "df.prompt", labels=["r7"])
    assert labelled[0].where == "df.prompt['r7']"


class FakeFrame:
    """What from_frame uses of a pandas DataFrame (pandas is not installed here)."""

    def __init__(self, records, index=None):
        self.records = records
        self.columns = list(records[0]) if records else []
        self.index = index or list(range(len(records)))

    def to_dict(self, orient):
        assert orient == "records"
        return [dict(r) for r in self.records]


def test_a_frame_gives_its_prompt_column_and_option_columns():
    frame = FakeFrame(
        [
            {"prompt": "a kite", "seconds": 15.0, "model": float("nan")},
            {"prompt": "a boat", "seconds": float("nan"), "model": "sora-2-pro"},
        ]
    )
    items = batch.from_frame(frame, "df")
    assert items[0] == Item("a kite", {"duration": 15.0}, "df row 0")
    assert items[1] == Item("a boat", {"model": "sora-2-pro"}, "df row 1")
    with pytest.raises(BatchError, match="no 'prompt' column"):
        batch.from_frame(FakeFrame([{"text": "a kite"}]), "df")
    with pytest.raises(BatchError, match="df row 0: unknown option 'notes'"):
        batch.from_frame(FakeFrame([{"prompt": "a kite", "notes": "x"}]), "df")


# -- the key ------------------------------------------------------------------------------------


def core(base_url=BASE, dialect="unified", key="sk-one", journal=None):
    return ClientCore(base_url=base_url, api_key=key, dialect=dialect, journal=journal)


def key_of(client, prompt="a red kite", **options):
    return batch.item_key(client.base_url, client.prepare(prompt, **options))


def test_the_key_is_stable_across_versions_of_this_code():
    # A changed key would make every earlier batch look new: its jobs would be made again.
    assert key_of(core()) == "b1-41d19930539d8edaff5d5a8d2886fbe5"


def test_the_key_follows_what_is_sent_and_nothing_else():
    base = key_of(core())
    assert key_of(core(key="sk-another-key")) == base  # the API key is no part of it
    assert key_of(core(key="")) == base
    assert key_of(core(), duration=10) == base  # the default, given or not
    assert key_of(core(), duration=10.0) == base
    assert key_of(core(), orientation="Portrait") == base  # normalised as sent
    assert key_of(core(), "  a red kite  ") == base  # the prompt as sent (trimmed)
    different = {
        key_of(core(base_url="https://other.example/v1")),
        key_of(core(dialect="openai")),
        key_of(core(), model="sora-2-pro", size="large", duration=15),
        key_of(core(), duration=15),
        key_of(core(), orientation="landscape"),
        key_of(core(), "a red kite at dusk"),
        key_of(core(), "A red kite"),
    }
    assert base not in different and len(different) == 7


def test_the_key_never_holds_the_api_key():
    secret = "sk-live-very-secret-0001"
    assert secret not in key_of(core(key=secret))


# -- planning -----------------------------------------------------------------------------------


@pytest.fixture
def journal(tmp_path):
    return Journal(tmp_path / "jobs.sqlite3")


def record(journal, key, job_id, status, *, path=None, error=None, dialect="unified"):
    job = Job(id=job_id, status=status, dialect=dialect, prompt="p", error=error)
    journal.record(BASE, job, {"duration": 10, batch.BATCH_KEY: key})
    if path is not None:
        journal.update(BASE, job, path=path)


def planned(journal, prompts, **kw):
    client = core(journal=journal)
    return batch.plan([Item(p, {}, f"line {i + 1}") for i, p in enumerate(prompts)], client, **kw)


def test_a_new_batch_creates_every_prompt_once_and_says_so(journal):
    plan = planned(journal, ["a", "b", "a"], out_dir=Path("videos"))
    assert [j.action for j in plan.jobs] == ["create", "create", "duplicate"]
    assert plan.jobs[2].same_as == 0 and "line 1" in plan.jobs[2].note
    assert plan.creates == 2
    assert plan.line() == (
        "sora_nb: this batch will create 2 paid jobs (0 already done, 0 resumed); "
        "1 repeated item sharing a job"
    )
    # Every prepared request carries its key into the journal's first write.
    assert plan.jobs[0].prepared.params[batch.BATCH_KEY] == plan.jobs[0].key


def test_the_journal_decides_what_each_item_needs(journal, tmp_path):
    plan = planned(journal, ["done", "gone", "running", "lost", "failed", "new"])
    keys = {j.prompt: j.key for j in plan.jobs}
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0\0\0\x18ftypmp42")
    record(journal, keys["done"], "t1", "completed", path=video)
    record(journal, keys["gone"], "t2", "completed", path=tmp_path / "deleted.mp4")
    record(journal, keys["running"], "t3", "in_progress")
    record(journal, keys["lost"], "local:abc", "unknown")
    record(journal, keys["failed"], "t5", "failed", error="content policy")
    plan = planned(journal, ["done", "gone", "running", "lost", "failed", "new"], out_dir=tmp_path)
    actions = {j.prompt: (j.action, j.entry.id if j.entry else None) for j in plan.jobs}
    assert actions == {
        "done": ("done", "t1"),
        "gone": ("resume", "t2"),  # completed, its file missing: fetched again, not made again
        "running": ("resume", "t3"),
        "lost": ("unknown", "local:abc"),
        "failed": ("failed before", "t5"),
        "new": ("create", None),
    }
    assert plan.jobs[0].path == video and plan.jobs[0].status == "done"
    assert plan.jobs[4].error == "content policy" and "--retry-failed" in plan.jobs[4].note
    assert plan.creates == 1
    assert plan.line() == (
        "sora_nb: this batch will create 1 paid job (1 already done, 2 resumed); "
        "1 whose create may have reached the gateway, not made again; "
        "1 failed before, not made again"
    )
    again = planned(
        journal, ["lost", "failed"], out_dir=tmp_path, retry_failed=True, retry_unknown=True
    )
    assert [j.action for j in again.jobs] == ["create", "create"]


def test_a_failed_job_made_again_and_then_completed_is_done(journal, tmp_path):
    plan = planned(journal, ["a"])
    key = plan.jobs[0].key
    record(journal, key, "t1", "failed", error="boom")
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    record(journal, key, "t2", "completed", path=video)
    (job,) = planned(journal, ["a"], out_dir=tmp_path).jobs
    assert job.action == "done" and job.entry.id == "t2"


def test_rows_of_another_gateway_or_without_a_key_count_for_nothing(journal):
    plan = planned(journal, ["a"])
    key = plan.jobs[0].key
    journal.record("https://other.example/v1", Job(id="x", status="completed", dialect="unified"),
                   {batch.BATCH_KEY: key})  # fmt: skip
    journal.record(BASE, Job(id="y", status="in_progress", dialect="unified", prompt="a"), {})
    assert planned(journal, ["a"]).jobs[0].action == "create"


def test_a_dry_run_plans_the_same_and_says_would(journal):
    plan = planned(journal, ["a", "b"], dry_run=True)
    assert plan.line().startswith("sora_nb: dry run: this batch would create 2 paid jobs")
    assert [j.status for j in plan.jobs] == ["would create", "would create"]


def test_the_cap_names_the_count_and_the_option(journal):
    plan = planned(journal, [f"prompt {i}" for i in range(25)])
    plan.check_cap(25)
    plan.check_cap(0)  # no cap
    with pytest.raises(BatchError) as caught:
        plan.check_cap(20, source="SoraMagics.max_jobs_per_cell")
    message = str(caught.value)
    assert "25 paid jobs" in message and "cap of 20" in message
    assert "SoraMagics.max_jobs_per_cell" in message and "--max-jobs 25" in message


def test_an_item_the_rules_refuse_names_its_line(journal):
    # OpenAI's own API: its rules are known, so a wrong duration is refused before anything.
    client = ClientCore(
        base_url="https://api.openai.com/v1", api_key="k", dialect="openai", journal=journal
    )
    items = [Item("a", {}, "p.csv line 2"), Item("b", {"duration": 7.0}, "p.csv line 3")]
    with pytest.raises(BatchError) as caught:
        batch.plan(items, client)
    assert str(caught.value).startswith("p.csv line 3: ") and "duration" in str(caught.value)


def test_advice_on_a_relay_whose_rules_are_not_known_is_said_once(journal):
    # Elsewhere the rules only advise: the value goes as asked, and the note is said once.
    client = core(dialect="openai", journal=journal)
    items = [Item("a", {"duration": 7.0}, "l1"), Item("b", {"duration": 7.0}, "l2")]
    plan = batch.plan(items, client)
    assert len(plan.notes) == 1 and "7" in plan.notes[0]
    assert [j.prepared.request.duration for j in plan.jobs] == [7.0, 7.0]


def test_the_batch_defaults_yield_to_each_items_own(journal):
    client = core(journal=journal)
    items = [Item("a", {}, "l1"), Item("b", {"duration": 15.0}, "l2")]
    plan = batch.plan(items, client, defaults={"duration": 10.0, "model": None})
    assert [j.prepared.request.duration for j in plan.jobs] == [10.0, 15.0]


def test_a_plan_needs_a_journal():
    with pytest.raises(Exception, match="journal"):
        batch.plan([Item("a")], core())


def test_the_summary_table_is_deterministic(journal):
    plan = planned(journal, ["a red kite", "a blue boat"])
    plan.jobs[0].status, plan.jobs[0].path = "completed", Path("videos/x.mp4")
    plan.jobs[1].status, plan.jobs[1].error = "failed", "video job t2 failed: policy"
    table = plan.table(base=Path.cwd())
    lines = table.splitlines()
    assert lines[0].split() == ["item", "prompt", "status", "job", "file", "error"]
    assert "videos/x.mp4" in lines[1] and "policy" in lines[2]
    assert plan.table(base=Path.cwd()) == table
    assert plan.headline() == "batch of 2 prompts: 1 completed, 1 failed"


# -- the journal --------------------------------------------------------------------------------


def test_a_journal_written_before_batches_still_loads(tmp_path):
    # The table as every earlier version made it, with a row in it: nothing to migrate, since
    # the key lives among the params (an older sora_nb reading a newer journal is fine too).
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE jobs (base_url TEXT NOT NULL, id TEXT NOT NULL, dialect TEXT NOT NULL,"
            " model TEXT, prompt TEXT, params TEXT NOT NULL DEFAULT '{}', status TEXT NOT NULL,"
            " progress REAL, video_url TEXT, path TEXT, error TEXT, created_at REAL NOT NULL,"
            " updated_at REAL NOT NULL, PRIMARY KEY (base_url, id))"
        )
        db.execute(
            "INSERT INTO jobs VALUES (?, 't0', 'unified', 'sora-2', 'old', ?, 'completed', 100,"
            " NULL, NULL, NULL, 1, 2)",
            (BASE, json.dumps({"duration": 10})),
        )
    journal = Journal(path)
    (entry,) = journal.entries()
    assert entry.batch_key is None and entry.id == "t0"
    assert journal.batch_entries(BASE, ["b1-x"]) == {}
    record(journal, "b1-x", "t1", "queued")
    assert [e.id for e in journal.batch_entries(BASE, ["b1-x"])["b1-x"]] == ["t1"]


def test_a_row_keeps_its_key_when_a_lost_create_is_found(journal):
    record(journal, "b1-k", "local:1", "unknown")
    journal.replace_id(BASE, "local:1", Job(id="t9", status="queued", dialect="unified"))
    (entry,) = journal.batch_entries(BASE, ["b1-k"])["b1-k"]
    assert entry.id == "t9" and entry.batch_key == "b1-k"
