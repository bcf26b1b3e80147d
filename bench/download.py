"""Download: a ~1 GiB video from the emulator. sora_nb's streamed download against curl
(throughput) and against the openai package's ``download_content`` (peak memory)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

from .common import alternate, clean_env, fmt_bytes, goal, median, mib, ratio, row

NAME = "download"
TITLE = "Download"
METHOD = """\
The emulator runs in the benchmark's process (`video_padding` makes its mp4 about the size
below; one openai-dialect job, rendered before the first measured run); every client is a fresh
process, so each download starts from a cold client and its memory is its own. sora_nb:
`Client(dialect="openai").download(job, folder)` (`GET /v1/videos/{id}/content`, streamed to a
temporary file, renamed at the end). curl: `curl -sS -o FILE URL`, the same URL, its own
`%{time_total}`. openai: `OpenAI().videos.download_content(id).write_to_file(FILE)`. The Python
clients time the call itself (imports and client set-up excluded; each first asks for the job
once, so the connection is open, as it would be after waiting for the job). Peak memory growth:
the child resets its peak RSS (`echo 5 > /proc/self/clear_refs`) just before the call, then
reads `VmHWM` from `/proc/self/status` after it; growth = that peak − RSS before. CPU time is
the client's own (user + system; curl's from `wait4`). A diagnostic side runs sora_nb's own
`download` with httpcore's `HTTP11Connection.READ_NUM_BYTES` raised from 64 KiB to 1 MiB in the
child, to show what bounds the rest. The four alternate, the order reversed every other round;
files go to a temporary folder and are deleted after each run; figures are medians."""

_CHILD_COMMON = """
import json, os, sys, time
def _status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
def _measure(call):
    rss0 = _status("VmRSS")
    reset = _reset_peak()
    hwm0 = _status("VmHWM")
    c0 = os.times()
    t0 = time.perf_counter()
    path = call()
    t1 = time.perf_counter()
    c1 = os.times()
    hwm1 = _status("VmHWM")
    growth = hwm1 - rss0 if reset else max(0, hwm1 - hwm0)
    print(json.dumps({
        "seconds": t1 - t0, "bytes": os.path.getsize(path), "peak_growth": growth,
        "peak_reset": reset, "rss_before": rss0, "peak_after": hwm1,
        "cpu": (c1.user - c0.user) + (c1.system - c0.system),
    }))
"""

SORA_CHILD = (
    _CHILD_COMMON
    + """
from sora_nb import Client
base, job_id, folder, variant = sys.argv[1:5]
if variant == "big_reads":
    # Diagnostic only: and httpcore reading 1 MiB per socket read instead of its fixed 64 KiB.
    import httpcore._sync.http11
    httpcore._sync.http11.HTTP11Connection.READ_NUM_BYTES = 1 << 20
client = Client(base_url=base, api_key="sk-bench", dialect="openai")
job = client.get_job(job_id)
_measure(lambda: client.download(job, folder, filename="video.mp4"))
"""
)

OPENAI_CHILD = (
    _CHILD_COMMON
    + """
import warnings
warnings.simplefilter("ignore", DeprecationWarning)
from openai import OpenAI
base, job_id, folder = sys.argv[1:4]
client = OpenAI(base_url=base, api_key="sk-bench")
client.videos.retrieve(job_id)
target = os.path.join(folder, "video.mp4")
def call():
    client.videos.download_content(job_id).write_to_file(target)
    return target
