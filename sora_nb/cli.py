"""``sora-nb``: the command line, for runs with no notebook.

``sora-nb batch prompts.jsonl --out videos/`` makes one video per prompt, exactly as
``%%sora_batch`` does (the same ``sora_nb.batch``, the same journal): run it again and what was
made is not made again. Progress goes to standard error (one line rewritten in place on a
terminal, a line per job change otherwise), the summary table to standard output. Exit status:
0 when every prompt has its video, 1 when any has not (failed, unknown, interrupted), 2 for a
usage mistake (nothing sent), 130 after Ctrl-C.

``sora-nb balance`` prints what the relay says the key has left (one-api and new-api serve it).

The gateway and key come from ``SORA_BASE_URL``, ``SORA_API_KEY``, ``SORA_DIALECT`` (and
``SORA_MODEL``, the default model here), or the options; ``--emulator`` runs against the
built-in emulator instead (a demo that needs no key and no network).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from . import _exceptions as E
from . import batch as core
from .config import DEFAULT_MODEL, ENV_MODEL
from .events import RunEvent

__all__ = ["main"]

EXIT_OK, EXIT_NOT_ALL_DONE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# The built-in emulator's port for --emulator: fixed, so that a second run of the same batch
# talks to the same base URL (the idempotency key names the gateway).
EMULATOR_PORT = 8765


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sora-nb", description="AI video generation through OpenAI-compatible gateways."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser(
        "batch",
        help="one video per prompt, idempotent (a second run makes nothing twice)",
        description="Make one video per prompt of FILE. Run it again (after a failure, an "
        "interrupt, a crash) and the jobs already made are not made again: finished ones are "
        "skipped, unfinished ones resumed. The job journal is the only state.",
    )
    b.add_argument(
        "file",
        help="the prompts: .jsonl (one object per line: prompt, model, duration, size, "
        "orientation), .csv (a header with a prompt column and optional option columns), or "
        "text (one prompt per line); - reads standard input",
    )
    b.add_argument(
        "--format", choices=tuple(core.FORMATS), help="the file's format (default: its suffix)"
    )
    b.add_argument("--out", default="videos", help="folder for the videos (default: videos)")
    b.add_argument(
        "-m",
        "--model",
        default=os.environ.get(ENV_MODEL) or None,
        help=f"model for prompts that name none (default: ${ENV_MODEL}, else {DEFAULT_MODEL})",
    )
    b.add_argument("-d", "--duration", type=float, help="seconds, for prompts that give none")
    b.add_argument("-s", "--size", help="small, large or WIDTHxHEIGHT, for prompts that give none")
    b.add_argument("-o", "--orientation", help="portrait or landscape, for prompts that give none")
    b.add_argument(
        "--dialect", help="request family (default: $SORA_DIALECT, else unified; auto asks)"
    )
    b.add_argument("--base-url", help="the gateway (default: $SORA_BASE_URL)")
    b.add_argument(
        "--parallel",
        type=int,
        default=core.DEFAULT_PARALLEL,
        help=f"jobs in flight at once (default {core.DEFAULT_PARALLEL})",
    )
    b.add_argument(
        "--max-jobs",
        type=int,
        default=core.DEFAULT_MAX_JOBS,
        help=f"most paid jobs this run may create (default {core.DEFAULT_MAX_JOBS}; 0: no cap)",
    )
    b.add_argument("--retry-failed", action="store_true", help="make again the jobs that failed")
    b.add_argument(
        "--retry-unknown",
        action="store_true",
        help="make again the jobs whose create was sent and never answered (they may exist)",
    )
    b.add_argument("--dry-run", action="store_true", help="say what would be created; send nothing")
    b.add_argument("--timeout", type=float, default=900.0, help="longest wait per video, seconds")
    b.add_argument("--poll-interval", type=float, default=1.0, help="shortest time between polls")
    _emulator_options(b)

    bal = sub.add_parser("balance", help="what the relay says the key has left")
    bal.add_argument("--base-url", help="the gateway (default: $SORA_BASE_URL)")
    _emulator_options(bal)
    return parser


def _emulator_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--emulator",
        action="store_true",
        help="run against the built-in emulator (no key, no network); it stops when this ends",
    )
    parser.add_argument(
        "--emulator-port",
        type=int,
        default=EMULATOR_PORT,
        help=f"its port (default {EMULATOR_PORT}: the same gateway from run to run)",
    )
    parser.add_argument(
        "--emulator-job-seconds", type=float, default=2.0, help="its render time of one job"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    emulator = None
    try:
        if args.emulator:
            emulator = _start_emulator(args)
            if emulator is None:
                return EXIT_USAGE
        if args.command == "balance":
            return _balance(args, emulator)
        return _batch(args, emulator)
    finally:
        if emulator is not None:
            from . import builtin

            builtin.stop(emulator)


def _start_emulator(args: Any) -> Any:
    from . import builtin

    try:
        emulator = builtin.start(
            job_seconds=args.emulator_job_seconds, port=args.emulator_port, seed=0
        )
    except ImportError:
        _err("sora-nb: --emulator needs the emulator: pip install 'sora_nb[emulator]'")
        return None
    except OSError as exc:
        _err(
            f"sora-nb: cannot start the emulator on port {args.emulator_port} ({exc}); "
            "choose another with --emulator-port"
        )
        return None
    _err(f"sora-nb: the built-in emulator is serving at {emulator.base_url}")
    return emulator


def _client(args: Any, emulator: Any, **options: Any) -> Any:
    from .client import AsyncClient

    if emulator is not None:
        # The built-in emulator is sent no key: the user's real one has no business there.
        return AsyncClient(base_url=emulator.base_url, api_key="", **options)
    return AsyncClient(base_url=args.base_url, **options)


def _balance(args: Any, emulator: Any) -> int:
    async def ask() -> Any:
        async with _client(args, emulator) as client:
            return await client.balance()

    try:
        balance = asyncio.run(ask())
    except E.NotFoundError:
        print("balance: not served by this gateway")
        return EXIT_NOT_ALL_DONE
    except E.SoraError as exc:
        _err(f"sora-nb: {' '.join(str(exc).split())}")
        return EXIT_NOT_ALL_DONE
    print(f"balance: {balance.line()}")
    return EXIT_OK


def _read(args: Any) -> list[core.Item]:
    if args.file == "-":
        kind = args.format or "text"
        return core.FORMATS[kind](sys.stdin.read(), "stdin")
    return core.read_items(args.file, args.format)


def _batch(args: Any, emulator: Any) -> int:
    if not 1 <= args.parallel <= core.MAX_PARALLEL:
        return _usage(f"--parallel takes 1 to {core.MAX_PARALLEL}, not {args.parallel}")
    if args.max_jobs < 0:
        return _usage(f"--max-jobs must be 0 (no cap) or more, not {args.max_jobs}")
    try:
        items = _read(args)
    except core.BatchError as exc:
        return _usage(str(exc))
    except OSError as exc:
        return _usage(f"cannot read {args.file}: {exc.strerror or exc}")
    if not items:
        return _usage(f"no prompts in {args.file}")
    out_dir = Path(args.out)
    defaults = {
        "model": args.model,
        "duration": args.duration,
        "size": args.size,
        "orientation": args.orientation,
    }
    progress = Progress(sys.stderr)
    box: dict[str, Any] = {}

    async def go() -> core.Batch:
        from .journal import Journal

        async with _client(
            args,
            emulator,
            dialect=args.dialect,
            model=args.model or DEFAULT_MODEL,
            journal=Journal(),
            poll_interval=args.poll_interval,
            max_poll_interval=max(30.0, args.poll_interval),
        ) as client:
            batch = core.plan(
                items,
                client,
                defaults=defaults,
                timeout=args.timeout,
                out_dir=out_dir,
                retry_failed=args.retry_failed,
                retry_unknown=args.retry_unknown,
                dry_run=args.dry_run,
            )
            box["batch"] = batch
            batch.check_cap(args.max_jobs)
            for note in batch.notes:
                _err(f"sora_nb: note: {note}")
            _err(batch.line())
            progress.start(batch)
            return await core.run(
                batch,
                client,
                out_dir=out_dir,
                parallel=args.parallel,
                timeout=args.timeout,
                listener=progress,
            )

    try:
        batch = asyncio.run(go())
    except KeyboardInterrupt:
        progress.end()
        batch = box.get("batch")
        if batch is not None:
            print(batch.headline() + " (interrupted)")
            print(batch.table())
        _err(
            "sora-nb: interrupted; the jobs already submitted are in the journal: run the same "
            "command again to resume them (none is created twice)"
        )
        return EXIT_INTERRUPTED
    except (E.ValidationError, E.ConfigError) as exc:
        return _usage(str(exc))
    except E.SoraError as exc:
        progress.end()
        _err(f"sora-nb: {' '.join(str(exc).split())}")
        return EXIT_NOT_ALL_DONE
    progress.end()
    print(batch.headline())
    print(batch.table())
    return EXIT_OK if batch.ok else EXIT_NOT_ALL_DONE


def _usage(message: str) -> int:
    _err(f"sora-nb: {message}")
    return EXIT_USAGE


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Progress:
    """The batch's progress on standard error: on a terminal, one overall line rewritten in
    place (at most ``rate`` times a second) and a line for each job that ends; elsewhere (a
    log, a CI job), a plain line for each change of a job's status, and nothing else."""

    def __init__(self, stream: TextIO, *, rate: float = 4.0, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.gap = 1.0 / rate
        self.batch: core.Batch | None = None
        self._last = float("-inf")
        self._start = time.monotonic()
        self._statuses: dict[int, str] = {}
        self._drawn = False

    def start(self, batch: core.Batch) -> None:
        self.batch = batch
        self._start = time.monotonic()

    def __call__(self, job: core.BatchJob, event: RunEvent | None = None) -> None:
        changed = self._statuses.get(job.index) != job.status
        self._statuses[job.index] = job.status
        if changed and (not self.tty or job.finished):
            self._line(self._job_line(job))
        if self.tty:
            now = time.monotonic()
            if changed or now - self._last >= self.gap:
                self._last = now
                self._overall()

    def _job_line(self, job: core.BatchJob) -> str:
        parts = [f"{job.item.where}: {job.status}"]
        if job.job_id:
            parts.append(job.job_id)
        detail = job.error or (core.shown_path(job.path) if job.status == "completed" else None)
        if detail:
            parts.append(detail)
        elif job.note and job.finished:
            parts.append(job.note)
        return " · ".join(parts)

    def _overall(self) -> None:
        if self.batch is None:
            return
        jobs = self.batch.jobs
        finished = sum(1 for j in jobs if j.finished)
        running = sum(1 for j in jobs if not j.finished and j.status != "waiting")
        bad = sum(1 for j in jobs if j.finished and not j.ok)
        width = 20
        filled = round(width * self.batch.progress() / 100)
        elapsed = int(time.monotonic() - self._start)
        text = (
            f"[{'#' * filled}{'.' * (width - filled)}] {finished}/{len(jobs)} finished · "
            f"{running} running · {bad} not done · {elapsed // 60}:{elapsed % 60:02d}"
        )
        self.stream.write("\r" + text.ljust(79))
        self.stream.flush()
        self._drawn = True

    def _line(self, text: str) -> None:
        if self.tty and self._drawn:
            self.stream.write("\r" + " " * 79 + "\r")
        self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty and self._drawn:
            self._overall()
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


if __name__ == "__main__":
    sys.exit(main())
