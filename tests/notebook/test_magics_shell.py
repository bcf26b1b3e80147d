"""The IPython magics in a real InteractiveShell, against the emulator over loopback sockets.

Outside a kernel the live views run in text mode (stdout lines), so capsys sees everything the
user would see. Every test that configures a key checks that the key appears in no output.
"""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import struct
import time
import zlib
from pathlib import Path
from types import SimpleNamespace

import pytest
from IPython.core.error import UsageError

import sora_nb
from sora_nb.journal import Journal
from tests.conftest import KEY

VIDEO_CELLS = ("sora_video", "sora_chat", "sora_image")
LINE_MAGICS = ("sora_config", "sora_jobs")
OTHER_KEY = "sk-other-gateway-key-77aa1c"


# -- helpers -------------------------------------------------------------------------------------


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def is_mp4(path: Path) -> bool:
    head = Path(path).read_bytes()[:12]
    return len(head) == 12 and head[4:8] == b"ftyp"


def video_src(bundle: dict[str, str]) -> str:
    match = re.search(r'<video src="([^"]*)"', bundle["text/html"])
    assert match, bundle["text/html"]
    return match.group(1)


def registered(ip) -> set[str]:
    magics = ip.magics_manager.magics
    return {n for n in magics["cell"] if n.startswith("sora_")} | {
        n for n in magics["line"] if n.startswith("sora_")
    }


def total(emulator) -> int:
    return sum(emulator.counters.values())


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ip(tmp_path_factory):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        shell = InteractiveShell.instance(config=config)
        yield shell
        shell.run_line_magic("unload_ext", "sora_nb")
    InteractiveShell.clear_instance()


