"""Progress profiles as clients see them over the wire: every family, every profile."""

from __future__ import annotations

import time

import httpx
import pytest

from sora_nb.emulator import serve
from sora_nb.emulator.progress import PROFILES
from tests.emulator_fixtures import unified_body

pytestmark = pytest.mark.timeout(60)


def watch(client: httpx.Client, unified_id: str, video_id: str) -> list[tuple[dict, dict]]:
    """Both jobs' answers, polled until both are done."""
    answers = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        u = client.get("/video/query", params={"id": unified_id}).json()
        v = client.get(f"/videos/{video_id}").json()
        answers.append((u, v))
        if u["status"] == "completed" and v["status"] == "completed":
            return answers
        time.sleep(0.02)
    raise AssertionError(f"not done: {answers[-1]}")


@pytest.mark.parametrize("profile", PROFILES)
def test_progress_rises_and_reads_100_only_when_done(profile: str) -> None:
    with (
        serve(job_seconds=0.4, seed=9, progress_profile=profile) as emu,
        httpx.Client(base_url=emu.base_url, timeout=10) as client,
    ):
        unified_id = client.post("/video/create", json=unified_body()).json()["id"]
        video_id = client.post("/videos", json={"prompt": "profiles"}).json()["id"]
        answers = watch(client, unified_id, video_id)
        videos = [v for _, v in answers]
        progress = [v["progress"] for v in videos]
        assert progress == sorted(progress)
        assert all((v["progress"] == 100) == (v["status"] == "completed") for v in videos)
        running = [v for v in videos if v["status"] != "completed"]
        assert {v["status"] for v in running} <= {"queued", "in_progress"}
        tasks = [u for u, _ in answers]
        info = [u["detail"]["pending_info"] for u in tasks]
        assert all((i["progress_pct"] == 1.0) == (i["status"] == "completed") for i in info)
        if profile == "silent":
            # No figure until done: null in the unified family, 0 in OpenAI's integer.
            assert all(i["progress_pct"] is None for i in info if i["status"] != "completed")
            assert all(v["progress"] == 0 for v in running)
        else:
            pcts = [i["progress_pct"] for i in info]
            assert pcts == sorted(pcts)
        if profile == "queue_jumps":
            # Queued upstream at first, though the job holds a render slot.
            assert answers[0][0]["status"] == "pending" and answers[0][1]["status"] == "queued"
            assert answers[0][0]["detail"]["pending_info"]["progress_pos_in_queue"] is None
        if profile == "plateau":
            assert max(v["progress"] for v in running) >= 90


def test_same_seed_same_curves() -> None:
    curves = []
    for _ in range(2):
        with serve(job_seconds=0.1, seed=4, progress_profile="plateau") as emu:
            with httpx.Client(base_url=emu.base_url, timeout=10) as client:
                job_id = client.post("/videos", json={"prompt": "again"}).json()["id"]
            curves.append((job_id, emu.store.get(job_id).curve))
    assert curves[0] == curves[1]
