"""The API key never shows: not in notebook outputs, journal rows, log lines, errors or reprs,
and never reaches the video CDN.

Two parts:

1. Tests (run in CI with the rest): every tutorial notebook executed against an emulator that
   requires a canary key; the client's errors, reprs and DEBUG logs on every failure path; the
   CDN's request log; and a self-test of part 2.
2. A pytest plugin that checks a whole test run, whose shared key (``tests.conftest.KEY``) is a
   canary. Enable it by name::

       python -m pytest -p tests.reliability.test_secrets

   It fails the run if a canary appears in any test's captured stdout, stderr or log, in any
   failure report, in any log record of any logger (``sora_nb``, ``httpx`` and ``httpcore`` are
   turned up to DEBUG), in any file under the run's temporary folder (journals, notebooks,
   videos), or if any emulator started in the test process receives an Authorization header on
   its CDN origin or a canary in a URL. docs/security.md says what it does not see.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import sora_nb
from sora_nb.emulator import Fault, serve
from tests.conftest import KEY
from tests.reliability.soak import CANARY_KEY

ROOT = Path(__file__).resolve().parents[2]
CANARIES = (KEY, CANARY_KEY)
WATCHED_LOGGERS = ("sora_nb", "httpx", "httpcore")
REDACTED = "<CANARY>"


def redact(text: str) -> str:
    for canary in CANARIES:
        text = text.replace(canary, REDACTED)
    return text


def leaks(text: str | bytes) -> bool:
    if isinstance(text, bytes):
        return any(c.encode() in text for c in CANARIES)
    return any(c in text for c in CANARIES)


def assert_clean(where: str, *texts: str | bytes) -> None:
    """Fail, showing only redacted text, if a canary is in any of ``texts``.

    (A plain ``assert not leaks(text)`` would have pytest print the text, key and all.)
    """
    for text in texts:
        if leaks(text):
            shown = redact(text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
            pytest.fail(f"the key is in {where}: {shown[:1500]}", pytrace=False)


# =================================================================================================
# The plugin (part 2 above; active only with `-p tests.reliability.test_secrets`)
# =================================================================================================


@dataclass
class Watch:
    """What the plugin saw, and every leak it found (each already redacted)."""

    found: list[str] = field(default_factory=list)
    reports: int = 0
    records: int = 0
    cdn_requests: int = 0
    gateway_requests: int = 0
    emulators: set[int] = field(default_factory=set)
    sections: set[tuple[str, str]] = field(default_factory=set)
    probes: list[str] = field(default_factory=list)  # tests' own Authorization probes of a CDN
    current: str = "(no test)"
    files: int = 0
    basetemp: Path | None = None

    def leak(self, where: str, text: str) -> None:
        line = redact(" ".join(text.split()))
        at = line.find(REDACTED)
        self.found.append(f"{where}: …{line[max(0, at - 80) : at + 40]}…")


WATCH = Watch()


class _LeakHandler(logging.Handler):
    """Sees every record that reaches the root logger and formats it as a log file would."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a broken record is not ours to judge
            return
        WATCH.records += 1
        if leaks(text):
            WATCH.leak(f"log record of {record.name!r}", text)


def _watch_emulators() -> None:
    """Every emulator in this process reports each request it records to the watch."""
    from sora_nb.emulator import server

    original = server.Emulator.record
    if getattr(original, "_canary_watch", False):
        return

    def record(self: Any, kind: str, scope: dict[str, Any]) -> None:
        original(self, kind, scope)
        WATCH.emulators.add(id(self))
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope.get("headers", [])
        }
        target = scope.get("path", "") + "?" + scope.get("query_string", b"").decode("latin-1")
        if kind == "cdn":
            WATCH.cdn_requests += 1
            auth = headers.get("authorization")
            if auth is not None:
                # sora_nb's own requests say so (User-Agent: sora_nb). A test probing the
                # emulator with plain httpx and a made-up header is listed, not failed.
                if headers.get("user-agent", "").startswith("sora_nb") or leaks(auth):
                    WATCH.found.append(
                        f"the CDN received an Authorization header during {WATCH.current}: "
                        f"GET {target}"
                    )
                else:
                    WATCH.probes.append(f"{WATCH.current}: GET {target}")
        else:
            WATCH.gateway_requests += 1
        if leaks(target):
            WATCH.leak(f"a {kind} request URL", target)

    record._canary_watch = True  # type: ignore[attr-defined]
    server.Emulator.record = record  # type: ignore[method-assign]