@pytest.fixture
def env(ip, tmp_path, monkeypatch, capsys):
    """A private journal, a notebook folder as cwd, a clean shell; the key never shows."""
    from sora_nb.notebook.magics import SoraMagics

    notebook = tmp_path / "nb"
    notebook.mkdir()
    monkeypatch.setenv("SORA_NB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(notebook)
    for name in ("SORA_BASE_URL", "SORA_API_KEY", "SORA_DIALECT"):
        monkeypatch.delenv(name, raising=False)
    ip.run_line_magic("unload_ext", "sora_nb")
    # %config settings live in the shell's config and would reach the next test's magics.
    ip.config.pop("SoraMagics", None)
    ip.configurables[:] = [c for c in ip.configurables if not isinstance(c, SoraMagics)]
    state = SimpleNamespace(ip=ip, dir=notebook)

    def read() -> str:
        captured = capsys.readouterr()
        text = captured.out + captured.err
        assert KEY not in text
        return text

    state.read = read
    yield state
    background = []
    if "SoraMagics" in ip.magics_manager.registry:
        background = [
            t for t in ip.magics_manager.registry["SoraMagics"].background if not t.done()
        ]
    if background:
        from sora_nb.notebook import runner

        for task in background:
            task.cancel()
        runner.run(asyncio.wait(background, timeout=2))
    ip.run_line_magic("unload_ext", "sora_nb")
    read()
    journal = tmp_path / "data" / "jobs.sqlite3"
    assert not journal.exists() or KEY.encode() not in journal.read_bytes()


def load(env, monkeypatch, base_url: str | None, key: str | None = KEY):
    """``%load_ext sora_nb`` with SORA_BASE_URL / SORA_API_KEY set first, as a user would."""
    if base_url is not None:
        monkeypatch.setenv("SORA_BASE_URL", base_url)
    if key is not None:
        monkeypatch.setenv("SORA_API_KEY", key)
    result = env.ip.run_cell("%load_ext sora_nb")
    assert result.success, result.error_in_exec
    magics = env.ip.magics_manager.registry["SoraMagics"]
    assert env.ip.run_cell("%config SoraMagics.poll_interval = 0.05").success
    assert env.ip.run_cell("%config SoraMagics.max_poll_interval = 0.2").success
    return magics


@pytest.fixture
def sora(env, emu, monkeypatch):
    """The magics loaded against the ``emu`` gateway with the right key."""
    emu.set(job_seconds=0.1)
    env.emu = emu
    env.magics = load(env, monkeypatch, emu.base_url)
    env.read()
    # Loading asked the gateway which families it serves (GETs, nothing created); the tests
    # count what the cells send.
    emu.reset_counters()
    return env


def cell(sora, text: str):
    return sora.ip.run_cell(text)


def assert_usage_error(result, *needles: str) -> str:
    assert not result.success
    error = result.error_in_exec
    assert isinstance(error, UsageError), repr(error)
    message = str(error)
    assert message.strip() and "\n" not in message.strip(), message
    for needle in needles:
        assert needle in message, message
    return message


# -- %load_ext / %unload_ext ---------------------------------------------------------------------


def test_load_with_gateway_from_environment(env, emu, monkeypatch):
    # The documented way: SORA_BASE_URL and SORA_API_KEY set, then %load_ext.
    load_result = None
    monkeypatch.setenv("SORA_BASE_URL", emu.base_url)
    monkeypatch.setenv("SORA_API_KEY", KEY)
    load_result = env.ip.run_cell("%load_ext sora_nb")
    out = env.read()
    assert load_result.success, repr(load_result.error_in_exec)
    assert "Traceback" not in out and "AttributeError" not in out
    assert registered(env.ip) >= {*VIDEO_CELLS, *LINE_MAGICS}
    assert env.ip.magics_manager.registry["SoraMagics"].base_url == emu.base_url


def test_load_registers_the_magics_and_unload_removes_them(env, emu, monkeypatch):
    assert not registered(env.ip)
    load(env, monkeypatch, emu.base_url)
    magics = env.ip.magics_manager.magics
    for name in VIDEO_CELLS:
        assert name in magics["cell"], name
    for name in LINE_MAGICS:
        assert name in magics["line"], name
    out = env.read()
    assert "emulator" not in out  # a gateway is configured: nothing is started
    # No dialect was given, so loading asked the gateway what it serves: GETs of status routes
    # for an id no relay has, and of /models; nothing created.
    assert "serves unified, openai" in out and "videos go through unified" in out
    probes = [(r.method, r.path) for r in emu.requests]
    assert probes and all(method == "GET" for method, _ in probes), probes
    assert emu.counters["create"] == 0 and emu.counters["chat"] == 0
    sent = total(emu)
    assert env.ip.run_cell("%unload_ext sora_nb").success
    assert not registered(env.ip)
    assert not env.ip.run_cell("%%sora_video\na boat").success
    assert total(emu) == sent


def test_load_without_gateway_starts_the_builtin_emulator(env):
    env.read()
    assert env.ip.run_cell("%load_ext sora_nb").success
    out = env.read()
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    assert "emulator" in lines[0]
    magics = env.ip.magics_manager.registry["SoraMagics"]
    builtin = magics.emulator
    assert builtin.base_url in lines[0]
    assert magics.base_url == builtin.base_url
    plain = env.ip.run_cell("%sora_config").result._repr_mimebundle_()["text/plain"]
    assert re.search(r"^gateway\s+built-in emulator$", plain, re.M), plain
    # It really serves: an ordinary chat model answers.
    reply = env.ip.run_cell("%%sora_chat -m gpt-4\nping from the test").result
    assert "ping from the test" in reply.text
    port = int(builtin.base_url.rsplit(":", 1)[1].split("/")[0])
    assert env.ip.run_cell("%unload_ext sora_nb").success
    assert not registered(env.ip)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_the_builtin_emulator_is_never_sent_the_users_real_key(env, monkeypatch):
    monkeypatch.setenv("SORA_API_KEY", KEY)  # the user's real key, set for a real gateway
    assert env.ip.run_cell("%load_ext sora_nb").success
    magics = env.ip.magics_manager.registry["SoraMagics"]
    assert env.ip.run_cell("%%sora_chat -m gpt-4\nhello").success
    assert env.ip.run_cell("%%sora_video\na quiet harbour").success
    sent = [r.headers.get("authorization", "") for r in magics.emulator.requests]
    assert sent and not any(KEY in h for h in sent)
    plain = env.ip.run_cell("%sora_config").result._repr_mimebundle_()["text/plain"]
    assert "not sent to the built-in emulator" in plain
    assert env.ip.run_cell("%unload_ext sora_nb").success


# -- %%sora_video --------------------------------------------------------------------------------


def test_video_happy_path(sora):
    result = cell(sora, "%%sora_video --name v\na paper boat on a pond")
    out = sora.read()
    assert result.success, result.error_in_exec
    job = result.result
    assert isinstance(job, sora_nb.Job)
    assert type(job).__name__ == "VideoJob"
    assert job.status == "completed"
    assert job.id in sora.emu.jobs
    path = Path(job.path)
    assert path.suffix == ".mp4"
    assert path.resolve().parent == (sora.dir / "videos").resolve()
    assert path.exists() and is_mp4(path)
    bundle = job._repr_mimebundle_()
    assert video_src(bundle) == f"videos/{path.name}"
    assert bundle["text/plain"].strip() and path.name in bundle["text/plain"]
    assert sora.ip.user_ns["v"] is job
    entries = Journal().entries()
    assert [e.id for e in entries] == [job.id]
    assert entries[0].status == "completed"
    assert entries[0].path and Path(entries[0].path).resolve() == path.resolve()
    assert entries[0].prompt == "a paper boat on a pond"
    counters = sora.emu.counters
    assert counters["create"] == 1 and counters["cdn"] == 1
    assert "completed" in out


def test_video_pro_large_fifteen_seconds(sora):
    job = cell(sora, "%%sora_video --model sora-2-pro --size large --duration 15\nstorm").result
    assert job is not None and job.status == "completed"
    params = sora.emu.jobs[job.id].params
    assert params["model"] == "sora-2-pro"
    assert params["size"] == "large"
    assert float(params["duration"]) == 15
    assert sora.emu.jobs[job.id].model == "sora-2-pro"


def test_video_orientation_landscape(sora):
    job = cell(sora, "%%sora_video --orientation landscape\na wide beach").result
    assert job is not None
    info = sora.emu.jobs[job.id]
    assert info.params["orientation"] == "landscape"
    assert info.width > info.height
    assert Journal().get(job.id).params["orientation"] == "landscape"


def test_video_duration(sora):
    job = cell(sora, "%%sora_video --duration 15\na slow sunrise").result
    assert job is not None
    assert float(sora.emu.jobs[job.id].params["duration"]) == 15
    assert sora.emu.jobs[job.id].seconds == 15


def test_video_reference_image_url(sora):
    url = "https://images.example/ref.png"
    job = cell(sora, f"%%sora_video --image {url}\nanimate this").result
    assert job is not None and job.status == "completed"
    assert sora.emu.jobs[job.id].params["images"] == [url]
    assert Journal().get(job.id).params["images"] == [url]


def test_video_reference_image_local_file(sora):
    png = tiny_png()
    (sora.dir / "local.png").write_bytes(png)
    job = cell(sora, "%%sora_video --image local.png\nanimate this").result
    assert job is not None and job.status == "completed"
    (sent,) = sora.emu.jobs[job.id].params["images"]
    assert sent.startswith("data:image/png;base64,")
    assert base64.b64decode(sent.split(",", 1)[1]) == png
    # The journal names the file; it does not keep the image data.
    assert Journal().get(job.id).params["images"] == ["local.png"]


def test_video_openai_dialect(sora):
    job = cell(sora, "%%sora_video --dialect openai -s 1280x720 -d 4\na kite").result
    assert job is not None and job.status == "completed"
    assert job.dialect == "openai"
    params = sora.emu.jobs[job.id].params
    assert params["size"] == "1280x720"
    assert str(params["seconds"]) == "4"
    assert sora.emu.counters["create"] == 1
    assert is_mp4(job.path)
    assert Journal().get(job.id).dialect == "openai"


def test_video_chat_dialect(sora):
    job = cell(sora, "%%sora_video --dialect chat\na lantern in fog").result
    assert job is not None and job.status == "completed"
    counters = sora.emu.counters
    assert counters["chat"] == 1 and counters["create"] == 0
    assert is_mp4(job.path)
    entry = Journal().get(job.id)
    assert entry is not None and entry.dialect == "chat" and entry.status == "completed"


def test_video_timeout_is_one_line_and_the_job_stays_in_the_journal(sora):
    sora.emu.set(job_seconds=30)
    started = time.monotonic()
    result = cell(sora, "%%sora_video --timeout 0.4\na very slow render")
    elapsed = time.monotonic() - started
    out = sora.read()
    assert not result.success
    error = result.error_in_exec
    assert type(error).__name__ == "SoraCellError"
    (job_id,) = list(sora.emu.jobs)
    message = str(error)
    assert job_id in message and "\n" not in message
    assert "Traceback" not in out
    assert sum("SoraCellError" in line for line in out.splitlines()) == 1, out
    assert elapsed < 10
    entry = Journal().get(job_id)
    assert entry is not None and entry.status in ("queued", "in_progress")
    assert not (sora.dir / "videos").exists() or not any((sora.dir / "videos").iterdir())


def test_video_out_dir(sora):
    job = cell(sora, "%%sora_video --out clips\na tram at night").result
    assert job is not None
    path = Path(job.path)
    assert path.resolve().parent == (sora.dir / "clips").resolve()
    assert is_mp4(path)
    assert video_src(job._repr_mimebundle_()) == f"clips/{path.name}"
    assert not (sora.dir / "videos").exists()


def test_video_embed(sora):
    job = cell(sora, "%%sora_video --embed\na red balloon").result
    assert job is not None
    src = video_src(job._repr_mimebundle_())
    assert src.startswith("data:video/mp4;base64,")
    assert base64.b64decode(src.split(",", 1)[1]) == Path(job.path).read_bytes()


def test_video_show_widget_carries_the_file_in_a_player(sora):
    job = cell(sora, "%%sora_video --show widget\na red balloon").result
    assert job is not None and job.mode() == "widget"
    bundle = job._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    from ipywidgets.widgets.widget import _instances

    player = _instances[view["model_id"]].children[0]
    assert player.value == Path(job.path).read_bytes()
    assert not player.autoplay and not player.loop
    assert "<video" not in bundle["text/html"]  # the fallback: caption, file name, link
    assert Path(job.path).name in bundle["text/html"]


def test_jobs_open_shows_a_saved_video_again_without_a_request(sora):
    job = cell(sora, "%%sora_video\na red balloon").result
    before = total(sora.emu)
    again = cell(sora, f"%sora_jobs --open {job.id} --name again").result
    assert again.id == job.id and Path(again.path).resolve() == Path(job.path).resolve()
    assert video_src(again._repr_mimebundle_()) == video_src(job._repr_mimebundle_())
    assert total(sora.emu) == before
    assert sora.ip.user_ns["again"] is again
    Path(job.path).unlink()
    assert_usage_error(cell(sora, f"%sora_jobs --open {job.id}"), "is gone", "--resume")


def test_video_link_downloads_nothing(sora):
    job = cell(sora, "%%sora_video --link\na red balloon").result
    assert job is not None and job.status == "completed"
    assert sora.emu.counters["cdn"] == 0
    assert job.path is None
    assert not (sora.dir / "videos").exists()
    src = video_src(job._repr_mimebundle_())
    assert src == job.video_url
    assert src.startswith("http://127.0.0.1:")


def test_video_three_variants_make_a_grid(sora):
    grid = cell(sora, "%%sora_video -n 3 --name g\nthree paper boats").result
    assert type(grid).__name__ == "VideoGrid"
    assert len(grid) == 3
    ids = [job.id for job in grid]
    assert len(set(ids)) == 3
    assert all(job.status == "completed" and is_mp4(job.path) for job in grid)
    assert len({Path(job.path).name for job in grid}) == 3
    html = grid._repr_mimebundle_()["text/html"]
    assert "sora-nb-grid" in html and html.count("<video") == 3
    assert sora.emu.counters["create"] == 3
    assert {e.id for e in Journal().entries()} == set(ids)
    assert sora.ip.user_ns["g"] is grid


def test_video_background_returns_at_once_and_finishes_later(sora):
    started = time.monotonic()
    result = cell(sora, "%%sora_video --background --name bg\nthe background one")
    assert result.success, result.error_in_exec
    assert result.result is None
    assert time.monotonic() - started < 1.0
    tasks = sora.magics.background
    assert len(tasks) == 1
    # Outside a kernel the loop turns only while a blocking sora cell runs.
    for _ in range(5):
        assert cell(sora, "%%sora_video\nthe foreground one").success
        if tasks[0].done():
            break
    assert tasks[0].done() and tasks[0].exception() is None
    out = sora.read()
    by_prompt = {e.prompt: e for e in Journal().entries()}
    assert by_prompt["the background one"].status == "completed"
    assert by_prompt["the background one"].path
    assert Path(by_prompt["the background one"].path).exists()
    kept = sora.ip.user_ns["bg"]
    assert kept.status == "completed" and kept.id == by_prompt["the background one"].id
    assert f"Video: videos/{Path(kept.path).name}" in out  # its result replaced its status line


def test_an_unusable_out_folder_is_one_line(sora):
    (sora.dir / "taken").write_text("not a folder")
    result = cell(sora, "%%sora_video --out taken/clips\nthe blocked one")
    assert not result.success and type(result.error_in_exec).__name__ == "SoraCellError"
    message = str(result.error_in_exec)
    assert "\n" not in message and ("NotADirectoryError" in message or "FileExists" in message)
    assert "taken" in message
    sora.read()


def test_a_background_job_that_dies_of_anything_says_so_in_its_cell(sora):
    # --out names a file, not a folder: the download fails with an OSError, not a SoraError.
    (sora.dir / "taken").write_text("not a folder")
    result = cell(sora, "%%sora_video --background --out taken/clips\nthe doomed one")
    assert result.success, result.error_in_exec
    task = sora.magics.background[-1]
    for _ in range(5):
        assert cell(sora, "%%sora_video\nthe foreground one").success
        if task.done():
            break
    assert task.done() and task.exception() is None  # handled: shown, not lost
    out = sora.read()
    assert "NotADirectoryError" in out or "FileExistsError" in out, out
    by_prompt = {e.prompt: e for e in Journal().entries()}
    assert by_prompt["the doomed one"].status == "completed"  # made on the gateway; not saved
    assert by_prompt["the doomed one"].path is None


# -- bad options: one line, nothing sent ---------------------------------------------------------

BAD = [
    ("%%sora_video\n   \n", ["empty"]),
    ("%%sora_video --model sora-2-pro --size small\nx", ["small"]),
    ("%%sora_video --duration 12\nx", ["12"]),
    ("%%sora_video --duration -5\nx", ["duration"]),
    ("%%sora_video --duration abc\nx", ["abc"]),
    ("%%sora_video --orientation square\nx", ["square"]),
    ("%%sora_video --dialect nope\nx", ["nope"]),
    ("%%sora_video -n 0\nx", ["-n"]),
    ("%%sora_video -n 99\nx", ["99"]),
    ("%%sora_video --timeout -1\nx", ["timeout"]),
    ("%%sora_video --embed --link\nx", ["--embed", "--link"]),
    ("%%sora_video --name 1bad\nx", ["1bad"]),
    ("%%sora_video --image /no/such.png\nx", ["/no/such.png"]),
    ("%%sora_video --image notes.txt\nx", ["notes.txt", "not a PNG"]),
    ("%%sora_video --image ftp://x/y.png\nx", ["ftp://x/y.png"]),
    ("%%sora_video --dialect chat --size large\nx", ["chat", "size"]),
    ("%%sora_video --bogus\nx", ["--bogus"]),
    ("%%sora_chat\n  \n", ["empty"]),
    ("%%sora_chat --temperature 5\nhi", ["temperature"]),
    ("%%sora_chat --max-tokens 0\nhi", ["max-tokens"]),
    ("%%sora_chat --tools '[bad json'\nhi", ["--tools", "JSON"]),
    ("%%sora_image -n 0\na cat", ["1 to 10"]),
    ("%%sora_image --quality ultra\na cat", ["ultra"]),
    ("%sora_jobs --limit 0", ["--limit"]),
    ("%sora_jobs --resume nope", ["nope"]),
    ("%sora_jobs --open nope", ["nope"]),
    ("%%sora_video --show inline\na cat", ["inline"]),
    ("%%sora_video --embed --show file\na cat", ["--embed", "--show"]),
    ("%sora_config show=inline", ["show must be one of"]),
    ("%sora_config api_key=sk-x", ["--key-env", "notebook"]),
    ("%sora_config nosuch=1", ["nosuch"]),
    ("%sora_config dialect=nope", ["nope"]),
    ("%sora_config base_url=ftp://x", ["ftp://x"]),
    ("%sora_config poll_interval=-1", ["poll_interval"]),
    ("%sora_config poll_interval=abc", ["abc"]),
    ("%sora_config --key-env UNSET_VAR_NAME", ["UNSET_VAR_NAME"]),
]


@pytest.mark.parametrize(("text", "needles"), BAD, ids=[t.split("\n")[0] for t, _ in BAD])
def test_bad_options_fail_in_one_line_before_any_request(sora, monkeypatch, text, needles):
    monkeypatch.delenv("UNSET_VAR_NAME", raising=False)
    (sora.dir / "notes.txt").write_text("just some notes, not an image\n")
    magics = sora.magics
    before = {n: getattr(magics, n) for n in magics.trait_names(config=True)}
    result = cell(sora, text)
    message = assert_usage_error(result, *needles)
    out = sora.read()
    assert "Traceback" not in out
    assert total(sora.emu) == 0, sora.emu.counters
    assert {n: getattr(magics, n) for n in magics.trait_names(config=True)} == before
    assert "sk-x" not in message and "sk-x" not in out
    assert not (sora.dir / "videos").exists()
    assert Journal().count() == 0


# -- gateway errors ------------------------------------------------------------------------------


def test_gateway_refusal_is_one_line_with_status_and_message_and_no_key(env, monkeypatch):
    from sora_nb.emulator import serve

    with serve(job_seconds=0.1, seed=3, api_key=OTHER_KEY) as other:
        load(env, monkeypatch, other.base_url, key=KEY)
        env.read()
        result = env.ip.run_cell("%%sora_video\na boat")
        out = env.read()
        assert other.counters["create"] == 1
        env.ip.run_line_magic("unload_ext", "sora_nb")
    assert not result.success
    error = result.error_in_exec
    assert type(error).__name__ == "SoraCellError"
    message = str(error)
    assert "401" in message
    assert "Incorrect API key provided" in message
    assert "\n" not in message
    assert KEY not in message and KEY not in out
    assert "Traceback" not in out
    assert sum("401" in line for line in out.splitlines()) == 1, out
    assert Journal().count() == 0


# -- settings: %config and %sora_config ----------------------------------------------------------


def config_text(sora) -> str:
    result = cell(sora, "%sora_config")
    assert result.success, result.error_in_exec
    return result.result._repr_mimebundle_()["text/plain"]


def test_percent_config_changes_a_setting(sora):
    assert cell(sora, "%config SoraMagics.poll_interval = 2").success
    assert sora.magics.poll_interval == 2.0
    assert re.search(r"^poll_interval\s+2\.0$", config_text(sora), re.M)


@pytest.mark.parametrize(("name", "value"), [("dialect", "'nope'"), ("poll_interval", "-1")])
def test_percent_config_rejects_a_bad_value(sora, name, value):
    before = getattr(sora.magics, name)
    cell(sora, f"%config SoraMagics.{name} = {value}")
    assert getattr(sora.magics, name) == before


def test_sora_config_sets_several_settings(sora):
    result = cell(sora, "%sora_config dialect=openai model=sora-2-pro")
    assert result.success and result.result is None
    assert sora.magics.dialect == "openai"
    assert sora.magics.model == "sora-2-pro"
    text = config_text(sora)
    assert re.search(r"^dialect\s+openai$", text, re.M)
    assert re.search(r"^model\s+sora-2-pro$", text, re.M)


def test_sora_config_lists_every_setting_with_the_key_redacted(sora, monkeypatch):
    bundle = cell(sora, "%sora_config").result._repr_mimebundle_()
    plain = bundle["text/plain"]
    names = {line.split()[0] for line in plain.splitlines() if line.strip()}
    assert set(sora.magics.trait_names(config=True)) <= names
    assert "api_key" in names
    (key_line,) = [line for line in plain.splitlines() if line.startswith("api_key ")]
    assert "***" in key_line and "$SORA_API_KEY" in key_line
    assert KEY not in plain and KEY not in bundle["text/html"]
    assert sora.emu.base_url in plain
    monkeypatch.delenv("SORA_API_KEY")
    unset = cell(sora, "%sora_config").result._repr_mimebundle_()["text/plain"]
    (key_line,) = [line for line in unset.splitlines() if line.startswith("api_key ")]
    assert "***" not in key_line and "not set" in key_line


def test_key_env_switches_the_key_source(env, emu, monkeypatch):
    emu.set(job_seconds=0.1)
    magics = load(env, monkeypatch, emu.base_url, key="sk-wrong-key-000111")
    env.emu = emu
    refused = env.ip.run_cell("%%sora_chat -m gpt-4\nhello")
    assert not refused.success and "401" in str(refused.error_in_exec)
    monkeypatch.setenv("OTHER_VAR", KEY)
    switched = env.ip.run_cell("%sora_config --key-env OTHER_VAR")
    assert switched.success, switched.error_in_exec
    assert magics.api_key_env == "OTHER_VAR"
    plain = env.ip.run_cell("%sora_config").result._repr_mimebundle_()["text/plain"]
    (key_line,) = [line for line in plain.splitlines() if line.startswith("api_key ")]
    assert "$OTHER_VAR" in key_line and "***" in key_line and KEY not in plain
    answered = env.ip.run_cell("%%sora_chat -m gpt-4\nhello again")
    assert answered.success, answered.error_in_exec
    assert "hello again" in answered.result.text
    env.read()


# -- %%sora_chat ---------------------------------------------------------------------------------


@pytest.fixture
def sent(sora, monkeypatch):
    """The message lists the magics hand to the client (the emulator logs no bodies)."""
    client = sora.magics.client()
    calls: list[tuple[str, list[dict]]] = []
    stream_chat, chat = client.stream_chat, client.chat

    def spy_stream(messages, **kw):
        calls.append(("stream", [dict(m) for m in messages]))
        return stream_chat(messages, **kw)

    def spy_chat(messages, **kw):
        calls.append(("chat", [dict(m) for m in messages]))
        return chat(messages, **kw)

    monkeypatch.setattr(client, "stream_chat", spy_stream)
    monkeypatch.setattr(client, "chat", spy_chat)
    return calls


def test_chat_streams_and_the_conversation_goes_on(sora, sent):
    first = cell(sora, "%%sora_chat -m gpt-4 --name r\nhello there")
    out = sora.read()
    assert first.success, first.error_in_exec
    reply = first.result
    assert type(reply).__name__ == "ChatReply"
    assert "hello there" in reply.text and "gpt-4" in reply.text
    assert reply.video is None
    assert reply.text in out  # streamed to the output
    assert sora.ip.user_ns["r"] is reply
    second = cell(sora, "%%sora_chat -m gpt-4\nand a second thing").result
    assert "and a second thing" in second.text
    assert [kind for kind, _ in sent] == ["stream", "stream"]
    messages = sent[1][1]
    assert len(messages) >= 3
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == "hello there"
    assert messages[1]["content"] == reply.text
    assert messages[2]["content"] == "and a second thing"
    cell(sora, "%%sora_chat -m gpt-4 --new\nfresh start")
    assert sent[2][1] == [{"role": "user", "content": "fresh start"}]
    assert sora.emu.counters["chat"] == 3


def test_chat_system_prompt_starts_a_new_conversation(sora, sent):
    cell(sora, "%%sora_chat -m gpt-4\nearlier message")
    result = cell(sora, '%%sora_chat -m gpt-4 --system "be brief"\nsummarise')
    assert result.success, result.error_in_exec
    assert sent[-1][1] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "summarise"},
    ]


