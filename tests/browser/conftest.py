"""Real-browser fixtures: JupyterLab on loopback, driven by Debian's Chromium through Playwright.

- ``lab`` (module): a JupyterLab server on a free loopback port, its root, settings, workspaces
  and runtime folders in a temporary directory, kernels started with the environment that the
  ``lab_env`` fixture gives (override it in a test module). Stopped, with its kernels, afterwards.
- ``browser`` (session) / ``page`` (function): headless Chromium (the system build, never a
  downloaded one). ``page_log`` holds the page's console messages, page errors and dialogs; when
  a test fails, a full-page screenshot, the console log, the page's HTML and the server's log are
  saved under ``$SORA_NB_TEST_ARTIFACTS/<test name>/`` (default: ``sora_nb-test-artifacts`` in
  the system's temporary folder), never in the checkout.
- Helpers: :func:`write_notebook`, :func:`run_cell`, :func:`run_all`, :func:`wait_cell_done`,
  :func:`cell_state`, :func:`wait_for_video`.

Missing Playwright, Chromium or JupyterLab makes the tests fail with a message saying what to
install: CI installs them, so a skip would only hide a broken setup.

Pitfalls these helpers deal with:
- the kernel readiness race: Lab's indicator says idle while the kernel is still starting, and a
  run request sent then is dropped silently, so helpers wait for the kernel's name in the toolbar
  and a connected, idle kernel, then check that the prompt turned to ``[*]``/``[n]`` (and send
  the request again if it did not);
- Lab's news/update toast covers outputs: hidden through the notification settings file;
- Lab renders only the visible cells by default: windowing is turned off, so every output is in
  the DOM;
- a loaded video can look like a white box in a screenshot: :func:`wait_for_video` asserts on the
  element itself (ready state, size, duration, decoded frames while it plays).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

# Screenshots and logs of failed browser tests (and the panel's picture for the README), outside
# the checkout: the test run writes nothing into it. Set the variable to keep them elsewhere.
ARTIFACTS_ENV = "SORA_NB_TEST_ARTIFACTS"
ARTIFACTS = Path(
    os.environ.get(ARTIFACTS_ENV) or Path(tempfile.gettempdir()) / "sora_nb-test-artifacts"
)

# Set to use another Chromium binary than the system one.
CHROMIUM_ENV = "SORA_NB_CHROMIUM"
CHROMIUM_DEFAULT = "/usr/bin/chromium"
# Without the networking flags Chromium keeps trying to reach Google's services.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Videos have sound: play them unmuted without a click, as a user's click would.
    "--autoplay-policy=no-user-gesture-required",
)
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

SERVER_START_TIMEOUT = 60.0  # seconds
KERNEL_READY_TIMEOUT = 60_000  # milliseconds, as Playwright counts
RUN_ACK_TIMEOUT = 5_000  # a run request not seen by then is sent again

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
_LOG = pytest.StashKey["PageLog"]()


# -- outcome of each phase, for the artifacts ----------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _failed(item: pytest.Item) -> bool:
    reports = item.stash.get(_REPORTS, {})
    return any(r.failed for r in reports.values())


# -- JupyterLab ----------------------------------------------------------------------------------


def _require_jupyterlab() -> None:
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        pytest.fail(
            "JupyterLab is not installed, so the browser tests cannot run: "
            "pip install 'jupyterlab>=4'",
            pytrace=False,
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    """A running JupyterLab server."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    env: Mapping[str, str] = field(repr=False)
    app: str = "lab"  # "lab" (JupyterLab 4) or "notebook" (Notebook 7)

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def open(self, page: Any, name: str, *, timeout: float = KERNEL_READY_TIMEOUT) -> Any:
        """Open ``root/name`` in Lab and wait until its kernel can take cells; returns ``page``."""
        # ?reset: a fresh workspace, so notebooks of earlier tests are not reopened (with kernels).
        if self.app == "notebook":
            page.goto(f"{self.url}/notebooks/{quote(name)}?token={self.token}")
        else:
            page.goto(f"{self.url}/lab/tree/{quote(name)}?reset&token={self.token}")
        page.wait_for_selector(
            ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Notebook-cell", timeout=timeout
        )
        page.wait_for_function(
            "name => { const p = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
            " return !!p && !!p.context && p.context.path === name; }",
            arg=name,
            timeout=timeout,
        )
        wait_for_kernel(page, timeout=timeout)
        return page

    def stop_kernels(self) -> None:
        """Shut down every session and kernel (between tests: one kernel at a time)."""
        for session in self.api("GET", "/api/sessions"):
            with contextlib.suppress(urllib.error.HTTPError):
                self.api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.api("GET", "/api/kernels"):
            with contextlib.suppress(urllib.error.HTTPError):
                self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def log_tail(self, lines: int = 80) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Shut the server down (it shuts down its kernels), then make sure nothing is left."""
        descendants = _descendants(self.process.pid)
        if self.process.poll() is None:
            with contextlib.suppress(Exception):
                self.api("POST", "/api/shutdown", timeout=5)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=5)
        # Kernels run in sessions of their own: end any that outlived the server, by pid.
        for proc in descendants:
            with contextlib.suppress(Exception):
                if proc.is_running():
                    proc.kill()


def _descendants(pid: int) -> list[Any]:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with ipykernel
        return []
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _write_settings(settings: Path) -> None:
    files = {
        # The news / update toast would cover the first cell's output.
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        # Keep every cell (and its output) in the DOM.
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }
    for name, value in files.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


def start_lab(base: Path, env_changes: Mapping[str, str | None] = (), app: str = "lab") -> Lab:
    """Start JupyterLab (or Notebook 7, ``app="notebook"``) in ``base`` (root folder
    ``base/root``) with the kernel environment ``os.environ`` changed by ``env_changes`` (a
    ``None`` value removes the variable)."""
    _require_jupyterlab()
    root = base / "root"
    home = base / "jupyter"
    for folder in (root, home / "settings", home / "workspaces", home / "runtime", home / "config"):
        folder.mkdir(parents=True, exist_ok=True)
    _write_settings(home / "settings")
    env = dict(os.environ)
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        IPYTHONDIR=str(home / "ipython"),
        PYTHONUNBUFFERED="1",
    )
    for key, value in dict(env_changes).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    token = secrets.token_hex(16)
    log_path = base / "server.log"
    last_error = ""
    for _attempt in range(3):
        port = _free_port()
        command = [
            sys.executable,
            "-m",
            "jupyterlab" if app == "lab" else "notebook",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--port-retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.allow_root=True",
        ]
        if app == "lab":
            command += ["--LabApp.news_url=None", "--LabApp.expose_app_in_browser=True"]
        else:
            command += ["--JupyterNotebookApp.expose_app_in_browser=True"]
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        lab = Lab(f"http://127.0.0.1:{port}", token, root, process, log_path, env, app)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"{lab.url}/api/status?token={token}", timeout=2
                ) as response:
                    if response.status == 200:
                        return lab
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        last_error = lab.log_tail()
        lab.stop()
        if "already in use" not in last_error:
            break
    pytest.fail(f"JupyterLab did not start; its log ends with:\n{last_error}", pytrace=False)


@pytest.fixture(scope="module")
def lab_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """Environment changes for the server and its kernels (``None`` removes a variable).

    Default: no gateway configured (so ``%load_ext sora_nb`` starts the built-in emulator) and
    the journal in a temporary folder. Override in a test module to choose others.
    """
    return {
        "SORA_NB_DATA_DIR": str(tmp_path_factory.mktemp("sora-data")),
        "SORA_BASE_URL": None,
        "SORA_API_KEY": None,
        "SORA_DIALECT": None,
    }


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, lab_env: dict[str, str | None]) -> Iterator[Lab]:
    server = start_lab(tmp_path_factory.mktemp("lab"), lab_env)
    try:
        yield server
    finally:
        server.stop()


# -- Chromium through Playwright -----------------------------------------------------------------


def chromium_executable() -> str:
    path = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or CHROMIUM_DEFAULT
    if not Path(path).exists():
        pytest.fail(
            f"Chromium not found (looked for {path}): install Debian's build "
            f"(apt-get install -y chromium) or set {CHROMIUM_ENV} to a Chromium binary. "
            "Do not use `playwright install`.",
            pytrace=False,
        )
    return path


# Module scope: Playwright's sync API keeps an event loop marked running in the main thread while
# it is started, which would break later (non-browser) tests that run their own loops.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "Playwright for Python is not installed, so the browser tests cannot run: "
            "pip install playwright (its bundled driver is enough; the browser is the system "
            "Chromium)",
            pytrace=False,
        )
    executable = chromium_executable()
    playwright = sync_playwright().start()
    try:
        try:
            chromium = playwright.chromium.launch(
                executable_path=executable, headless=True, args=list(CHROMIUM_FLAGS)
            )
        except Exception as exc:
            pytest.fail(f"Chromium ({executable}) did not start: {exc}", pytrace=False)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@dataclass
class PageLog:
    """What a page said: console messages, uncaught errors, and dialogs (all dismissed)."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    start: float = field(default_factory=time.monotonic)

    def _stamp(self) -> str:
        return f"{time.monotonic() - self.start:7.2f}s"

    def on_console(self, message: Any) -> None:
        self.console.append(f"{self._stamp()} [{message.type}] {message.text}")

    def on_error(self, error: Any) -> None:
        self.errors.append(f"{self._stamp()} {error}")

    def on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{self._stamp()} {dialog.type}: {dialog.message}")
        with contextlib.suppress(Exception):
            dialog.dismiss()

    def text(self) -> str:
        parts = ["# console", *self.console, "", "# page errors", *self.errors]
        parts += ["", "# dialogs", *self.dialogs]
        return "\n".join(parts) + "\n"


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    log = PageLog()
    page.on("console", log.on_console)
    page.on("pageerror", log.on_error)
    page.on("dialog", log.on_dialog)
    request.node.stash[_LOG] = log
    try:
        yield page
    finally:
        if _failed(request.node):
            _save_artifacts(request, page, log)
        context.close()