_HANDLER = pytest.StashKey[logging.Handler]()


def pytest_configure(config: pytest.Config) -> None:
    # The watch is this process's: tests run by xdist workers would be watched by nobody, and
    # the summary would say "no canary key found" of a run it never saw. So the run stays here
    # (xdist's own pytest_configure runs last, and starts no workers once these say so).
    if getattr(config.option, "tx", None):
        config.option.tx, config.option.numprocesses, config.option.dist = [], 0, "no"
    handler = _LeakHandler()
    logging.getLogger().addHandler(handler)
    for name in WATCHED_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    _watch_emulators()
    config.stash[_HANDLER] = handler


def pytest_unconfigure(config: pytest.Config) -> None:
    handler = config.stash.get(_HANDLER, None)
    if handler is not None:
        logging.getLogger().removeHandler(handler)


@pytest.fixture(autouse=True, scope="session")
def _canary_watch_basetemp(tmp_path_factory: pytest.TempPathFactory) -> None:
    WATCH.basetemp = tmp_path_factory.getbasetemp()


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    WATCH.current = nodeid


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    WATCH.reports += 1
    for title, content in report.sections:
        # A later phase's report repeats the sections of the earlier ones: count each once.
        if leaks(content) and (report.nodeid, title) not in WATCH.sections:
            WATCH.sections.add((report.nodeid, title))
            WATCH.leak(f"{report.nodeid} {title}", content)
    if report.failed and leaks(report.longreprtext):
        WATCH.leak(f"{report.nodeid} failure report", report.longreprtext)