def test_chat_no_stream(sora, sent):
    result = cell(sora, "%%sora_chat -m gpt-4 --no-stream\nin one piece")
    assert result.success, result.error_in_exec
    assert "in one piece" in result.result.text
    assert [kind for kind, _ in sent] == ["chat"]


def test_chat_with_a_video_model_plays_the_video(sora):
    result = cell(sora, "%%sora_chat\na fox running through snow")
    assert result.success, result.error_in_exec
    reply = result.result
    video = reply.video
    assert video is not None and type(video).__name__ == "VideoJob"
    assert video.status == "completed"
    assert Path(video.path).exists() and is_mp4(video.path)
    assert Path(video.path).resolve().parent == (sora.dir / "videos").resolve()
    entry = Journal().get(video.id)
    assert entry is not None and entry.status == "completed" and entry.path
    assert sora.emu.counters["chat"] == 1 and sora.emu.counters["create"] == 0


# -- %%sora_image --------------------------------------------------------------------------------


def test_image_saves_files_next_to_the_notebook(sora):
    result = cell(sora, "%%sora_image -n 1 -s 1024x1024 --name pics\na red square")
    assert result.success, result.error_in_exec
    images = result.result
    assert type(images).__name__ == "ImageSet"
    assert len(images) == 1
    ((image, path),) = list(images)
    assert path is not None
    path = Path(path)
    assert path.resolve().parent == (sora.dir / "videos").resolve()
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert image.revised_prompt and "a red square" in image.revised_prompt
    assert f'<img src="videos/{path.name}"' in images._repr_mimebundle_()["text/html"]
    assert sora.emu.counters["images"] == 1
    assert sora.ip.user_ns["pics"] is images