@pytest.fixture
def page_log(page: Any, request: pytest.FixtureRequest) -> PageLog:
    return request.node.stash[_LOG]


def _save_artifacts(request: pytest.FixtureRequest, page: Any, log: PageLog) -> None:
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(Exception):
        page.screenshot(path=str(folder / "screenshot.png"), full_page=True, timeout=10_000)
    with contextlib.suppress(Exception):
        (folder / "page.html").write_text(page.content())
    (folder / "console.log").write_text(log.text())
    if "lab" in request.fixturenames:
        with contextlib.suppress(Exception):
            lab = request.getfixturevalue("lab")
            (folder / "server.log").write_text(lab.log_tail(400) + "\n")


# -- notebooks -----------------------------------------------------------------------------------


def write_notebook(root: Path, name: str, cells: Sequence[str | Mapping[str, Any]]) -> Path:
    """Write an nbformat v4 notebook with a python3 kernelspec (so Lab asks for no kernel).

    Each cell is source code, or a mapping such as ``{"cell_type": "markdown", "source": …}``.
    """
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for cell in cells:
        if isinstance(cell, str):
            nb.cells.append(nbformat.v4.new_code_cell(cell))
        elif cell.get("cell_type") == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(cell["source"]))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(cell["source"]))
    nbformat.validate(nb)
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