def _scan_files(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            WATCH.files += 1
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if leaks(data):
                WATCH.found.append(f"file {path.relative_to(folder)} holds a canary key")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if WATCH.basetemp is not None and WATCH.basetemp.is_dir():
        _scan_files(WATCH.basetemp)
    if WATCH.found and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    w = terminalreporter
    w.section("canary key check (tests.reliability.test_secrets)")
    w.line(
        f"scanned {WATCH.reports} test reports, {WATCH.records} log records, "
        f"{WATCH.cdn_requests} CDN and {WATCH.gateway_requests} gateway requests of "
        f"{len(WATCH.emulators)} emulators, {WATCH.files} files under the run's temp folder"
    )
    for probe in WATCH.probes:
        w.line(
            f"not from sora_nb, so not counted: a test's own Authorization probe of a CDN: {probe}"
        )
    if not WATCH.found:
        w.line("no canary key found anywhere", green=True)
        return
    w.line(f"CANARY KEY LEAKED ({len(WATCH.found)}):", red=True)
    for line in WATCH.found[:50]:
        w.line(f"  {line}", red=True)


# =================================================================================================
# The tests (part 1 above)
# =================================================================================================

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# Prepended to each tutorial (in the executed copy only): every sora_nb, httpx and httpcore log
# record in the kernel goes to a file, at DEBUG.
LOG_CELL = """\
import logging as _logging
_handler = _logging.FileHandler({path!r}, encoding="utf-8")
_handler.setFormatter(_logging.Formatter("%(name)s %(levelname)s %(message)s"))
for _name in {loggers!r}:
    _logging.getLogger(_name).setLevel(_logging.DEBUG)
    _logging.getLogger(_name).addHandler(_handler)
del _logging, _handler, _name"""


@dataclass
class TutorialRun:
    name: str
    folder: Path
    notebook: Any = None
    error: str | None = None  # redacted
    error_leaked: bool = False


async def _execute(path: Path, folder: Path, env: dict[str, str]) -> TutorialRun:
    import nbformat
    from nbclient import NotebookClient

    run = TutorialRun(path.stem, folder)
    nb = nbformat.read(path, as_version=4)
    log_cell = LOG_CELL.format(path=str(folder / "kernel.log"), loggers=WATCHED_LOGGERS)
    nb.cells.insert(0, nbformat.v4.new_code_cell(log_cell))
    client = NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    with open(folder / "kernel.stderr", "wb") as err, open(folder / "kernel.stdout", "wb") as out:
        try:
            await client.async_execute(env=env, stderr=err, stdout=out)
        except Exception as exc:
            run.error_leaked = leaks(str(exc))
            run.error = redact(f"{type(exc).__name__}: {exc}")[:3000]
    run.notebook = nb
    return run


@pytest.fixture(scope="module")
def tutorials(tmp_path_factory) -> Iterator[tuple[Any, dict[str, TutorialRun]]]:
    """Every tutorial, executed at once against one emulator that requires the canary key."""
    base = tmp_path_factory.mktemp("tutorials")
    with serve(job_seconds=0.5, concurrency=16, seed=0, api_key=KEY, render_scale=0.1) as emu:
        env = {k: v for k, v in os.environ.items() if k not in ("SORA_DIALECT", "MY_RELAY_KEY")}
        env.update(SORA_BASE_URL=emu.base_url, SORA_API_KEY=KEY)

        async def all_of_them() -> list[TutorialRun]:
            jobs = []
            for path in NOTEBOOKS:
                folder = base / path.stem
                (folder / "data").mkdir(parents=True)
                jobs.append(
                    _execute(path, folder, {**env, "SORA_NB_DATA_DIR": str(folder / "data")})
                )
            return await asyncio.gather(*jobs)

        with ThreadPoolExecutor(1) as pool:
            runs = pool.submit(asyncio.run, all_of_them()).result()
        yield emu, {r.name: r for r in runs}


def test_there_are_tutorials():
    assert len(NOTEBOOKS) >= 5, NOTEBOOKS


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])
def test_tutorial_with_a_canary_key_shows_it_nowhere(tutorials, name):
    import nbformat

    _emu, runs = tutorials
    run = runs[name]
    assert not run.error_leaked, "the error raised while executing holds the key"
    assert run.error is None, run.error
    assert_clean("the executed notebook", nbformat.writes(run.notebook))
    scanned = []
    for path in sorted(run.folder.rglob("*")):
        if path.is_file():
            scanned.append(path.relative_to(run.folder).as_posix())
            assert_clean(str(path.relative_to(run.folder)), path.read_bytes())
    # The scan had something to look at: the journal, the kernel's DEBUG log, videos.
    assert "data/jobs.sqlite3" in scanned and any(s.endswith(".mp4") for s in scanned)
    log = (run.folder / "kernel.log").read_text()
    assert "HTTP Request:" in log and "sora_nb DEBUG" in log


def test_tutorials_sent_the_key_to_the_gateway_and_never_to_the_cdn(tutorials):
    emu, _runs = tutorials
    with_key = [r for r in emu.requests if r.headers.get("authorization") == f"Bearer {KEY}"]
    assert len(with_key) > 20  # the key was really in use, so a leak had a chance to happen
    assert len(emu.cdn_requests) > 10
    assert [r for r in emu.cdn_requests if "authorization" in r["headers"]] == []


# -- the client, on every failure path -----------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def debug_logs() -> Iterator[_Records]:
    handler = _Records()
    saved = {}
    for name in WATCHED_LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    yield handler
    for name in WATCHED_LOGGERS:
        logging.getLogger(name).removeHandler(handler)
        logging.getLogger(name).setLevel(saved[name])


def _exception_texts(exc: BaseException) -> dict[str, str]:
    """Everything an exception can show: message, repr, attributes, tracebacks with locals.

    Frames of this test file are left out of the locals (they hold the canary on purpose).
    """
    plain = "".join(traceback.format_exception(exc))
    tb = traceback.TracebackException.from_exception(exc, capture_locals=True)
    local_values = []
    seen: set[int] = set()
    todo: list[traceback.TracebackException | None] = [tb]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        for frame in item.stack:
            if frame.filename != __file__ and frame.locals:
                local_values += [f"{frame.name}:{k}={v}" for k, v in frame.locals.items()]
        todo += [item.__cause__, item.__context__]
    attrs = {k: repr(v) for k, v in vars(exc).items()}
    return {
        "str": str(exc),
        "repr": repr(exc),
        "attributes": repr(attrs),
        "traceback": plain,
        "locals": "\n".join(local_values),
    }


