"""``sora-nb batch`` and ``sora-nb balance`` end to end: a real process, the emulator over
loopback, the exit status, and a second run that creates nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sora_nb.journal import Journal
from tests.conftest import KEY, interruptible

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]  # subprocesses, real signals

JSONL = (
    '{"prompt": "a red kite", "duration": 15}\n'
    '{"prompt": "a blue boat", "model": "sora-2-pro", "size": "large"}\n'
    '"a green frog"\n'
)


def sora_nb(tmp_path: Path, *args: str, env: dict[str, str] | None = None, **kw):
    full = {**os.environ, "SORA_NB_DATA_DIR": str(tmp_path / "data"), **(env or {})}
    for name in ("SORA_BASE_URL", "SORA_API_KEY", "SORA_DIALECT", "SORA_MODEL"):
        if not env or name not in env:
            full.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "sora_nb.cli", *args],
        cwd=tmp_path,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


@pytest.fixture
def gateway_env(emu):
    emu.set(job_seconds=0.3)
    return {"SORA_BASE_URL": emu.base_url, "SORA_API_KEY": KEY, "SORA_DIALECT": "unified"}


def test_a_batch_then_the_same_batch_again(emu, gateway_env, tmp_path):
    (tmp_path / "prompts.jsonl").write_text(JSONL, encoding="utf-8")
    args = ("batch", "prompts.jsonl", "--out", "videos/", "--poll-interval", "0.1")
    first = sora_nb(tmp_path, *args, env=gateway_env)
    assert first.returncode == 0, first.stderr
    assert "this batch will create 3 paid jobs (0 already done, 0 resumed)" in first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == "batch of 3 prompts: 3 completed"
    assert lines[1].split() == ["item", "prompt", "status", "job", "file", "error"]
    assert all(" completed " in line and "videos/" in line for line in lines[2:5])
    files = sorted((tmp_path / "videos").glob("*.mp4"))
    assert len(files) == 3 and all(f.read_bytes()[4:8] == b"ftyp" for f in files)
    assert emu.counters["create"] == 3
    kite = next(j for j in emu.jobs.values() if j.prompt == "a red kite")
    assert kite.seconds == 15
    # Not a terminal: a plain line per change of a job's status, no carriage returns.
    assert "\r" not in first.stderr and "prompts.jsonl line 2: completed" in first.stderr
    for output in (first.stdout, first.stderr):
        assert KEY not in output

    sent = sum(emu.counters.values())
    second = sora_nb(tmp_path, *args, env=gateway_env)
    assert second.returncode == 0, second.stderr
    assert "this batch will create 0 paid jobs (3 already done, 0 resumed)" in second.stderr
    assert second.stdout.splitlines()[0] == "batch of 3 prompts: 3 done"
    assert sum(emu.counters.values()) == sent  # nothing was sent at all


def test_a_failed_prompt_is_a_nonzero_exit_and_is_not_made_again(emu, gateway_env, tmp_path):
    (tmp_path / "p.txt").write_text("a calm sea\na storm [fail]\n", encoding="utf-8")
    first = sora_nb(tmp_path, "batch", "p.txt", "--poll-interval", "0.1", env=gateway_env)
    assert first.returncode == 1
    assert "[fail]" in first.stdout and " failed " in first.stdout
    second = sora_nb(tmp_path, "batch", "p.txt", "--poll-interval", "0.1", env=gateway_env)
    assert second.returncode == 1 and "failed before" in second.stdout
    assert "--retry-failed" in second.stdout
    assert emu.counters["create"] == 2


def test_the_cap_and_mistakes_exit_2_before_anything_is_sent(emu, gateway_env, tmp_path):
    (tmp_path / "many.txt").write_text(
        "".join(f"prompt {i}\n" for i in range(21)), encoding="utf-8"
    )
    (tmp_path / "bad.csv").write_text("prompt,seconds\na,10\nb,ten\n", encoding="utf-8")
    emu.reset_counters()
    capped = sora_nb(tmp_path, "batch", "many.txt", env=gateway_env)
    assert capped.returncode == 2
    assert "21 paid jobs" in capped.stderr and "cap of 20" in capped.stderr
    assert "--max-jobs 21" in capped.stderr
    bad = sora_nb(tmp_path, "batch", "bad.csv", env=gateway_env)
    assert bad.returncode == 2 and "bad.csv line 3" in bad.stderr
    missing = sora_nb(tmp_path, "batch", "nosuch.jsonl", env=gateway_env)
    assert missing.returncode == 2 and "nosuch.jsonl" in missing.stderr
    dry = sora_nb(tmp_path, "batch", "many.txt", "--dry-run", "--max-jobs", "0", env=gateway_env)
    assert dry.returncode == 0 and "would create 21 paid jobs" in dry.stderr
    assert dry.stdout.splitlines()[0] == "batch of 21 prompts: 21 would create"
    assert sum(" would create" in line for line in dry.stdout.splitlines()[2:]) == 21
    assert sum(emu.counters.values()) == 0


def test_standard_input_and_the_model_from_the_environment(emu, gateway_env, tmp_path):
    result = sora_nb(
        tmp_path,
        "batch",
        "-",
        "--poll-interval",
        "0.1",
        env={**gateway_env, "SORA_MODEL": "sora-2-pro"},
        input="a lighthouse\n",
    )
    assert result.returncode == 0, result.stderr
    (job,) = emu.jobs.values()
    assert job.model == "sora-2-pro"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_builtin_emulator_demo_twice(tmp_path):
    (tmp_path / "p.txt").write_text("a kite\na boat\n", encoding="utf-8")
    port = str(free_port())
    args = ("batch", "p.txt", "--emulator", "--emulator-port", port)
    args += ("--emulator-job-seconds", "0.3", "--poll-interval", "0.1")
    # A key meant for a real gateway is in the environment: the emulator is sent none of it.
    first = sora_nb(tmp_path, *args, env={"SORA_API_KEY": KEY})
    assert first.returncode == 0, first.stderr
    assert f"built-in emulator is serving at http://127.0.0.1:{port}/v1" in first.stderr
    assert "will create 2 paid jobs" in first.stderr
    second = sora_nb(tmp_path, *args, env={"SORA_API_KEY": KEY})
    assert second.returncode == 0, second.stderr
    assert "will create 0 paid jobs (2 already done, 0 resumed)" in second.stderr
    rows = Journal(tmp_path / "data" / "jobs.sqlite3").entries()
    assert len(rows) == 2 and {r.status for r in rows} == {"completed"}


def test_ctrl_c_leaves_the_batch_resumable(emu, gateway_env, tmp_path):
    emu.set(job_seconds=10.0)  # still running when Ctrl-C comes, even on a loaded machine
    (tmp_path / "p.txt").write_text("one\ntwo\n", encoding="utf-8")
    journal = Journal(tmp_path / "data" / "jobs.sqlite3")
    full = {**os.environ, "SORA_NB_DATA_DIR": str(tmp_path / "data"), **gateway_env}
    process = subprocess.Popen(
        [sys.executable, "-m", "sora_nb.cli", "batch", "p.txt", "--poll-interval", "0.1"],
        cwd=tmp_path,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = journal.entries() if journal.path.exists() else []
        if len([r for r in rows if not r.id.startswith("local:")]) == 2:
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in out and "run the same command again" in err
    assert emu.counters["create"] == 2
    again = sora_nb(tmp_path, "batch", "p.txt", "--poll-interval", "0.1", env=gateway_env)
    assert again.returncode == 0, again.stderr
    assert "will create 0 paid jobs (0 already done, 2 resumed)" in again.stderr
    assert emu.counters["create"] == 2


def test_balance(emu, gateway_env, tmp_path):
    emu.set(billing_granted=25.0, billing_used=12.66)
    result = sora_nb(tmp_path, "balance", env=gateway_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "balance: $12.34 left of $25.00 (used $12.66)\n"
    emu.set(families=("unified",))
    result = sora_nb(tmp_path, "balance", env=gateway_env)
    assert result.returncode == 1 and result.stdout == "balance: not served by this gateway\n"
    assert KEY not in result.stdout + result.stderr