# The notebook panel that has focus, through the app object Lab exposes to the page.
_PANEL_JS = """
function soraPanel() {
  const app = window.jupyterapp;
  if (!app) return null;
  const current = app.shell.currentWidget;
  if (current && current.sessionContext && current.content) return current;
  for (const w of app.shell.widgets('main')) {
    if (w.sessionContext && w.content) return w;
  }
  return null;
}
"""

_KERNEL_STATE_JS = (
    "() => {"
    + _PANEL_JS
    + """
  const name = document.querySelector('.jp-NotebookPanel .jp-KernelName, .jp-KernelName');
  const label = name ? name.textContent.trim() : '';
  if (!label || label === 'No Kernel') return 'toolbar: ' + (label || 'empty');
  const panel = soraPanel();
  if (!panel) return 'no notebook panel';
  const session = panel.sessionContext.session;
  const kernel = session && session.kernel;
  if (!kernel) return 'no kernel';
  if (kernel.connectionStatus !== 'connected') return 'connection: ' + kernel.connectionStatus;
  if (kernel.status !== 'idle') return 'kernel: ' + kernel.status;
  return 'ready';
}"""
)


def kernel_state(page: Any) -> str:
    return page.evaluate(_KERNEL_STATE_JS)


def wait_for_kernel(page: Any, *, timeout: float = KERNEL_READY_TIMEOUT) -> None:
    """Wait until the toolbar names the kernel and the kernel is connected and idle."""
    deadline = time.monotonic() + timeout / 1000
    state = ""
    while time.monotonic() < deadline:
        state = kernel_state(page)
        if state == "ready":
            return
        page.wait_for_timeout(100)
    raise AssertionError(
        f"the notebook's kernel was not ready after {timeout / 1000:.0f} s: {state}"
    )