# -- %sora_jobs ----------------------------------------------------------------------------------


def plain_client(emu):
    return sora_nb.Client(base_url=emu.base_url, api_key=KEY, poll_interval=0.05)


def test_jobs_table_lists_newest_first(sora):
    journal = Journal()
    for n, job_id in enumerate(["job-older", "job-newer"]):
        journal.record(
            sora.emu.base_url,
            sora_nb.Job(
                id=job_id, status="queued", dialect="unified", model="sora-2", prompt=f"prompt {n}"
            ),
        )
        time.sleep(0.01)
    result = cell(sora, "%sora_jobs")
    assert result.success, result.error_in_exec
    plain = result.result._repr_mimebundle_()["text/plain"]
    header, *rows = plain.splitlines()
    assert header.split()[:3] == ["id", "status", "progress"]
    assert "model" in header and "prompt" in header
    assert [row.split()[0] for row in rows] == ["job-newer", "job-older"]
    assert all(row.split()[1] == "queued" for row in rows)
    assert "<table" in result.result._repr_mimebundle_()["text/html"]
    assert total(sora.emu) == 0
    limited = cell(sora, "%sora_jobs --limit 1").result
    assert [e.id for e in limited] == ["job-newer"]


def test_jobs_refresh_updates_an_unfinished_job(sora):
    with plain_client(sora.emu) as client:
        job = client.create_video("refresh me", model="sora-2")
        Journal().record(client.base_url, job)
    assert Journal().get(job.id).status != "completed"
    deadline = time.monotonic() + 10
    while sora.emu.jobs[job.id].status != "completed" and time.monotonic() < deadline:
        time.sleep(0.02)
    sora.emu.reset_counters()
    stale = cell(sora, "%sora_jobs").result._repr_mimebundle_()["text/plain"]
    assert "completed" not in stale
    result = cell(sora, "%sora_jobs --refresh")
    assert result.success, result.error_in_exec
    assert Journal().get(job.id).status == "completed"
    (row,) = result.result._repr_mimebundle_()["text/plain"].splitlines()[1:]
    assert row.split()[:2] == [job.id, "completed"]
    assert sora.emu.counters["poll"] >= 1