def _deep_repr(obj: Any, depth: int = 3, seen: set[int] | None = None) -> Iterator[str]:
    """repr of ``obj`` and of its attributes, a few levels down."""
    from sora_nb._secret import Secret

    seen = set() if seen is None else seen
    if id(obj) in seen or depth < 0:
        return
    seen.add(id(obj))
    yield repr(obj)
    if isinstance(obj, Secret):
        return  # its repr is the contract; its slot holds the key by design
    names = list(getattr(obj, "__dict__", {})) + list(getattr(type(obj), "__slots__", ()))
    for name in names:
        try:
            value = getattr(obj, name)
        except Exception:
            continue
        if not callable(value):
            yield from _deep_repr(value, depth - 1, seen)


def _hostile(message_with_key: str) -> list[Fault]:
    return [Fault(kind="poll", action="status", status=500, message=message_with_key, times=1)]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_client_failures_reprs_and_debug_logs_never_hold_the_key(kind, debug_logs, tmp_path):
    """Every failure path, with a gateway that echoes the key back wherever it can."""
    echoed = f"debug: request authorised with key {KEY}"
    texts: dict[str, str] = {}
    reprs: list[str] = []

    async def scenario(client_cls: Any, emu: Any, other: Any) -> None:
        async def call(label: str, make: Any) -> None:
            try:
                value = make()
                if inspect.isawaitable(value):
                    value = await value
                elif hasattr(value, "__aiter__"):
                    value = [e async for e in value]
                elif hasattr(value, "__next__"):
                    value = list(value)
                reprs.extend(_deep_repr(value))
            except sora_nb.SoraError as exc:
                for part, text in _exception_texts(exc).items():
                    texts[f"{label} ({type(exc).__name__}) {part}"] = text
            else:
                texts[f"{label} did not fail"] = ""

        def open_client(url: str, **kw: Any) -> Any:
            return client_cls(base_url=url, api_key=KEY, poll_interval=0.05, **kw)

        fast = {"retries": 0}
        client = open_client(emu.base_url, **fast)
        reprs.extend(_deep_repr(client))
        reprs.append(str(client))
        # A gateway that wants another key, and echoes the one it got (hostile relays do).
        await call("401 echo", lambda: open_client(other.base_url).create_video("x"))
        # Error answers whose message carries the key, on create, poll and chat.
        emu.add_fault(Fault(kind="create", action="status", status=400, message=echoed, times=1))
        await call("400 echo", lambda: client.create_video("x"))
        emu.add_fault(Fault(kind="create", action="quota", message=echoed, times=1))
        await call("quota echo", lambda: client.create_video("x"))
        for f in _hostile(echoed):
            emu.add_fault(f)
        job = await _maybe(client.create_video("a boat"))
        await call("500 echo", lambda: client.get_job(job.id))
        emu.add_fault(Fault(kind="chat", action="status", status=503, message=echoed, times=1))
        await call("503 echo on chat", lambda: client.chat("hi", model="gpt-4"))
        # Transport failures.
        emu.add_fault(Fault(kind="create", action="reset", times=1))
        await call("create reset", lambda: client.create_video("x"))
        emu.add_fault(Fault(kind="poll", action="slow", delay=1.0, times=1))
        await call(
            "timeout", lambda: open_client(emu.base_url, timeout=0.3, **fast).get_job(job.id)
        )
        emu.add_fault(Fault(kind="poll", action="malformed", times=1))
        await call("malformed", lambda: client.get_job(job.id))
        emu.add_fault(Fault(kind="chat", action="cut_stream", after_chunks=4, times=1))
        await call("cut stream", lambda: client.stream_chat("tell me a story", model="gpt-4"))
        await call("unreachable", lambda: open_client("http://127.0.0.1:9/v1", **fast).get_job("x"))
        # Job outcomes.
        emu.set(job_seconds=2.0)
        await call("poll timeout", lambda: client.generate_video("slow", timeout=0.2))
        emu.set(job_seconds=0.2)
        await call("failed job", lambda: client.generate_video("a boat [fail]"))
        # A job that fails with the key in its reason (relays pass upstream messages through).
        emu.add_fault(Fault(kind="create", action="fail_job", message=echoed, times=1))
        await call("failed job echo", lambda: client.generate_video("a boat"))
        await call("validation", lambda: client.create_video("x", size="enormous"))
        # And what succeeds: jobs, chat events, downloads.
        await call("ok video", lambda: client.generate_video("a kite"))
        await call("ok chat", lambda: client.stream_chat("hello", model="gpt-4"))
        done = await _maybe(client.generate_video("a kite again"))
        await call("ok download", lambda: client.download(done, tmp_path))
        reprs.extend(_deep_repr(client))
        if hasattr(client, "aclose"):
            await client.aclose()
        else:
            client.close()

    with (
        serve(job_seconds=0.2, seed=3, api_key=KEY, render_scale=0.1) as emu,
        serve(job_seconds=0.2, seed=4, api_key="sk-some-other-key-000", render_scale=0.1) as other,
    ):
        client_cls = sora_nb.Client if kind == "sync" else sora_nb.AsyncClient
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, scenario(client_cls, emu, other)).result()
        cdn = emu.cdn_requests

    failed = [label for label in texts if "did not fail" in label]
    assert failed == ["ok video did not fail", "ok chat did not fail", "ok download did not fail"]
    assert len(texts) > 40
    leaked = [f"{label}: {redact(text)[:200]}" for label, text in texts.items() if leaks(text)]
    if leaked:
        pytest.fail("the key is in:\n" + "\n".join(leaked), pytrace=False)
    assert_clean("a repr", *reprs)
    assert debug_logs.lines and any("HTTP Request" in line for line in debug_logs.lines)
    assert_clean("a DEBUG log line", *debug_logs.lines)
    assert cdn and all("authorization" not in r["headers"] for r in cdn)


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def test_the_key_is_not_kept_by_pickling_a_job_or_error():
    with serve(job_seconds=0.1, seed=5, api_key="sk-another-key-111") as other:
        client = sora_nb.Client(base_url=other.base_url, api_key=KEY, retries=0)
        with pytest.raises(sora_nb.AuthenticationError) as info:
            client.create_video("x")
        client.close()
    assert_clean("a pickled error", pickle.dumps(info.value))
    assert_clean("a pickled key", pickle.dumps(client._key))