_RUN_JS = (
    "([command, index]) => {"
    + _PANEL_JS
    + """
  const panel = soraPanel();
  const notebook = panel.content;
  if (index !== null) {
    notebook.activeCellIndex = index;
    notebook.deselectAll();
  }
  panel.activate();
  // Not awaited: the command's promise ends only when the cells have run.
  void window.jupyterapp.commands.execute(command);
  return null;
}"""
)

_PROMPTS_JS = """() => Array.from(
  document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Notebook-cell')
).map(c => {
  const p = c.querySelector('.jp-InputPrompt');
  return c.classList.contains('jp-CodeCell') && p ? p.textContent.trim() : null;
})"""


def prompts(page: Any) -> list[str | None]:
    """Each cell's input prompt (``[ ]:``, ``[*]:``, ``[3]:``); None for non-code cells."""
    return page.evaluate(_PROMPTS_JS)


def _acknowledged(before: str | None, now: str | None) -> bool:
    return now is not None and now != before and re.fullmatch(r"\[(\*|\d+)\]:?", now) is not None


def _run(page: Any, command: str, index: int | None, indices: Sequence[int]) -> None:
    for attempt in range(3):
        wait_for_kernel(page)
        before = prompts(page)
        page.evaluate(_RUN_JS, [command, index])
        deadline = time.monotonic() + RUN_ACK_TIMEOUT / 1000
        while time.monotonic() < deadline:
            now = prompts(page)
            if any(_acknowledged(before[i], now[i]) for i in indices):
                return
            page.wait_for_timeout(50)
        # The request was dropped (the kernel readiness race): nothing ran, so ask again.
        if attempt == 2:
            raise AssertionError(
                f"{command} did not start: prompts stayed {prompts(page)} "
                f"(kernel: {kernel_state(page)})"
            )


def run_cell(page: Any, index: int) -> None:
    """Run cell ``index`` once the kernel is idle; returns as soon as its prompt shows ``[*]``
    or a new ``[n]`` (use :func:`wait_cell_done` to wait for the end)."""
    _run(page, "notebook:run-cell", index, [index])


def run_all(page: Any) -> None:
    """Run all cells (returns once a code cell's prompt shows ``[*]`` or a new ``[n]``)."""
    indices = [i for i, p in enumerate(prompts(page)) if p is not None]
    _run(page, "notebook:run-all-cells", None, indices)


def cell(page: Any, index: int) -> Any:
    """The locator of cell ``index`` of the open notebook."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Notebook-cell").nth(
        index
    )


_CELL_STATE_JS = """(c) => {
  const p = c.querySelector('.jp-InputPrompt');
  const out = c.querySelector('.jp-OutputArea');
  const progress = Array.from(c.querySelectorAll('.jp-OutputArea progress')).map(e => e.value);
  const bars = Array.from(c.querySelectorAll('.jp-OutputArea .progress .progress-bar'))
    .map(e => e.style.width || e.getAttribute('aria-valuenow'));
  return {
    prompt: p ? p.textContent.trim() : null,
    text: out ? out.innerText : '',
    html: out ? out.innerHTML : '',
    progress: progress.concat(bars),
  };
}"""


def cell_state(page: Any, index: int) -> dict[str, Any]:
    """One look at a cell: its prompt, output text and HTML, progress values shown."""
    return cell(page, index).evaluate(_CELL_STATE_JS)


def is_done(prompt: str | None) -> bool:
    return prompt is not None and re.fullmatch(r"\[\d+\]:?", prompt) is not None


def wait_cell_done(page: Any, index: int, *, timeout: float = 60_000) -> dict[str, Any]:
    """Wait until cell ``index`` has finished (prompt ``[n]``); returns :func:`cell_state`."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        state = cell_state(page, index)
        if is_done(state["prompt"]):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(
                f"cell {index} still running after {timeout / 1000:.0f} s: "
                f"prompt {state['prompt']!r}, output {state['text'][:500]!r}"
            )
        page.wait_for_timeout(100)