def test_jobs_resume_finishes_a_journal_job(sora):
    sora.emu.set(job_seconds=0.3)
    with plain_client(sora.emu) as client:
        job = client.create_video("resume me", model="sora-2")
        Journal().record(client.base_url, job)
    assert job.status != "completed"
    result = cell(sora, f"%sora_jobs --resume {job.id} --name resumed")
    assert result.success, result.error_in_exec
    video = result.result
    assert type(video).__name__ == "VideoJob"
    assert video.id == job.id and video.status == "completed"
    assert Path(video.path).exists() and is_mp4(video.path)
    entry = Journal().get(job.id)
    assert entry.status == "completed"
    assert Path(entry.path).resolve() == Path(video.path).resolve()
    assert sora.ip.user_ns["resumed"] is video
    assert sora.emu.counters["create"] == 1  # resuming never creates a second job


def test_a_passing_404_during_refresh_fails_nothing_and_resume_asks_again(sora):
    # One 404 while a task moves between upstreams used to mark the row failed for good, and
    # --resume then refused without asking the gateway, though the job completed.
    from sora_nb.emulator import Fault

    sora.emu.set(job_seconds=0.3)
    with plain_client(sora.emu) as client:
        job = client.create_video("found again", model="sora-2")
        Journal().record(client.base_url, job)
    sora.emu.add_fault(Fault(kind="poll", status=404, times=1))
    assert cell(sora, "%sora_jobs --refresh").success
    row = Journal().get(job.id)
    assert row.status != "failed" and "did not find this job" in row.error
    result = cell(sora, f"%sora_jobs --resume {job.id}")
    assert result.success, result.error_in_exec
    assert result.result.status == "completed" and Journal().get(job.id).status == "completed"