@pytest.mark.parametrize(
    "url",
    [
        f"https://relay.example/v1?api_key={KEY}",  # some gateways take keys in the query
        f"https://user:{KEY}@relay.example/v1",  # or as URL credentials
    ],
    ids=["query", "userinfo"],
)
def test_a_key_written_into_the_base_url_is_not_shown(url, tmp_path):
    """The key given as api_key, and also (by mistake) inside the base URL."""
    refused: list[str] = []
    try:
        client = sora_nb.Client(base_url=url, api_key=KEY, retries=0)
    except sora_nb.SoraError as exc:
        refused = [str(exc), repr(exc)]
    if refused:  # checked outside the except block: a failure must not chain the error itself
        assert_clean("the error", *refused)
        return
    # Accepted: then neither the client nor what the magics would journal may show it.
    shown = [repr(client), str(client), client.base_url]
    client.close()
    assert_clean("the client's repr or base_url (which the journal records)", *shown)


# -- %sora_jobs never sends the key to another gateway -------------------------------------------


def test_resume_never_sends_the_key_to_the_gateway_a_job_did_not_come_from(tmp_path, monkeypatch):
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    from sora_nb.journal import Journal
    from sora_nb.models import Job

    monkeypatch.setenv("SORA_NB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.chdir(tmp_path)
    with serve(job_seconds=0.1, seed=8, api_key=KEY) as mine, serve(seed=9) as elsewhere:
        Journal().record(elsewhere.base_url, Job("task_elsewhere", "in_progress", "unified"))
        monkeypatch.setenv("SORA_BASE_URL", mine.base_url)
        monkeypatch.setenv("SORA_API_KEY", KEY)
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        shell = InteractiveShell.instance(config=config)
        try:
            assert shell.run_cell("%load_ext sora_nb").success
            mine.reset_counters()  # loading asked the current gateway what it serves (GETs)
            result = shell.run_cell("%sora_jobs --resume task_elsewhere")
            shell.run_line_magic("unload_ext", "sora_nb")
        finally:
            InteractiveShell.clear_instance()
        assert isinstance(result.error_in_exec, UsageError)
        message = str(result.error_in_exec)
        assert elsewhere.base_url in message and "\n" not in message
        assert sum(elsewhere.counters.values()) == 0 and sum(mine.counters.values()) == 0


# -- the plugin, checked on a small run of its own -----------------------------------------------

LEAKY_TESTS = """
import logging

import httpx

from sora_nb.emulator import serve
from tests.conftest import KEY


def test_logs_it():
    logging.getLogger("sora_nb").debug("sending with %s", KEY)


def test_prints_it():
    print("the key is", KEY)


def test_writes_it(tmp_path):
    (tmp_path / "journal.txt").write_text(KEY)


def test_sends_it_to_the_cdn():
    with serve(job_seconds=0.1) as emu:
        auth = {"Authorization": "Bearer x", "User-Agent": "sora_nb"}
        httpx.get(emu.cdn_url + "/cdn/19700101/nothing.mp4", headers=auth)
        probe = {"Authorization": "Bearer made-up"}  # a test's own probe: listed, not failed
        httpx.get(emu.cdn_url + "/cdn/19700101/probe.mp4", headers=probe)


def test_puts_it_in_a_url():
    with serve(job_seconds=0.1) as emu:
        httpx.get(emu.base_url + "/video/query", params={"id": KEY})
"""

CLEAN_TESTS = """
import httpx

from sora_nb.emulator import serve
from tests.conftest import KEY


def test_uses_the_key_properly():
    with serve(job_seconds=0.1, api_key=KEY) as emu:
        answer = httpx.get(emu.base_url + "/video/query", params={"id": "x"},
                           headers={"Authorization": f"Bearer {KEY}"})
        assert answer.status_code == 404
        httpx.get(emu.cdn_url + "/cdn/19700101/nothing.mp4")
"""


def _run_with_plugin(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    test_file = tmp_path / "test_sample.py"
    test_file.write_text(textwrap.dedent(source))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        return _pytest_with_plugin(tmp_path, test_file, env)
    finally:
        # The sample leaks on purpose; its files must not count against the run around it.
        shutil.rmtree(tmp_path / "basetemp", ignore_errors=True)


def _pytest_with_plugin(
    tmp_path: Path, test_file: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.reliability.test_secrets",
            "-p",
            "no:cacheprovider",
            "-q",
            "--basetemp",
            str(tmp_path / "basetemp"),
            "--rootdir",
            str(tmp_path),
            str(test_file),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.timeout(180)
def test_the_suite_plugin_finds_every_kind_of_leak(tmp_path):
    result = _run_with_plugin(tmp_path, LEAKY_TESTS)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "5 passed" in out, out
    assert "CANARY KEY LEAKED" in out, out
    for needle in (
        "test_logs_it Captured log call",
        "test_prints_it Captured stdout call",
        "journal.txt holds a canary key",
        "the CDN received an Authorization header during test_sample.py::test_sends_it_to_the_cdn",
        "a poll request URL",
        "Authorization probe of a CDN: test_sample.py::test_sends_it_to_the_cdn: GET /cdn/19700101/"
        "probe.mp4",
    ):
        assert needle in out, (needle, out)
    assert_clean("the plugin's own report", out)


@pytest.mark.timeout(180)
def test_the_suite_plugin_passes_a_clean_run(tmp_path):
    result = _run_with_plugin(tmp_path, CLEAN_TESTS)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "no canary key found anywhere" in out
    assert "1 CDN and 1 gateway requests of 1 emulators" in out, out
