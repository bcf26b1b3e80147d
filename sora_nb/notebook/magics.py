"""The magics: ``%%sora_video``, ``%%sora_chat``, ``%%sora_image``, ``%sora_config``,
``%sora_jobs`` and ``%sora_panel``.

Settings are traitlets on :class:`SoraMagics` (``%config SoraMagics.poll_interval = 2``), also set
by ``%sora_config`` and read from ``SORA_*`` environment variables. User mistakes raise
``UsageError`` (one line, no traceback) before anything is sent; gateway failures show as one
line naming the status code and the gateway's own message.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import hashlib
import os
import shlex
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import display
from traitlets import Bool, Float, Int, TraitError, Unicode, observe, validate

from .. import _exceptions as E
from .._secret import Secret
from ..client import AsyncClient
from ..config import ENV_API_KEY, ENV_BASE_URL, ENV_DIALECT, normalize_base_url, resolve_dialect
from ..journal import Entry, Journal
from ..models import VideoRequest
from . import render, runner, work
from .results import ImageSet, Items, VideoGrid
from .views import LiveMarkdown, StatusView

_SHOWS = ("file", "embed", "link")
_MODES = ("auto", "widget", "html", "text")


class SoraCellError(Exception):
    """A failure shown as one line (no traceback): the gateway said no, a job failed, …"""


@magics_class
class SoraMagics(Magics):
    """Magics for video generation through OpenAI-compatible gateways."""

    base_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help="The gateway's base URL (ends in /v1). Default: $SORA_BASE_URL, "
        "else the built-in emulator.",
    )
    dialect = Unicode(
        "unified",
        config=True,
        help="Request family: unified (/video/create), openai (/videos), chat.",
    )
    model = Unicode("sora-2", config=True, help="Default video model.")
    chat_model = Unicode("sora-2", config=True, help="Default model for %%sora_chat.")
    image_model = Unicode("dall-e-3", config=True, help="Default model for %%sora_image.")
    api_key_env = Unicode(
        ENV_API_KEY, config=True, help="Name of the environment variable holding the API key."
    )
    orientation = Unicode(None, allow_none=True, config=True, help="Default orientation.")
    size = Unicode(None, allow_none=True, config=True, help="Default size.")
    duration = Float(None, allow_none=True, config=True, help="Default duration, seconds.")
    timeout = Float(900.0, config=True, help="Longest wait for one video, seconds.")
    poll_interval = Float(1.0, config=True, help="Shortest time between two polls, seconds.")
    max_poll_interval = Float(30.0, config=True, help="Longest time between two polls, seconds.")
    out_dir = Unicode(
        "videos", config=True, help="Folder (relative to the notebook) where videos are saved."
    )
    show = Unicode(
        "file",
        config=True,
        help="How videos appear: file (saved beside the notebook), embed, link.",
    )
    progress = Unicode("auto", config=True, help="Live status: auto, widget, html or text.")
    update_rate = Float(4.0, config=True, help="Most status updates per second.")
    verify_tls = Bool(True, config=True, help="Verify TLS certificates (turn off by name only).")
    emulator_job_seconds = Float(
        3.0, config=True, help="Render time of one job on the built-in emulator."
    )
    emulator_seed = Int(0, config=True, help="Seed of the built-in emulator (deterministic ids).")

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        # Plain attributes first: setting traits below fires observers that use them.
        self._key: Secret | None = None  # from %sora_config --key-prompt, in memory only
        self._client: AsyncClient | None = None
        self._journal: Journal | None = None
        self.emulator: Any = None  # the built-in Emulator, when the extension started one
        self.conversation: list[dict[str, Any]] = []
        self.jobs: list[Any] = []  # this session's finished VideoJobs
        self.background: list[asyncio.Task[None]] = []  # --background work, newest last
        super().__init__(shell=shell, **kwargs)
        env_url = os.environ.get(ENV_BASE_URL)
        if self.base_url is None and env_url:
            self.base_url = env_url
        if os.environ.get(ENV_DIALECT):
            self.dialect = os.environ[ENV_DIALECT]

    # -- settings ------------------------------------------------------------------------------

    @validate("dialect")
    def _check_dialect(self, proposal: Any) -> str:
        try:
            return resolve_dialect(proposal["value"], env={})
        except E.ConfigError as exc:
            raise TraitError(str(exc)) from None

    @validate("base_url")
    def _check_base_url(self, proposal: Any) -> str | None:
        value = proposal["value"]
        if value is None:
            return None
        try:
            return normalize_base_url(value)
        except E.ConfigError as exc:
            raise TraitError(str(exc)) from None

    @validate("show")
    def _check_show(self, proposal: Any) -> str:
        if proposal["value"] not in _SHOWS:
            raise TraitError(f"show must be one of {', '.join(_SHOWS)}")
        return proposal["value"]

    @validate("progress")
    def _check_progress(self, proposal: Any) -> str:
        if proposal["value"] not in _MODES:
            raise TraitError(f"progress must be one of {', '.join(_MODES)}")
        return proposal["value"]

    @validate(
        "poll_interval", "max_poll_interval", "timeout", "update_rate", "emulator_job_seconds"
    )
    def _check_positive(self, proposal: Any) -> float:
        if not proposal["value"] > 0:
            raise TraitError(f"{proposal['trait'].name} must be positive")
        return proposal["value"]

    @observe("base_url", "api_key_env", "poll_interval", "max_poll_interval", "verify_tls")
    def _reset_client(self, change: Any) -> None:
        self._drop_client()

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                runner.run(client.aclose())

    def api_key(self) -> Secret:
        if self._key is not None:
            return self._key
        return Secret(os.environ.get(self.api_key_env) or None)

    def client(self) -> AsyncClient:
        if self._client is None:
            if not self.base_url:
                raise UsageError(
                    f"no gateway configured: set {ENV_BASE_URL} or run "
                    "%sora_config base_url=https://relay.example/v1"
                )
            self._client = AsyncClient(
                base_url=self.base_url,
                api_key=self.api_key().reveal(),
                dialect=self.dialect,
                model=self.model,
                poll_interval=self.poll_interval,
                max_poll_interval=max(self.poll_interval, self.max_poll_interval),
                verify=self.verify_tls,
            )
        return self._client

    def journal(self) -> Journal:
        if self._journal is None:
            self._journal = Journal()
        return self._journal

    def _target(self, out: str | None = None, show: str | None = None) -> work.Target:
        base = Path.cwd()
        return work.Target(
            client=self.client(),
            journal=self.journal(),
            out_dir=Path(out or self.out_dir),
            show=show or self.show,
            base_dir=base,
            progress_mode=self.progress,
            update_rate=self.update_rate,
        )

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
    @argument("--timeout", type=float, help="Longest wait, seconds.")
    @argument("--out", help="Folder for the video files (default: SoraMagics.out_dir).")
    @argument("--embed", action="store_true", help="Embed the video in the notebook.")
    @argument("--link", action="store_true", help="Show the gateway's link; download nothing.")
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
        args = _parse(self.sora_video, line)
        specs = self._video_specs(args, cell)
        show = self._show_option(args)
        target = self._target(args.out, show)
        views = [
            StatusView(_label(s, i, len(specs)), mode=target.progress_mode, rate=target.update_rate)
            for i, s in enumerate(specs)
        ]

        async def all_variants() -> Any:
            results = await asyncio.gather(
                *(work.make_video(s, target, v) for s, v in zip(specs, views, strict=False))
            )
            return results[0] if len(results) == 1 else VideoGrid(results)

        if args.background:
            return self._background(all_variants(), views, args.name)
        result = self._run(all_variants(), views)
        if result is not None:
            for view in views:
                view.close()  # the live line goes back to empty; the video is the result
            self._keep(result, args.name)
        return result

    def _video_specs(self, args: Any, cell: str) -> list[work.VideoSpec]:
        prompt = cell.strip()
        if not prompt:
            raise UsageError("the cell is empty: write the prompt in the cell body")
        if args.n < 1 or args.n > 8:
            raise UsageError(f"-n takes 1 to 8 variants, not {args.n}")
        if args.timeout is not None and not args.timeout > 0:
            raise UsageError(f"--timeout must be a positive number of seconds, not {args.timeout}")
        if args.embed and args.link:
            raise UsageError("--embed and --link cannot be used together")
        if args.name is not None and not args.name.isidentifier():
            raise UsageError(f"--name {args.name!r} is not a valid variable name")
        try:
            dialect = resolve_dialect(args.dialect or self.dialect, env={})
            request = VideoRequest(
                prompt=prompt,
                model=args.model or self.model,
                orientation=args.orientation or (None if dialect == "chat" else self.orientation),
                size=args.size or (None if dialect == "chat" else self.size),
                duration=args.duration
                if args.duration is not None
                else (None if dialect == "chat" else self.duration),
                images=tuple(args.image),
            )
            spec = work.VideoSpec.checked(
                request, dialect, args.timeout if args.timeout is not None else self.timeout
            )
        except E.SoraError as exc:
            raise UsageError(str(exc)) from None
        return [spec] * args.n

    def _show_option(self, args: Any) -> str:
        return "embed" if args.embed else "link" if args.link else self.show

    # -- running, interrupts, errors -------------------------------------------------------------

    def _run(self, coro: Any, views: list[StatusView]) -> Any:
        try:
            return runner.run(coro)
        except KeyboardInterrupt:
            ids = self._close_views(views, "interrupted")
            if ids:
                print(
                    f"Interrupted. The job{'s' if len(ids) > 1 else ''} "
                    f"{', '.join(ids)} may still be running on the gateway and "
                    f"{'are' if len(ids) > 1 else 'is'} in the journal; finish with: "
                    + "; ".join(f"%sora_jobs --resume {i}" for i in ids)
                )
            else:
                print("Interrupted before the gateway answered; nothing was submitted.")
            return None
        except E.ValidationError as exc:
            self._close_views(views, "failed")
            raise UsageError(str(exc)) from None
        except E.PollTimeout as exc:
            self._close_views(views, "timed out")
            summary = str(exc).split(";")[0]
            raise SoraCellError(
                f"{summary}; it may still finish: %sora_jobs --resume {exc.job_id}"
            ) from None
        except E.SoraError as exc:
            self._close_views(views, "failed")
            raise SoraCellError(_one_line(exc)) from None

    def _close_views(self, views: list[StatusView], status: str) -> list[str]:
        ids = []
        for view in views:
            tracker = getattr(view, "tracker", None)
            if tracker is not None and tracker.job is not None and tracker.job.id:
                ids.append(tracker.job.id)
            view.update(status=status)
            view.close()
        return ids

    def _background(self, coro: Any, views: list[StatusView], name: str | None) -> None:
        async def run_and_show() -> None:
            try:
                result = await coro
            except asyncio.CancelledError:
                for view in views:
                    view.update(status="cancelled")
                raise
            except E.SoraError as exc:
                line = _one_line(exc)
                for view in views:
                    view.show_instead(
                        {"text/plain": line, "text/html": f"<pre>{_html(line)}</pre>"}
                    )
                return
            self._keep(result, name)
            bundle = result._repr_mimebundle_()
            views[0].show_instead(bundle)
            for view in views[1:]:
                view.show_instead(dict(render.EMPTY))

        self.background.append(runner.spawn(run_and_show()))

    def _keep(self, result: Any, name: str | None) -> None:
        items = list(result) if isinstance(result, VideoGrid) else [result]
        self.jobs.extend(i for i in items if hasattr(i, "id"))
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
        args = _parse(self.sora_chat, line)
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
            "tools": _json_or_names(args.tools, "tools"),
            "tool_choice": _tool_choice(args.tool_choice),
        }
        params = {k: v for k, v in params.items() if v is not None}
        if args.new or args.system is not None:
            self.conversation = []
        if args.system is not None:
            self.conversation.append({"role": "system", "content": args.system})
        model = args.model or self.chat_model
        messages = [*self.conversation, {"role": "user", "content": message}]
        target = self._target(args.out)
        live = LiveMarkdown(mode=target.progress_mode)
        status = (
            StatusView(model, mode=target.progress_mode, rate=target.update_rate)
            if _is_video_model(model)
            else None
        )
        views = [status] if status else []
        try:
            reply = self._run(
                work.chat(
                    messages,
                    model=model,
                    target=target,
                    stream=not args.no_stream,
                    live=live,
                    status=status,
                    params=params,
                ),
                views,
            )
        except SoraCellError:
            if live.text:
                # The stream broke: what arrived stays in the cell, above the one-line error.
                display(render.markdown_bundle(live.text), raw=True)
            raise
        finally:
            live.close()
        if status is not None and not status.closed:
            status.close()
        if reply is None:
            return None
        self.conversation = [*messages, {"role": "assistant", "content": reply.text}]
        if reply.video is not None:
            self.jobs.append(reply.video)
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
        args = _parse(self.sora_image, line)
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
        target = self._target(args.out)

        async def generate() -> ImageSet:
            results = await target.client.generate_images(
                cell.strip(),
                model=args.model or self.image_model,
                n=args.n,
                size=args.size,
                quality=args.quality,
                style=args.style,
            )
            return ImageSet(await _save_images(target, results), base_dir=target.base_dir)

        result = self._run(generate(), [])
        if args.name and result is not None:
            self.shell.user_ns[args.name] = result
        return result

    # -- %sora_config ----------------------------------------------------------------------------

    @magic_arguments()
    @argument("settings", nargs="*", help="name=value pairs, e.g. dialect=openai model=sora-2")
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
        args = _parse(self.sora_config, line)
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
            self._drop_client()
        if args.key_prompt:
            typed = getpass.getpass("API key (not stored in the notebook): ")
            self._key = Secret(typed or None)
            self._drop_client()
        if not changes and not args.key_env and not args.key_prompt:
            return ConfigView(self)
        return None

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
    @argument("--refresh", action="store_true", help="Ask the gateway for unfinished jobs' state.")
    @argument("--limit", type=int, default=20, help="How many rows.")
    @argument("--timeout", type=float, help="Longest wait when resuming, seconds.")
    @argument("--name", help="Also store the resumed job in this variable.")
    @line_magic
    def sora_jobs(self, line: str) -> Any:
        """The job journal: every submitted job, newest first; resume or refresh them."""
        args = _parse(self.sora_jobs, line)
        if args.limit < 1:
            raise UsageError("--limit must be at least 1")
        journal = self.journal()
        if args.resume:
            return self._resume(args.resume, args.timeout, args.name)
        if args.refresh:
            self._refresh(journal)
        entries = journal.entries(limit=args.limit)
        return JobsTable(entries)

    def _resume(self, job_id: str, timeout: float | None, name: str | None) -> Any:
        entry = self.journal().get(job_id)
        if entry is None:
            raise UsageError(f"no job {job_id!r} in the journal (see %sora_jobs)")
        client = self.client()
        if entry.base_url != client.base_url:
            # The key configured now is for another gateway: never send it elsewhere.
            raise UsageError(
                f"job {job_id} was submitted to {entry.base_url}, but sora_nb now points at "
                f"{client.base_url}; run %sora_config base_url={entry.base_url} to resume it"
            )
        target = self._target()
        view = StatusView(
            entry.model or "video", mode=target.progress_mode, rate=target.update_rate
        )
        job = entry.job()
        view.tracker = work.JobTracker(target, view, None)  # type: ignore[attr-defined]
        view.tracker.job = job  # type: ignore[attr-defined]
        result = self._run(
            work.resume(job, target, view, timeout if timeout is not None else self.timeout), [view]
        )
        if result is not None:
            view.close()
            self._keep(result, name)
        return result

    def _refresh(self, journal: Journal) -> None:
        client = self.client()

        async def refresh_all() -> None:
            for entry in journal.entries(limit=200, unfinished=True, base_url=client.base_url):
                if entry.dialect == "chat":
                    continue
                try:
                    job = await client.get_job(entry.id, dialect=entry.dialect)
                except E.NotFoundError:
                    job = entry.job()
                    job = type(job)(
                        **{
                            **job.__dict__,
                            "status": "failed",
                            "error": "the gateway no longer knows this job",
                        }
                    )
                journal.update(client.base_url, job)

        self._run(refresh_all(), [])

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
        self.panel = Panel(self)
        return self.panel


class ConfigView:
    """``%sora_config``'s answer: every setting, the key redacted."""

    def __init__(self, magics: SoraMagics) -> None:
        self.rows = [(n, getattr(magics, n)) for n in sorted(magics.trait_names(config=True))]
        key = magics.api_key()
        source = "typed at a prompt" if magics._key is not None else f"${magics.api_key_env}"
        self.rows.insert(0, ("api_key", f"{key!r} ({'set' if key else 'not set'}, {source})"))
        if magics.emulator is not None:
            self.rows.insert(0, ("gateway", "built-in emulator"))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        width = max(len(n) for n, _ in self.rows)
        plain = "\n".join(f"{n.ljust(width)}  {v}" for n, v in self.rows)
        body = "".join(
            f"<tr><td>{_html(n)}</td><td>{_html(str(v))}</td></tr>" for n, v in self.rows
        )
        return {"text/plain": plain, "text/html": f"<table>{body}</table>"}