def test_the_panel_never_resumes_another_gateways_job_with_this_key(sora, tmp_path):
    other = "http://127.0.0.1:9/v1"
    Journal().record(other, sora_nb.Job(id="task_elsewhere", status="queued", dialect="unified"))
    panel = cell(sora, "%sora_panel").result
    panel.load_history()
    panel.history_list.value = "task_elsewhere"
    before = sum(sora.emu.counters.values())
    assert panel.resume_selected() is None  # nothing started
    shown = panel.history_out.outputs[0]["data"]["text/plain"]
    assert "task_elsewhere" in shown and other in shown
    assert sum(sora.emu.counters.values()) == before


def test_probe_and_dialect_auto(sora):
    assert cell(sora, "%sora_config --probe").success
    said = sora.read()
    assert "serves unified, openai" in said and "nothing created" in said
    assert sora.emu.counters["create"] == 0
    assert cell(sora, "%sora_config dialect=auto").success
    result = cell(sora, "%%sora_video\nthe relay decides")
    assert result.success, result.error_in_exec
    assert result.result.dialect == "unified"  # what auto found, by preference
    assert sora.emu.counters["create"] == 1


def test_load_with_dialect_auto_says_what_the_relay_serves(env, emu, monkeypatch):
    monkeypatch.setenv("SORA_DIALECT", "auto")
    magics = load(env, monkeypatch, emu.base_url)
    said = env.read()
    assert "auto dialect" in said and "serves unified, openai" in said
    assert "videos go through unified" in said and emu.counters["create"] == 0
    assert magics.session.client().dialect == "unified"
