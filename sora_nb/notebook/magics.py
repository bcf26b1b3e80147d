"""The magics: ``%%sora_video``, ``%%sora_chat``, ``%%sora_image``, ``%sora_config``,
``%sora_jobs`` and ``%sora_panel``.

Settings are traitlets on :class:`SoraMagics` (``%config SoraMagics.poll_interval = 2``), also set
by ``%sora_config`` and read from ``SORA_*`` environment variables. User mistakes raise
``UsageError`` (one line, no traceback) before anything is sent; gateway failures show as one
line naming the status code and the gateway's own message.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import display
from traitlets import Bool, Float, Int, TraitError, observe

from .. import _exceptions as E
from .._secret import Secret
from ..config import AUTO, DEFAULT_PARALLEL, ENV_BASE_URL, ENV_DIALECT
from .options import json_or_names, parse, tool_choice
from .settings import SHOWS, Settings, SoraSettings

if TYPE_CHECKING:
    from ..client import AsyncClient
    from ..journal import Entry, Journal
    from ..models import Job
    from ..runs import PreparedVideo
    from .results import ConfigView
    from .sinks import StatusView

# ``%load_ext sora_nb`` imports this module and makes the magics, nothing more: the client
# (httpx), the request families, the session, rendering and batches are imported by the first
# cell that needs them (each magic's own imports below), so loading stays a fraction of
# ``import openai`` (docs/benchmarks.md, start-up).


class SoraCellError(Exception):
    """A failure shown as one line (no traceback): the gateway said no, a job failed, …"""


@magics_class
class SoraMagics(Magics, SoraSettings):
    """Magics for video generation through OpenAI-compatible gateways. Settings are the traits
    of :class:`~sora_nb.notebook.settings.SoraSettings`; the work is the session's."""

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        # Plain attributes first: setting traits below fires observers that use them.
        self._key: Secret | None = None  # from %sora_config --key-prompt, in memory only
        from .session import Session

        self.session = Session(self.settings)
        super().__init__(shell=shell, **kwargs)
        env_url = os.environ.get(ENV_BASE_URL)
        if self.base_url is None and env_url:
            self.base_url = env_url
        configured = "dialect" in self.config.get("SoraMagics", {})
        if os.environ.get(ENV_DIALECT):
            self.dialect = os.environ[ENV_DIALECT]
        elif self.base_url and not configured:
            # A gateway is set and no dialect was given: ask it which families it serves
            # (GETs only, nothing created; cached per base URL).
            self.dialect = AUTO

    # What notebooks reach through sora_nb.magics(): the session's state.
    @property
    def emulator(self) -> Any:
        return self.session.emulator

    @property
    def conversation(self) -> list[dict[str, Any]]:
        return self.session.conversation

    @property
    def jobs(self) -> list[Any]:
        return self.session.jobs

    @property
    def background(self) -> list[asyncio.Task[Any]]:
        return self.session.background

    def settings(self) -> Settings:
        """The settings now, as one snapshot; the built-in emulator is sent no key (the user's
        real key has no business with it)."""
        snapshot = SoraSettings.settings(self)
        emulator = self.session.emulator
        if emulator is not None and snapshot.base_url == emulator.base_url:
            return replace(
                snapshot,
                api_key=Secret(None),
                key_source=f"{snapshot.key_source}; not sent to the built-in emulator",
            )
        return snapshot

    @observe("base_url", "api_key_env", "poll_interval", "max_poll_interval", "verify_tls")
    def _settings_changed(self, change: Any) -> None:
        # Never under a running job: its client stays open until the job ends.
        if hasattr(self, "session"):
            self.session.retire()

    def client(self, settings: Settings | None = None) -> AsyncClient:
        """The client the next cell would use (one per settings snapshot)."""
        try:
            return self.session.client(settings)
        except E.ConfigError as exc:
            raise UsageError(str(exc)) from None

    def journal(self) -> Journal:
        return self.session.journal

    # -- %%sora_video ---------------------------------------------------------------------------

    @magic_arguments()
    @argument("-m", "--model", help="Video model (default: SoraMagics.model).")
    @argument("-o", "--orientation", help="portrait or landscape.")
    @argument("-s", "--size", help="small, large, or WIDTHxHEIGHT (openai dialect).")
    @argument("-d", "--duration", type=float, help="Seconds.")
    @argument(
        "-i",
        "--image",
        action="append",
        default=[],
        help="Reference image: a URL or a local file (repeatable).",
    )
    @argument("--dialect", help="unified, openai or chat (default: SoraMagics.dialect).")
    @argument("-n", type=int, default=1, help="Variants to make at once, shown as a grid.")
    @argument(
        "--max-jobs",
        type=int,
        help="Most paid jobs this cell may create (default: SoraMagics.max_jobs_per_cell).",
    )
    @argument("--timeout", type=float, help="Longest wait, seconds.")
    @argument("--out", help="Folder for the video files (default: SoraMagics.out_dir).")
    @argument("--embed", action="store_true", help="Embed the video in the notebook.")
    @argument("--link", action="store_true", help="Show the gateway's link; download nothing.")
    @argument(
        "--show",
        choices=SHOWS,
        help="How the video appears: auto, file, widget, embed or link (default: SoraMagics.show).",
    )
    @argument(
        "-b",
        "--background",
        action="store_true",
        help="Return at once; the job goes on while other cells run.",
    )
    @argument("--name", help="Also store the result in this variable.")
    @cell_magic
    def sora_video(self, line: str, cell: str) -> Any:
        """Generate a video from the prompt in the cell body, show progress, then play it.

        The result is the finished :class:`sora_nb.Job` (with ``.path``), shown as the video.
        """
        from . import batches
        from .results import VideoGrid

        args = parse(self.sora_video, line)
        settings = self.settings()
        prepared = self._prepare_video(args, cell, settings)
        if args.n > 1:
            print(batches.paid_line(args.n))
        show = self._show_option(args, settings)
        out_dir = None if show == "link" else Path(args.out or settings.out_dir)
        self.client(settings)  # one line now, in the cell, if no gateway is configured
        runs = []
        for i in range(args.n):
            label = _label(prepared, i, args.n)
            runs.append(self.session.track(label, self._status(label, settings, out_dir)))

        async def all_variants() -> Any:
            results = await asyncio.gather(
                *(
                    self.session.make_video(prepared, settings, run, out_dir=out_dir, show=show)
                    for run in runs
                )
            )
            return results[0] if len(results) == 1 else VideoGrid(results)

        if args.background:
            return self._background(all_variants(), runs, args.name)
        result = self._run(all_variants(), runs)
        if result is not None:
            for run in runs:
                run.sink.close()  # the live line goes back to empty; the video is the result
            self._keep(result, args.name)
        return result

    def _status(self, label: str, settings: Settings, out_dir: Path | None) -> StatusView:
        from .sinks import StatusView

        return StatusView(
            label,
            mode=settings.progress,
            rate=settings.update_rate,
            fetching=out_dir is not None,
        )

    def _prepare_video(self, args: Any, cell: str, settings: Settings) -> PreparedVideo:
        """The cell's request, checked once (model rules, image files): UsageError before
        anything is sent."""
        from .. import dialects

        prompt = cell.strip()
        if not prompt:
            raise UsageError("the cell is empty: write the prompt in the cell body")
        if args.n < 1 or args.n > 8:
            raise UsageError(f"-n takes 1 to 8 variants, not {args.n}")
        self._check_cap(args.n, args.max_jobs, "this cell")
        if args.timeout is not None and not args.timeout > 0:
            raise UsageError(f"--timeout must be a positive number of seconds, not {args.timeout}")
        if sum((args.embed, args.link, args.show is not None)) > 1:
            raise UsageError("use one of --embed, --link and --show")
        if args.name is not None and not args.name.isidentifier():
            raise UsageError(f"--name {args.name!r} is not a valid variable name")
        try:
            client = self.client(settings)
            # The client's dialect: the setting, or what dialect=auto found the relay serves.
            family = dialects.get(args.dialect or client.dialect)
            # Defaults from the settings apply only where the family takes them.
            options = family.abilities.options
            with warnings.catch_warnings(record=True) as noted:
                warnings.simplefilter("always", E.RulesNote)
                prepared = client.prepare(
                    prompt,
                    model=args.model or settings.model,
                    orientation=args.orientation or (settings.orientation if options else None),
                    size=args.size or (settings.size if options else None),
                    duration=args.duration
                    if args.duration is not None
                    else (settings.duration if options else None),
                    images=tuple(args.image),
                    dialect=family,
                    timeout=args.timeout if args.timeout is not None else settings.timeout,
                )
            for note in noted:
                print(f"sora_nb: note: {note.message}")
            return prepared
        except E.SoraError as exc:
            raise UsageError(str(exc)) from None

    def _show_option(self, args: Any, settings: Settings) -> str:
        return "embed" if args.embed else "link" if args.link else args.show or settings.show

    def _check_cap(self, count: int, given: int | None, what: str) -> None:
        """UsageError, before anything is sent, for more paid jobs than the cap allows."""
        from ..batch import cap_message

        if given is not None and given < 0:
            raise UsageError(f"--max-jobs must be 0 (no cap) or more, not {given}")
        if given is not None:
            message = cap_message(count, given, what=what)
        else:
            message = cap_message(
                count, self.max_jobs_per_cell, what=what, source="SoraMagics.max_jobs_per_cell"
            )
        if message:
            raise UsageError(message)

    # -- %%sora_batch ----------------------------------------------------------------------------

    @magic_arguments()
    @argument("-m", "--model", help="Video model (default: SoraMagics.model).")
    @argument("-o", "--orientation", help="portrait or landscape.")
    @argument("-s", "--size", help="small, large, or WIDTHxHEIGHT (openai dialect).")
    @argument("-d", "--duration", type=float, help="Seconds.")
    @argument("--dialect", help="unified, openai or chat (default: SoraMagics.dialect).")
    @argument(
        "--file", help="Prompts from a file: .csv or .jsonl (with options), else one per line."
    )
    @argument(
        "--from",
        dest="source",
        metavar="VARIABLE",
        help="Prompts from a variable: a list, a DataFrame (its prompt column), df.col, df['col'].",
    )
    @argument("--out", help="Folder for the video files (default: SoraMagics.out_dir).")
    @argument(
        "--parallel", type=int, default=DEFAULT_PARALLEL, help="Jobs in flight at once (default 4)."
    )
    @argument(
        "--max-jobs",
        type=int,
        help="Most paid jobs this batch may create (default: SoraMagics.max_jobs_per_cell).",
    )
    @argument("--retry-failed", action="store_true", help="Make again the jobs that failed before.")
    @argument(
        "--retry-unknown",
        action="store_true",
        help="Make again the jobs whose create was sent but never answered (they may exist).",
    )
    @argument("--dry-run", action="store_true", help="Say what would be created; create nothing.")
    @argument("--timeout", type=float, help="Longest wait for each video, seconds.")
    @argument("--name", help="Also store the summary in this variable.")
    @line_cell_magic
    def sora_batch(self, line: str, cell: str | None = None) -> Any:
        """Make one video per prompt: one per line in the cell body, or ``--file`` (CSV or
        JSONL, with per-prompt options) or ``--from`` a list or DataFrame (also as a line
        magic: ``%sora_batch --file prompts.jsonl``).

        Idempotent: run it again (after an interrupt, a failure or a kernel restart) and the
        jobs already made are not made again: finished ones are skipped, unfinished ones
        resumed. It says first how many paid jobs it will create, and refuses more than
        ``--max-jobs`` (``SoraMagics.max_jobs_per_cell``). The result is a summary table.
        """
        from . import batches, render

        args = parse(self.sora_batch, line)
        try:
            return batches.run_cell(self, args, cell)
        except E.SoraError as exc:
            raise SoraCellError(render.error_line(exc)) from None

    # -- running, interrupts, errors -------------------------------------------------------------

    def _run(self, coro: Any, runs: list[Any]) -> Any:
        from . import render, runner

        try:
            return runner.run(coro)
        except KeyboardInterrupt:
            jobs = self._close_views(runs, "interrupted")
            print(render.interrupted_line(jobs))
            return None
        except E.ValidationError as exc:
            self._close_views(runs, "failed")
            raise UsageError(str(exc)) from None
        except E.SoraError as exc:
            self._close_views(runs, "timed out" if isinstance(exc, E.PollTimeout) else "failed")
            raise SoraCellError(render.error_line(exc)) from None
        except OSError as exc:
            # A folder that cannot be written (--out naming a file, a full disk): one line, not
            # a traceback through sora_nb's insides.
            self._close_views(runs, "failed")
            raise SoraCellError(render.error_line(exc, named=True)) from None

    def _close_views(self, runs: list[Any], status: str) -> list[Job]:
        jobs = []
        for run in runs:
            if run.job is not None and run.job.id:
                jobs.append(run.job)
            if run.sink is not None:
                run.sink.update(status=status)
                run.sink.close()
        return jobs

    def _background(self, coro: Any, runs: list[Any], name: str | None) -> None:
        from . import render

        async def run_and_show() -> None:
            try:
                result = await coro
            except asyncio.CancelledError:
                for run in runs:
                    run.sink.update(status="cancelled")
                raise
            except Exception as exc:
                # Whatever ends it (a gateway's refusal, an unusable folder), the cell says so.
                bundle = render.error_bundle(exc)
                for run in runs:
                    run.sink.show_instead(bundle)
                return
            self._keep(result, name)
            runs[0].sink.show_instead(result._repr_mimebundle_())
            for run in runs[1:]:
                run.sink.show_instead(dict(render.EMPTY))

        self.session.spawn(run_and_show())

    def _keep(self, result: Any, name: str | None) -> None:
        if name:
            self.shell.user_ns[name] = result

    # -- %%sora_chat -----------------------------------------------------------------------------

    @magic_arguments()
    @argument("-m", "--model", help="Chat model (default: SoraMagics.chat_model).")
    @argument("--new", action="store_true", help="Start a new conversation.")
    @argument("--system", help="A system prompt (starts a new conversation).")
    @argument("--temperature", type=float, help="Sampling temperature, 0 to 2.")
    @argument("--max-tokens", type=int, help="Longest answer, tokens.")
    @argument("--tools", help="Tools as JSON (a list), or names separated by commas.")
    @argument("--tool-choice", help="Tool choice as JSON, or a function name.")
    @argument("--no-stream", action="store_true", help="Wait for the whole answer.")
    @argument("--out", help="Folder for a video the answer links to.")
    @argument("--name", help="Also store the reply in this variable.")
    @cell_magic
    def sora_chat(self, line: str, cell: str) -> Any:
        """Send the cell body as a chat message; the answer streams in as Markdown.

        The conversation goes on from cell to cell until ``--new`` or ``--system``.
        """
        from ..capabilities import is_video_model
        from . import render
        from .sinks import LiveMarkdown

        args = parse(self.sora_chat, line)
        message = cell.strip()
        if not message:
            raise UsageError("the cell is empty: write your message in the cell body")
        if args.temperature is not None and not 0 <= args.temperature <= 2:
            raise UsageError(f"--temperature must be between 0 and 2, not {args.temperature}")
        if args.max_tokens is not None and args.max_tokens < 1:
            raise UsageError(f"--max-tokens must be at least 1, not {args.max_tokens}")
        params = {
            "temperature": args.temperature,
            "max_tokens": args.max_tokens,
            "tools": json_or_names(args.tools, "tools"),
            "tool_choice": tool_choice(args.tool_choice),
        }
        params = {k: v for k, v in params.items() if v is not None}
        if args.new or args.system is not None:
            self.session.conversation.clear()
        if args.system is not None:
            self.session.conversation.append({"role": "system", "content": args.system})
        settings = self.settings()
        model = args.model or settings.chat_model
        messages = [*self.conversation, {"role": "user", "content": message}]
        self.client(settings)
        out_dir = None if settings.show == "link" else Path(args.out or settings.out_dir)
        live = LiveMarkdown(mode=settings.progress)
        video = None
        if is_video_model(model):
            video = self.session.track(model, self._status(model, settings, out_dir))
        runs = [video] if video else []
        try:
            reply = self._run(
                self.session.chat(
                    messages,
                    settings,
                    model=model,
                    params=params,
                    stream=not args.no_stream,
                    live=live,
                    video=video,
                    out_dir=out_dir,
                    show=settings.show,
                ),
                runs,
            )
        except SoraCellError:
            if live.text:
                # The stream broke or the job failed: what arrived stays in the cell, above the
                # one-line error.
                display(render.markdown_bundle(live.text), raw=True)
            raise
        finally:
            live.close()
        if video is not None and not video.sink.closed:
            video.sink.close()
        if reply is None:
            return None
        self.session.conversation[:] = [*messages, {"role": "assistant", "content": reply.text}]
        if reply.video is not None:
            display(reply.video)
        if args.name:
            self.shell.user_ns[args.name] = reply
        return reply

    # -- %%sora_image ----------------------------------------------------------------------------

    @magic_arguments()
    @argument("-m", "--model", help="Image model (default: SoraMagics.image_model).")
    @argument("-n", type=int, default=1, help="How many images (1 to 10).")
    @argument("-s", "--size", default="1024x1024", help="WIDTHxHEIGHT.")
    @argument("--quality", help="standard or hd.")
    @argument("--style", help="vivid or natural.")
    @argument("--out", help="Folder for the image files (default: SoraMagics.out_dir).")
    @argument("--name", help="Also store the images in this variable.")
    @cell_magic
    def sora_image(self, line: str, cell: str) -> Any:
        """Generate images from the prompt in the cell body (POST /images/generations)."""
        args = parse(self.sora_image, line)
        from ..dialects import images as images_dialect

        try:
            images_dialect.build_generate(
                cell.strip(),
                model=args.model,
                n=args.n,
                size=args.size,
                quality=args.quality,
                style=args.style,
            )
        except E.ValidationError as exc:
            raise UsageError(str(exc)) from None
        settings = self.settings()
        self.client(settings)
        images = self.session.make_images(
            settings,
            Path(args.out or settings.out_dir),
            prompt=cell.strip(),
            model=args.model or settings.image_model,
            n=args.n,
            size=args.size,
            quality=args.quality,
            style=args.style,
        )
        result = self._run(images, [])
        if args.name and result is not None:
            self.shell.user_ns[args.name] = result
        return result

    # -- %sora_config ----------------------------------------------------------------------------

    @magic_arguments()
    @argument("settings", nargs="*", help="name=value pairs, e.g. dialect=openai model=sora-2")
    @argument(
        "--probe",
        action="store_true",
        help="Ask the gateway which request families it serves (GETs only; nothing created).",
    )
    @argument(
        "--balance",
        action="store_true",
        help="Only the key's balance, where the relay serves it (one-api, new-api).",
    )
    @argument("--key-env", help="Take the API key from this environment variable.")
    @argument(
        "--key-prompt",
        action="store_true",
        help="Ask for the API key (kept in memory only, never in the notebook).",
    )
    @line_magic
    def sora_config(self, line: str) -> Any:
        """Show the configuration (key redacted), or change it.

        ``%sora_config base_url=https://relay.example/v1 dialect=openai``;
        ``%sora_config --key-env MY_RELAY_KEY``; ``%sora_config --key-prompt``.
        """
        from .. import probing
        from . import render
        from .balance import balance_text

        args = parse(self.sora_config, line)
        names = sorted(self.trait_names(config=True))
        changes: dict[str, str] = {}
        for item in args.settings:
            name, sep, value = item.partition("=")
            name = name.strip().replace("-", "_")
            if name in ("api_key", "key"):
                raise UsageError(
                    "a key typed into a cell ends up in the saved notebook: use "
                    "%sora_config --key-env VAR or --key-prompt"
                )
            if not sep:
                raise UsageError(f"{item!r}: write settings as name=value")
            if name not in names:
                raise UsageError(f"unknown setting {name!r}; settings: {', '.join(names)}")
            changes[name] = value
        for name, value in changes.items():
            self._set_trait(name, value)
        if args.key_env:
            if not os.environ.get(args.key_env):
                raise UsageError(f"the environment variable {args.key_env} is not set")
            self._key = None
            self.api_key_env = args.key_env
            self.session.retire()
        if args.key_prompt:
            typed = getpass.getpass("API key (not stored in the notebook): ")
            self._key = Secret(typed or None)
            self.session.retire()
        if args.probe:
            settings = self.settings()
            if not settings.base_url:
                raise UsageError("no gateway configured to probe")
            try:
                found = probing.probe(
                    settings.base_url, settings.api_key, verify=settings.verify_tls, fresh=True
                )
            except E.SoraError as exc:
                raise SoraCellError(render.error_line(exc)) from None
            print(found.line())
            return None
        if args.balance:
            shown = balance_text(self.session, self.settings())
            print(f"balance: {shown or 'no gateway configured'}")
            return None
        if not changes and not args.key_env and not args.key_prompt:
            return self._config_view()
        return None

    def _config_view(self) -> ConfigView:
        from .balance import balance_text
        from .results import ConfigView

        settings = self.settings()
        key = self.api_key()  # as configured (the built-in emulator is sent none of it)
        rows = [(n, getattr(self, n)) for n in sorted(self.trait_names(config=True))]
        rows.insert(
            0, ("api_key", f"{key!r} ({'set' if key else 'not set'}, {settings.key_source})")
        )
        shown = balance_text(self.session, settings)
        if shown is not None:
            rows.insert(1, ("balance", shown))
            # After the balance's own requests: what the gateway's answers taught the budget.
            budget = self.session.client(settings).budget
            rows.insert(2, ("requests", budget.describe(time.monotonic())))
        if self.session.emulator is not None:
            rows.insert(0, ("gateway", "built-in emulator"))
        return ConfigView(rows)

    def _set_trait(self, name: str, value: str) -> None:
        trait = self.traits()[name]
        text = value.strip()
        try:
            if text.lower() in ("none", "") and trait.allow_none:
                parsed: Any = None
            elif isinstance(trait, Bool):
                if text.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError(text)
                parsed = text.lower() in ("true", "1", "yes", "on")
            elif isinstance(trait, Float):
                parsed = float(text)
            elif isinstance(trait, Int):
                parsed = int(text)
            else:
                parsed = text
        except ValueError:
            raise UsageError(
                f"{name}: {value!r} is not a valid {type(trait).__name__.lower()}"
            ) from None
        try:
            setattr(self, name, parsed)
        except TraitError as exc:
            raise UsageError(f"{name}: {exc}") from None

    # -- %sora_jobs ------------------------------------------------------------------------------

    @magic_arguments()
    @argument("--resume", metavar="ID", help="Finish this job (after an interrupt or restart).")
    @argument("--open", metavar="ID", help="Show this finished job's saved video again.")
    @argument("--refresh", action="store_true", help="Ask the gateway for unfinished jobs' state.")
    @argument("--limit", type=int, default=20, help="How many rows.")
    @argument("--timeout", type=float, help="Longest wait when resuming, seconds.")
    @argument("--name", help="Also store the resumed job in this variable.")
    @line_magic
    def sora_jobs(self, line: str) -> Any:
        """The job journal: every submitted job, newest first; resume or refresh them."""
        from .results import JobsTable

        args = parse(self.sora_jobs, line)
        if args.limit < 1:
            raise UsageError("--limit must be at least 1")
        journal = self.journal()
        if args.resume:
            return self._resume(args.resume, args.timeout, args.name)
        if args.open:
            return self._open(args.open, args.name)
        if args.refresh:
            self._run(self.session.refresh(self.settings()), [])
        entries = journal.entries(limit=args.limit)
        return JobsTable(entries)

    def _resume(self, job_id: str, timeout: float | None, name: str | None) -> Any:
        from ..events import is_local

        entry = self.journal().get(job_id)
        if entry is None:
            raise UsageError(f"no job {job_id!r} in the journal (see %sora_jobs)")
        if is_local(entry.id):
            raise UsageError(
                f"job {entry.id} never got an id from the gateway (its create was sent, the "
                "answer never came); %sora_jobs --refresh looks for it where the gateway lists "
                "jobs, or check the gateway's own job list"
            )
        settings = self.settings()
        self._same_gateway(entry, settings)
        out_dir = None if settings.show == "link" else Path(settings.out_dir)
        label = entry.model or "video"
        run = self.session.track(label, self._status(label, settings, out_dir))
        run.job = entry.job()
        result = self._run(
            self.session.make_video(
                None,
                settings,
                run,
                out_dir=out_dir,
                show=settings.show,
                resume=entry.job(),
                timeout=timeout if timeout is not None else settings.timeout,
            ),
            [run],
        )
        if result is not None:
            run.sink.close()
            self._keep(result, name)
        return result

    def _open(self, job_id: str, name: str | None) -> Any:
        entry = self.journal().get(job_id)
        if entry is None:
            raise UsageError(f"no job {job_id!r} in the journal (see %sora_jobs)")
        if not entry.path or not Path(entry.path).is_file():
            where = f"its file {entry.path} is gone" if entry.path else "no file was saved"
            raise UsageError(
                f"job {entry.id}: {where}; %sora_jobs --resume {entry.id} fetches it again"
            )
        result = self.session.reopen(entry, self.settings())
        self._keep(result, name)
        return result

    def _same_gateway(self, entry: Entry, settings: Settings) -> None:
        # The key configured now is for the gateway configured now: never send it elsewhere.
        current = self.client(settings).base_url
        if entry.base_url != current:
            raise UsageError(
                f"job {entry.id} was submitted to {entry.base_url}, but sora_nb now points at "
                f"{current}; run %sora_config base_url={entry.base_url} to resume it"
            )

    # -- %sora_panel -----------------------------------------------------------------------------

    @line_magic
    def sora_panel(self, line: str) -> Any:
        """The control panel: prompt, model rules, Generate/Cancel, progress, video, history, chat.

        Generate runs in the background: other cells run meanwhile.
        """
        if line.strip():
            raise UsageError("%sora_panel takes no options")
        from .panel import Panel

        self.client()  # fail now, in the cell, if no gateway is configured
        self.panel = Panel(self.session)
        return self.panel


def _label(prepared: PreparedVideo, index: int, total: int) -> str:
    return prepared.request.model + (f" #{index + 1}" if total > 1 else "")