class JobsTable(Items[Entry]):
    """``%sora_jobs``'s answer: journal entries, shown as a table."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return render.jobs_table([render.entry_row(e) for e in self])


async def _save_images(target: work.Target, results: list[Any]) -> list[Any]:
    import base64

    out = []
    target.out_dir.mkdir(parents=True, exist_ok=True)
    for i, result in enumerate(results):
        path = None
        if result.b64_json:
            digest = hashlib.sha256(result.b64_json.encode()).hexdigest()[:12]
            path = target.out_dir / f"image-{digest}.png"
            path.write_bytes(base64.b64decode(result.b64_json))
        elif render.safe_url(result.url):
            from ..models import Job

            holder = Job(
                id=f"image-{i}", status="completed", dialect="images", video_url=result.url
            )
            name = Path(result.url.split("?")[0]).name or f"image-{i}.png"
            path = await target.client.download(holder, target.out_dir, filename=name)
        out.append((result, path))
    return out


def _label(spec: work.VideoSpec, index: int, total: int) -> str:
    return spec.model + (f" #{index + 1}" if total > 1 else "")


def _is_video_model(model: str) -> bool:
    from ..capabilities import known_models

    return (
        model in known_models("unified")
        or model in known_models("openai")
        or model.lower().startswith(("sora", "veo", "kling", "runway", "wan", "hailuo", "seedance"))
    )


def _json_or_names(value: str | None, what: str) -> Any:
    if value is None:
        return None
    import json

    text = value.strip()
    if text.startswith(("[", "{")):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise UsageError(f"--{what} is not valid JSON: {exc}") from None
    return [n.strip() for n in text.split(",") if n.strip()]


def _tool_choice(value: str | None) -> Any:
    if value is None:
        return None
    text = value.strip()
    if text.startswith("{"):
        return _json_or_names(text, "tool-choice")
    if text in ("auto", "none", "required"):
        return text
    return {"type": "function", "function": {"name": text}}


def _parse(magic: Any, line: str) -> Any:
    """A magic's options, with shell quoting honoured (``--system "be brief"``)."""
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot read the options: {exc}") from None
    return magic.parser.parse_args(argv)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _html(text: str) -> str:
    import html

    return html.escape(text)
