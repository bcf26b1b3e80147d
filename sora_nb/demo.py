"""``python -m sora_nb.demo``: one video, start to finish, with no key and no network.

Starts the built-in emulator on loopback (unless ``SORA_BASE_URL`` points at a real gateway),
generates a video with live progress, downloads it, and checks it is a real H.264 mp4.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from pathlib import Path

from .client import Client
from .models import Job


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sora_nb.demo", description=__doc__)
    parser.add_argument("prompt", nargs="?", default="a paper boat drifting on a calm pond")
    parser.add_argument("--out", default="videos", help="folder for the video (default: videos)")
    parser.add_argument("--model", default="sora-2")
    parser.add_argument("--duration", type=float, default=10)
    args = parser.parse_args(argv)

    with ExitStack() as stack:
        base_url = os.environ.get("SORA_BASE_URL")
        if not base_url:
            from . import builtin

            emulator = builtin.start(job_seconds=3.0, seed=0)
            stack.callback(builtin.stop, emulator)
            base_url = emulator.base_url
            print(f"No SORA_BASE_URL set: using the built-in emulator at {base_url}")
        client = stack.enter_context(Client(base_url=base_url, poll_interval=0.5))

        def show(job: Job) -> None:
            pct = "" if job.progress is None else f" {job.progress:5.1f}%"
            print(f"\r  {job.status:<12}{pct}", end="", flush=True)

        job = client.generate_video(
            args.prompt, model=args.model, duration=args.duration, on_update=show
        )
        print()
        path = client.download(job, Path(args.out))
    size = path.stat().st_size
    print(f"Saved {path} ({size:,} bytes) for job {job.id}")
    with open(path, "rb") as fh:
        head = fh.read(64)
    if b"ftyp" not in head:
        print("The file is not an mp4.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