_measure(call)
"""
)


def _plan(quick: bool) -> dict[str, Any]:
    if quick:
        return {"padding": 64 << 20, "rounds": 2}
    return {"padding": 1 << 30, "rounds": 3}


def _python(code: str, *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _curl(url: str, folder: str) -> dict[str, Any]:
    target = os.path.join(folder, "video.mp4")
    proc = subprocess.Popen(
        [
            shutil.which("curl") or "curl",
            "-sS",
            "-o",
            target,
            "-H",
            "Authorization: Bearer sk-bench",
            "-w",
            "%{time_total} %{size_download}",
            url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"curl failed: {err}")
    seconds, size = out.split()
    return {
        "seconds": float(seconds),
        "bytes": int(float(size)),
        "cpu": usage.ru_utime + usage.ru_stime,
    }


def _side(name: str, base: str, job_id: str, url: str) -> dict[str, Any]:
    folder = tempfile.mkdtemp(prefix="sora-bench-dl-")
    try:
        if name == "curl":
            result = _curl(url, folder)
        elif name == "openai":
            result = _python(OPENAI_CHILD, base, job_id, folder)
        else:
            variant = "big_reads" if name == "sora_nb_big_reads" else "as_is"
            result = _python(SORA_CHILD, base, job_id, folder, variant)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result["mib_per_s"] = mib(result["bytes"]) / result["seconds"]
    return result


def run(quick: bool = False) -> dict[str, Any]:
    import httpx

    from sora_nb.emulator import serve

    plan = _plan(quick)
    with serve(job_seconds=0.0, concurrency=4, seed=9, video_padding=plan["padding"]) as emu:
        base = emu.base_url
        created = httpx.post(
            f"{base}/videos",
            json={
                "prompt": "a long download",
                "model": "sora-2",
                "seconds": "4",
                "size": "720x1280",
            },
            timeout=30,
        ).json()
        job_id = created["id"]
        url = f"{base}/videos/{job_id}/content?variant=video"
        deadline = time.monotonic() + 60
        while httpx.get(f"{base}/videos/{job_id}", timeout=30).json()["status"] != "completed":
            if time.monotonic() > deadline:
                raise RuntimeError("the download job did not complete")
            time.sleep(0.05)
        # Render the file now (first request for it), so no measured run pays for that.
        httpx.get(url, headers={"Range": "bytes=0-0"}, timeout=120).raise_for_status()
        samples = alternate(
            {
                name: (lambda r, name=name: _side(name, base, job_id, url))
                for name in (
                    "sora_nb",
                    "curl",
                    "openai",
                    "sora_nb_big_reads",
                )
            },
            plan["rounds"],
        )
    m = {
        side: {k: median([x[k] for x in runs]) for k in ("seconds", "bytes", "mib_per_s", "cpu")}
        for side, runs in samples.items()
    }
    s, c, o = m["sora_nb"], m["curl"], m["openai"]
    b = m["sora_nb_big_reads"]
    s_growth = median([x["peak_growth"] for x in samples["sora_nb"]])
    o_growth = median([x["peak_growth"] for x in samples["openai"]])
    b_growth = median([x["peak_growth"] for x in samples["sora_nb_big_reads"]])
    size = s["bytes"]
    r_speed = ratio(s["mib_per_s"], c["mib_per_s"])
    rows = [
        row(
            f"Throughput, {fmt_bytes(size)}",
            f"{s['mib_per_s']:.0f} MiB/s",
            f"curl: {c['mib_per_s']:.0f} MiB/s",
            r_speed,
        ),
        row(
            "Throughput against openai `download_content`",
            f"{s['mib_per_s']:.0f} MiB/s",
            f"openai: {o['mib_per_s']:.0f} MiB/s",
            ratio(s["mib_per_s"], o["mib_per_s"]),
        ),
        row(
            "Peak memory growth during the download",
            fmt_bytes(s_growth),
            f"openai: {fmt_bytes(o_growth)}",
            ratio(s_growth, o_growth),
        ),
        row(
            "Client CPU time (user + system)",
            f"{s['cpu']:.2f} s",
            f"curl: {c['cpu']:.2f} s · openai: {o['cpu']:.2f} s",
            ratio(s["cpu"], c["cpu"]),
        ),
        row(
            "Diagnostic: with httpcore reading 1 MiB per socket read, throughput vs curl",
            f"{b['mib_per_s']:.0f} MiB/s, CPU {b['cpu']:.2f} s, peak growth {fmt_bytes(b_growth)}",
            f"curl: {c['mib_per_s']:.0f} MiB/s",
            ratio(b["mib_per_s"], c["mib_per_s"]),
        ),
    ]
    goals = [
        goal("Throughput at least 0.8x curl's", f"{r_speed:.2f}x", r_speed >= 0.8),
        goal("Peak memory growth under 64 MiB", fmt_bytes(s_growth), s_growth < 64 << 20),
    ]
    reset = all(x["peak_reset"] for side in ("sora_nb", "openai") for x in samples[side])
    notes = [
        "Peak RSS was reset before each Python download (clear_refs)."
        if reset
        else "The peak RSS could not be reset (no /proc/self/clear_refs): growth is a lower bound.",
    ]
    return {
        "rows": rows,
        "goals": goals,
        "notes": notes,
        "params": {**plan, "bytes": size},
        "raw": samples,
    }


def explain(result: dict[str, Any]) -> list[str]:
    out = []
    raw = result["raw"]

    def med(side: str, key: str) -> float:
        return median([x[key] for x in raw[side]])

    curl = med("curl", "mib_per_s")
    for g in result["goals"]:
        if g["met"]:
            continue
        if g["goal"].startswith("Throughput"):
            out.append(
                f"{g['goal']}: {g['value']}. Over loopback the client's CPU is the limit: sora_nb "
                f"used {med('sora_nb', 'cpu'):.2f} s of CPU for a "
                f"{med('sora_nb', 'seconds'):.2f} s download, curl {med('curl', 'cpu'):.2f} s. "
                "sora_nb writes httpx's pieces as they arrive (no re-chunking); what remains is "
                "httpcore reading the socket 64 KiB at a time (`HTTP11Connection."
                "READ_NUM_BYTES`, a class constant with no public setting) and running each read "
                "through h11 in pure Python. With 1 MiB reads: "
                f"{med('sora_nb_big_reads', 'mib_per_s'):.0f} MiB/s "
                f"({med('sora_nb_big_reads', 'mib_per_s') / curl:.2f}x curl). Changing the "
                "constant would change every httpx user in the process, so it needs an upstream "
                "setting (or a download transport of sora_nb's own)."
            )
        else:
            out.append(f"{g['goal']}: {g['value']}.")
    return out
