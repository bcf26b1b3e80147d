"""Bad input: one clear line naming the offending value (or what is allowed), and, for every
mistake that can be seen locally, not a single request to the gateway.

Most cases are for the Client and its configuration (``tests/notebook/test_magics_shell.py``
already walks the magics' options); a few settings of the magics that it does not cover come last.
"""

from __future__ import annotations

import socket
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import sora_nb
from sora_nb import builtin
from sora_nb.models import Job
from tests.conftest import KEY

pytestmark = pytest.mark.timeout(120)


@dataclass(frozen=True)
class Case:
    id: str
    act: Callable[[Any], Any]  # given the context, makes the mistake
    needles: tuple[str, ...]  # each must appear in the message


def case(id: str, act: Callable[[Any], Any], *needles: str) -> Any:
    return pytest.param(Case(id, act, needles), id=id)


class Ctx:
    """What a case may use: the gateway's URL, a client for it, a folder with files."""

    def __init__(self, emu: Any, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.emu, self.folder, self.env = emu, folder, monkeypatch
        self.url = emu.base_url

    def client(self, **options: Any) -> sora_nb.Client:
        options.setdefault("api_key", KEY)
        options.setdefault("base_url", self.url)
        return sora_nb.Client(**options)

    def create(self, prompt: str = "a paper boat", **kw: Any) -> Job:
        with self.client() as c:
            return c.create_video(prompt, **kw)

    def done(self, job_id: str = "task_x", url: str | None = "http://127.0.0.1:9/a.mp4") -> Job:
        return Job(job_id, "completed", "unified", video_url=url)

    def file(self, name: str) -> str:
        return str(self.folder / name)


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def _env(ctx: Ctx, **values: str) -> Ctx:
    for name, value in values.items():
        ctx.env.setenv(name, value)
    return ctx


LOCAL = [
    # -- where the gateway is ------------------------------------------------------------------
    case("base-url-ftp", lambda c: c.client(base_url="ftp://relay.example/v1"), "ftp://"),
    case("base-url-no-scheme", lambda c: c.client(base_url="relay.example/v1"), "relay.example"),
    case("base-url-file", lambda c: c.client(base_url="file:///etc/passwd"), "file:///etc/passwd"),
    case("base-url-query", lambda c: c.client(base_url="https://r.example/v1?x=1"), "query"),
    case("base-url-fragment", lambda c: c.client(base_url="https://r.example/v1#top"), "fragment"),
    case("base-url-no-host", lambda c: c.client(base_url="https://"), "https://"),
    case(
        "base-url-space-in-host",
        lambda c: c.client(base_url="https://relay .example/v1"),
        "relay .example",
    ),
    case("base-url-none-anywhere", lambda c: c.client(base_url=None), "SORA_BASE_URL"),
    case(
        "base-url-env-bad",
        lambda c: _env(c, SORA_BASE_URL="ftp://x").client(base_url=None),
        "ftp://x",
    ),
    # -- how to talk to it -------------------------------------------------------------------------
    case("dialect-unknown", lambda c: c.client(dialect="sora"), "'sora'", "unified"),
    case("dialect-env-unknown", lambda c: _env(c, SORA_DIALECT="veo").client(), "'veo'"),
    case("dialect-per-call-unknown", lambda c: c.create(dialect="grpc"), "'grpc'"),
    case("timeout-negative", lambda c: c.client(timeout=-1), "timeout", "-1"),
    case("timeout-zero", lambda c: c.client(timeout=0), "timeout", "0"),
    case("timeout-text", lambda c: c.client(timeout="10"), "timeout", "'10'"),
    case("stream-timeout-negative", lambda c: c.client(stream_timeout=-5), "stream_timeout"),
    case("poll-interval-zero", lambda c: c.client(poll_interval=0), "poll_interval"),
    case("poll-interval-bool", lambda c: c.client(poll_interval=True), "poll_interval", "True"),
    case(
        "max-poll-below-poll",
        lambda c: c.client(poll_interval=5, max_poll_interval=1),
        "max_poll_interval",
    ),
    case("max-poll-text", lambda c: c.client(max_poll_interval="fast"), "max_poll_interval"),
    case("retries-negative", lambda c: c.client(retries=-1), "retries", "-1"),
    case("retries-fraction", lambda c: c.client(retries=1.5), "retries", "1.5"),
    case("retries-text", lambda c: c.client(retries="3"), "retries", "'3'"),
    case("verify-text", lambda c: c.client(verify="no"), "verify", "True or False"),
    case("api-key-not-text", lambda c: c.client(api_key=12345), "key", "text"),
    # -- what to make --------------------------------------------------------------------------
    case("prompt-empty", lambda c: c.create(""), "prompt", "empty"),
    case("prompt-blank", lambda c: c.create("  \n\t "), "prompt", "empty"),
    case("model-pro-small", lambda c: c.create(model="sora-2-pro", size="small"), "small", "large"),
    case("model-duration-12", lambda c: c.create(model="sora-2", duration=12), "12", "10, 15"),
    case("model-pro-duration-10", lambda c: c.create(model="sora-2-pro", duration=10), "10", "15"),
    case("orientation-square", lambda c: c.create(orientation="square"), "square", "portrait"),
    case("duration-negative", lambda c: c.create(duration=-5), "-5"),
    case("duration-text", lambda c: c.create(duration="ten"), "ten"),
    case("duration-nan", lambda c: c.create(duration=float("nan")), "nan"),
    case("size-number", lambda c: c.create(size=720), "720"),
    case("size-wxh-on-unified", lambda c: c.create(size="1280x720"), "1280x720", "small"),
    case("openai-seconds-5", lambda c: c.create(dialect="openai", duration=5), "5", "4, 8, 12"),
    case("openai-size-odd", lambda c: c.create(dialect="openai", size="999x999"), "999x999"),
    case("openai-size-word", lambda c: c.create(dialect="openai", size="huge"), "huge"),
    case(
        "openai-size-vs-orientation",
        lambda c: c.create(dialect="openai", size="1280x720", orientation="portrait"),
        "1280x720",
        "portrait",
    ),
    case(
        "chat-with-options",
        lambda c: c.client().generate_video("x", dialect="chat", size="large"),
        "chat",
        "size",
    ),
    case("chat-create", lambda c: c.create(dialect="chat"), "generate_video"),
    # -- reference images ----------------------------------------------------------------------
    case("image-missing-file", lambda c: c.create(images=[c.file("nope.png")]), "nope.png"),
    case(
        "image-not-an-image", lambda c: c.create(images=[c.file("notes.txt")]), "notes.txt", "PNG"
    ),
    case("image-a-folder", lambda c: c.create(images=[str(c.folder / "folder")]), "folder"),
    case("image-ftp-url", lambda c: c.create(images=["ftp://x/y.png"]), "ftp://x/y.png"),
    case(
        "image-javascript-url",
        lambda c: c.create(images=["javascript:alert(1)"]),
        "javascript:alert(1)",
    ),
    # -- waiting and reading -------------------------------------------------------------------
    case("wait-timeout-negative", lambda c: c.client().wait("task_x", timeout=-5), "-5"),
    case("wait-timeout-zero", lambda c: c.client().wait("task_x", timeout=0), "timeout"),
    case(
        "wait-poll-interval-zero",
        lambda c: c.client().wait("task_x", poll_interval=0),
        "poll_interval",
    ),
    case(
        "wait-poll-interval-text", lambda c: c.client().wait("task_x", poll_interval="fast"), "fast"
    ),
    case("wait-no-id", lambda c: c.client().wait(""), "job id"),
    case("wait-chat-job", lambda c: c.client().wait(Job("task_x", "in_progress", "chat")), "chat"),
    case("get-job-no-id", lambda c: c.client().get_job(""), "id"),
    case("get-job-on-chat", lambda c: c.client(dialect="chat").get_job("task_x"), "chat"),
    case("delete-no-id", lambda c: c.client().delete_video(""), "id"),
    case("remix-empty-prompt", lambda c: c.client().remix_video("video_x", "  "), "prompt"),
    # -- downloading ---------------------------------------------------------------------------
    case("download-an-id-not-a-job", lambda c: c.client().download("task_x"), "Job"),
    case(
        "download-unfinished",
        lambda c: c.client().download(Job("task_x", "queued", "unified")),
        "task_x",
        "queued",
    ),
    case(
        "download-javascript-link",
        lambda c: c.client().download(c.done(url="javascript:alert(1)"), c.folder),
        "javascript:alert(1)",
    ),
    case(
        "download-file-link",
        lambda c: c.client().download(c.done(url="file:///etc/passwd"), c.folder),
        "file:///etc/passwd",
    ),
    case(
        "download-variant",
        lambda c: c.client().download(c.done(), c.folder, variant="gif"),
        "gif",
        "video",
    ),
    # -- chat and images -----------------------------------------------------------------------
    case("chat-empty", lambda c: list(c.client().stream_chat("   ")), "empty"),
    case("chat-no-messages", lambda c: list(c.client().stream_chat([])), "messages"),
    case("chat-message-without-role", lambda c: c.client().chat([{"content": "hi"}]), "role"),
    case("chat-message-not-a-dict", lambda c: c.client().chat(["hi"]), "'hi'"),
    case("images-n-zero", lambda c: c.client().generate_images("a cat", n=0), "1 to 10"),
    case(
        "images-quality",
        lambda c: c.client().generate_images("a cat", quality="ultra"),
        "ultra",
        "hd",
    ),
    case(
        "images-style", lambda c: c.client().generate_images("a cat", style="oil"), "oil", "vivid"
    ),
    case("images-empty-prompt", lambda c: c.client().generate_images(""), "prompt"),
]


def one_line(exc: BaseException) -> str:
    message = str(exc)
    assert message.strip(), f"{type(exc).__name__} with no message"
    assert "\n" not in message.strip(), message
    assert "Traceback" not in message
    return message


@pytest.fixture(scope="module")
def gateway():
    # Started as sora_nb starts its built-in emulator, whose model rules are checked strictly.
    emu = builtin.start(job_seconds=0.2, concurrency=4, seed=17, api_key=KEY, render_scale=0.1)
    try:
        yield emu
    finally:
        builtin.stop(emu)


@pytest.fixture
def ctx(gateway, tmp_path, monkeypatch) -> Ctx:
    for name in ("SORA_BASE_URL", "SORA_API_KEY", "SORA_DIALECT"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "notes.txt").write_text("just some notes, not an image\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "real.png").write_bytes(_png())
    gateway.reset_counters()
    return Ctx(gateway, tmp_path, monkeypatch)


def test_there_are_at_least_thirty_kinds():
    assert len(LOCAL) >= 30


@pytest.mark.parametrize("bad", LOCAL)
def test_a_local_mistake_is_one_line_and_sends_nothing(ctx, bad):
    with pytest.raises(Exception) as info:
        bad.act(ctx)
    message = one_line(info.value)
    for needle in bad.needles:
        assert needle in message, f"{needle!r} not in {type(info.value).__name__}: {message}"
    assert isinstance(info.value, (sora_nb.SoraError, TypeError, ValueError)), repr(info.value)
    assert KEY not in message
    assert sum(ctx.emu.counters.values()) == 0, ctx.emu.counters  # nothing reached the gateway
    assert [p.name for p in ctx.folder.iterdir() if p.suffix == ".mp4"] == []


# -- mistakes only the network can reveal ----------------------------------------------------------


def _dead_url() -> str:
    with socket.socket() as s:  # free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def test_an_unreachable_gateway_while_chatting_is_one_line(ctx):
    with pytest.raises(sora_nb.ConnectError) as info:
        list(ctx.client(base_url=_dead_url(), retries=0).stream_chat("hi", model="gpt-4"))
    message = one_line(info.value)
    assert "could not connect" in message and "chat" in message


def test_a_missing_key_is_one_line_from_the_gateway_and_creates_nothing(ctx):
    with pytest.raises(sora_nb.AuthenticationError) as info:
        ctx.client(api_key=None).create_video("a paper boat")
    message = one_line(info.value)
    assert "401" in message and "API key" in message
    assert ctx.emu.counters["create"] == 1 and len(ctx.emu.jobs) == 0


# -- ids full of ../ -------------------------------------------------------------------------------


@pytest.mark.parametrize("job_id", ["../../../etc/passwd", "..", "../..", ".", "..\\..\\x"])
def test_a_hostile_id_never_names_a_file_outside_the_folder(ctx, job_id):
    real = ctx.create()
    with ctx.client() as c:
        real = c.wait(real, timeout=30)
        dest = ctx.folder / "videos"
        path = c.download(Job(job_id, "completed", "unified", video_url=real.video_url), dest)
    assert path.parent == dest and path.is_file() and path.stat().st_size > 1000
    assert sorted(p.name for p in dest.iterdir()) == [path.name]
    assert not (ctx.folder / "etc").exists() and sorted(p.name for p in ctx.folder.iterdir()) == [
        "folder",
        "notes.txt",
        "real.png",
        "videos",
    ]


@pytest.mark.parametrize("job_id", ["..", ".", "../../../v1/video/create", "../videos"])
@pytest.mark.parametrize("call", ["get_job", "download"])
def test_a_hostile_id_stays_one_path_segment_on_the_gateway(ctx, job_id, call):
    """Ids are opaque: whatever they hold, the request goes to /v1/videos/<that id>/…"""
    with ctx.client(dialect="openai", retries=0) as c, pytest.raises(sora_nb.SoraError) as info:
        if call == "get_job":
            c.get_job(job_id)
        else:
            c.download(Job(job_id, "completed", "openai"), ctx.folder)
    one_line(info.value)
    # (kind, path) only: a request record also holds the Authorization header.
    ((kind, path),) = [(r.kind, r.path) for r in ctx.emu.requests]
    assert path.startswith("/v1/videos/"), (kind, path)
    # The path as the server decoded it: an encoded "/" inside the id stays inside the segment.
    assert path.removeprefix("/v1/videos/").removesuffix("/content") == job_id, (kind, path)


# -- settings of the magics that tests/notebook/test_magics_shell.py does not try ----------------


@pytest.fixture(scope="module")
def shell(tmp_path_factory):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        ip = InteractiveShell.instance(config=config)
        yield ip
        ip.run_line_magic("unload_ext", "sora_nb")
    InteractiveShell.clear_instance()


@pytest.fixture
def magics(shell, ctx, capsys):
    from sora_nb.notebook.magics import SoraMagics

    ctx.env.setenv("SORA_NB_DATA_DIR", str(ctx.folder / "data"))
    ctx.env.setenv("SORA_BASE_URL", ctx.url)
    ctx.env.setenv("SORA_API_KEY", KEY)
    ctx.env.chdir(ctx.folder)
    shell.run_line_magic("unload_ext", "sora_nb")
    shell.config.pop("SoraMagics", None)
    shell.configurables[:] = [c for c in shell.configurables if not isinstance(c, SoraMagics)]
    assert shell.run_cell("%load_ext sora_nb").success
    capsys.readouterr()
    ctx.emu.reset_counters()  # loading asked what the gateway serves (GETs); count the cells
    yield shell.magics_manager.registry["SoraMagics"]
    shell.run_line_magic("unload_ext", "sora_nb")


MAGIC_CASES = [
    ("%sora_config timeout=0", ["timeout"]),
    ("%sora_config timeout=-30", ["timeout"]),
    ("%sora_config max_poll_interval=soon", ["soon"]),
    ("%sora_config update_rate=0", ["update_rate"]),
    ("%sora_config verify_tls=maybe", ["maybe"]),
    ("%sora_config show=inline", ["show", "auto, file, widget, embed, link"]),
    ("%sora_config progress=fancy", ["progress", "auto"]),
    ("%sora_config base_url=relay.example/v1", ["relay.example/v1"]),
    ("%sora_config emulator_seed=1.5", ["1.5"]),
    ("%sora_config dialect", ["dialect", "name=value"]),
    ("%sora_config 'unclosed", ["options"]),
    ("%%sora_chat --tool-choice '{bad'\nhi", ["--tool-choice", "JSON"]),
    ("%%sora_image --style oil\na cat", ["oil"]),
    ("%%sora_image\n   ", ["empty"]),
    ("%%sora_video --size huge --dialect openai\na cat", ["huge"]),
    ("%%sora_video --image real.png --image notes.txt\na cat", ["notes.txt"]),
    ("%sora_panel now", ["takes no options"]),
]


@pytest.mark.parametrize(("text", "needles"), MAGIC_CASES, ids=[t for t, _ in MAGIC_CASES])
def test_a_magic_mistake_is_one_line_and_sends_nothing(magics, shell, ctx, capsys, text, needles):
    from IPython.core.error import UsageError

    before = {n: getattr(magics, n) for n in magics.trait_names(config=True)}
    result = shell.run_cell(text)
    out = capsys.readouterr()
    assert not result.success
    assert isinstance(result.error_in_exec, UsageError), repr(result.error_in_exec)
    message = one_line(result.error_in_exec)
    for needle in needles:
        assert needle in message, message
    assert "Traceback" not in out.out + out.err
    assert KEY not in message + out.out + out.err
    assert {n: getattr(magics, n) for n in magics.trait_names(config=True)} == before
    assert sum(ctx.emu.counters.values()) == 0, ctx.emu.counters


def test_one_image_given_alone_is_one_image_not_its_characters():
    """Not a mistake: ``images="URL"`` means that one image, ``images=None`` none."""
    from sora_nb.emulator import serve

    with serve(job_seconds=0.2, seed=5) as emu, sora_nb.Client(base_url=emu.base_url) as c:
        one = c.create_video("a cat", images="https://x.example/cat.png")
        none = c.create_video("a cat", images=None)
        assert emu.jobs[one.id].params["images"] == ["https://x.example/cat.png"]
        assert emu.jobs[none.id].params["images"] == []