_VIDEO_JS = """async (v, opts) => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const frames = () => v.getVideoPlaybackQuality().totalVideoFrames;
  const t0 = performance.now();
  while (v.readyState < 2 && !v.error && performance.now() - t0 < opts.loadMs) await sleep(50);
  const readyStateBeforePlay = v.readyState;
  // As the page showed it: a muted player would hide the sound.
  const mutedAsShown = v.muted || v.hasAttribute('muted');
  const autoplay = v.autoplay;
  v.muted = false;
  v.volume = 1;
  let playError = null;
  try { await v.play(); } catch (e) { playError = String(e); }
  const framesBefore = frames();
  const timeBefore = v.currentTime;
  await sleep(opts.playMs);
  const result = {
    src: v.getAttribute('src'),
    currentSrc: v.currentSrc,
    readyStateBeforePlay,
    readyState: v.readyState,
    networkState: v.networkState,
    duration: v.duration,
    videoWidth: v.videoWidth,
    videoHeight: v.videoHeight,
    error: v.error ? (v.error.code + ': ' + v.error.message) : null,
    playError,
    paused: v.paused,
    framesBefore,
    framesAfter: frames(),
    timeBefore,
    timeAfter: v.currentTime,
    mutedAsShown,
    autoplay,
    audioBytes: v.webkitAudioDecodedByteCount,
  };
  v.pause();
  return result;
}"""


def wait_for_video(
    page: Any,
    index: int,
    *,
    timeout: float = 30_000,
    load_ms: float = 10_000,
    play_ms: float = 1_000,
    nth: int = 0,
) -> dict[str, Any]:
    """The ``nth`` ``<video>`` in cell ``index``'s output: see :func:`play_video`."""
    video = cell(page, index).locator(".jp-OutputArea video").nth(nth)
    return play_video(video, timeout=timeout, load_ms=load_ms, play_ms=play_ms)


def play_video(
    video: Any, *, timeout: float = 30_000, load_ms: float = 10_000, play_ms: float = 1_000
) -> dict[str, Any]:
    """Wait for the ``<video>`` ``video`` (a locator), let it load, note whether it is shown
    muted, play it unmuted for ``play_ms`` and return its properties as the page sees them
    (``readyState``, ``duration``, ``videoWidth``, ``videoHeight``, ``framesBefore`` /
    ``framesAfter`` from ``getVideoPlaybackQuality().totalVideoFrames``, ``mutedAsShown``,
    ``autoplay``, ``audioBytes`` (``webkitAudioDecodedByteCount``), ``error``, ``playError``,
    ``src``, ``currentSrc``, …)."""
    video.wait_for(state="attached", timeout=timeout)
    video.scroll_into_view_if_needed(timeout=timeout)
    return video.evaluate(_VIDEO_JS, {"loadMs": load_ms, "playMs": play_ms})


def check_plays_with_sound(
    video: Mapping[str, Any], *, duration: float, portrait: bool, source: str | None = None
) -> None:
    """What a user must get from a finished video: it loads, has the asked duration and
    orientation, plays (frames decoded), is not muted nor started on its own, and its sound
    decodes. ``source``: the scheme its data came by (``http`` for a served file, ``blob`` for
    a widget's bytes, ``data`` for an embed)."""
    assert video["error"] is None and video["playError"] is None, video
    assert video["readyState"] >= 2, video
    assert abs(video["duration"] - duration) <= 0.2, video
    assert video["videoWidth"] > 0 and video["videoHeight"] > 0, video
    tall = video["videoHeight"] > video["videoWidth"]
    assert tall == portrait, video
    assert video["framesAfter"] > video["framesBefore"], video
    assert not video["mutedAsShown"] and not video["autoplay"], video
    assert video["audioBytes"] > 0, video
    if source is not None:
        assert video["currentSrc"].split(":", 1)[0] == source, video
