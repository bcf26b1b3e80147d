"""Where the notebook runs, and so how a saved video can reach the viewer's browser.

A ``<video src="videos/x.mp4">`` in an output only plays when the browser can fetch that path
from the Jupyter server that serves the notebook (its ``/files/`` route, which serves files under
the server's ``root_dir`` and nothing else). That holds for JupyterLab and Notebook 7 with a local
kernel and a file inside the server's root; it fails for a file saved elsewhere, for remote
kernels (the server the browser talks to does not hold the kernel's files), and in VS Code and
Colab, which have no such route. There the video has to travel with the output: over the widget
comm (an ipywidgets ``Video`` holds the bytes; its view plays them from a blob URL) or inlined as
base64 (kept in the .ipynb, 4/3 of the file).

:func:`detect` is pure (facts in, verdict out) so every case is unit-tested; :func:`facts` gathers
the facts of this process once; :func:`choose` picks the display mode for one file.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

# Display modes. ``auto`` is resolved per video by :func:`choose`.
MODES = ("auto", "file", "widget", "embed", "link")

# Above this many bytes ``auto`` never inlines a video as base64: each embedded video stays in
# the .ipynb (4/3 of its size) and large embeds are known to crash Colab's output frame.
EMBED_LIMIT = 20 * 1024 * 1024

# How far up the process tree to look for the Jupyter server that launched this kernel
# (a kernelspec may start the kernel through a wrapper: a shell script, ``conda run``, …).
MAX_ANCESTORS = 8


@dataclass(frozen=True)
class Facts:
    """What a kernel can see about its front end."""

    env: Mapping[str, str] = field(default_factory=dict)
    modules: frozenset[str] = frozenset()
    shell: str = ""  # the IPython shell class's name; "" outside IPython
    ancestors: tuple[int, ...] = ()  # parent pid first
    servers: tuple[Mapping[str, object], ...] = ()  # jpserver-*.json contents on this machine
    cwd: str = ""


@dataclass(frozen=True)
class FrontEnd:
    """A verdict: who shows the outputs, and which folder (if any) the browser can fetch from."""

    name: str  # jupyter | vscode | colab | remote | terminal | headless
    served_root: Path | None = None  # files under it have a URL relative to the notebook
    notebook_dir: Path | None = None  # the folder relative ``src`` values are resolved against
    widgets: bool = True  # whether a live widget can be shown

    def serves(self, path: Path) -> bool:
        if self.served_root is None:
            return False
        return _inside(path, self.served_root)


def detect(facts: Facts) -> FrontEnd:
    """The front end these facts point to.

    - Colab: its kernel imports ``google.colab`` and its runtime sets ``COLAB_RELEASE_TAG``
      (the checks tqdm's and transformers' notebook detection use).
    - VS Code: the Jupyter extension starts kernels with ``VSCODE_PID`` in their environment
      (tqdm.autonotebook, transformers' ``is_in_notebook``).
    - A remote kernel behind jupyter_server's gateway client (Kernel/Enterprise Gateway) is
      started with ``KERNEL_WORKING_DIR``, the notebook's folder *on the server's machine*
      (jupyter_server ``gateway/managers.py``): its own files are elsewhere.
    - JupyterLab / Notebook 7 with a local kernel: a running Jupyter server wrote
      ``jpserver-<pid>.json`` (with ``root_dir`` and ``pid``) in the runtime folder, and that
      pid is one of the kernel's ancestors. It sets ``JPY_SESSION_NAME`` to the notebook's path
      (jupyter_server ``sessionmanager.get_kernel_env``).
    - Terminal IPython: the shell is not a kernel's.
    - Anything else is ``headless``: a kernel run by nbclient, nbconvert, papermill or nbval,
      whose saved notebook is opened later beside its files, or a front end we cannot name.
    """
    env = facts.env
    if "google.colab" in facts.modules or "COLAB_RELEASE_TAG" in env:
        return FrontEnd("colab")
    if facts.shell and facts.shell != "ZMQInteractiveShell":
        return FrontEnd("terminal", widgets=False)
    if env.get("KERNEL_WORKING_DIR"):
        return FrontEnd("remote")
    notebook = env.get("JPY_SESSION_NAME")
    notebook_dir = Path(notebook).parent if notebook and os.path.isabs(notebook) else None
    for server in facts.servers:
        if server.get("pid") in facts.ancestors and isinstance(server.get("root_dir"), str):
            root = Path(str(server["root_dir"]))
            return FrontEnd(
                "jupyter", served_root=root, notebook_dir=notebook_dir or Path(facts.cwd or ".")
            )
    # After the server check: a JupyterLab started from VS Code's terminal inherits VSCODE_PID.
    if "VSCODE_PID" in env:
        return FrontEnd("vscode")
    if not facts.shell:
        return FrontEnd("terminal", widgets=False)
    # No server of ours launched this kernel: nbclient and friends (the notebook is saved and
    # opened later, usually beside its videos), or a front end that does not say. A relative
    # ``src`` under the notebook's folder is what such a saved notebook can still play.
    folder = notebook_dir or Path(facts.cwd or ".")
    return FrontEnd("headless", served_root=folder, notebook_dir=folder)


def choose(
    show: str,
    front: FrontEnd,
    path: Path | None,
    size: int | None,
    *,
    widgets_available: bool = True,
    embed_limit: int = EMBED_LIMIT,
) -> str:
    """The mode one video is shown in: ``file``, ``widget``, ``embed`` or ``link``.

    A mode the user asked for is kept, except what cannot work: no local file → ``link``;
    ``widget`` without ipywidgets → ``embed``. ``auto``: a file the browser can fetch → ``file``
    (the notebook stays small); else Colab → ``embed`` up to ``embed_limit``; else a live
    widget where one can show, else ``embed`` up to the limit, else ``file`` (its path).
    """
    if show not in MODES:
        raise ValueError(f"show must be one of {', '.join(MODES)}, not {show!r}")
    if path is None or show == "link":
        return "link"
    can_widget = widgets_available and front.widgets
    if show == "widget":
        return "widget" if widgets_available else "embed"
    if show != "auto":
        return show
    if front.name == "terminal":
        return "file"
    if front.serves(path):
        return "file"
    small = size is not None and size <= embed_limit
    if front.name == "colab" and small:
        return "embed"
    if can_widget and front.name != "headless":
        return "widget"
    if small:
        return "embed"
    return "widget" if can_widget else "file"


def relative_src(path: Path, front: FrontEnd, base: Path | None = None) -> str | None:
    """``path`` relative to the notebook's folder, if the front end serves it; else None."""
    folder = front.notebook_dir or base or Path.cwd()
    if not front.serves(path):
        return None
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(folder).resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return None


def _inside(path: Path, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
    except (ValueError, OSError):
        return False
    return True


# -- the facts of this process -------------------------------------------------------------------


def facts() -> Facts:
    """This process's facts (the servers and ancestors are read once; see :func:`current`)."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    return Facts(
        env=dict(os.environ),
        modules=frozenset(m for m in ("google.colab",) if m in sys.modules),
        shell=type(shell).__name__ if shell is not None else "",
        ancestors=tuple(_ancestors()),
        servers=tuple(_servers()),
        cwd=os.getcwd(),
    )


@lru_cache(maxsize=1)
def current() -> FrontEnd:
    """This kernel's front end, detected once (it does not change while the kernel lives)."""
    return detect(facts())


def _ancestors() -> Iterable[int]:
    """Parent, grandparent, … (Linux reads /proc; elsewhere only the parent is known)."""
    ppid = os.getppid()
    yield ppid
    for _ in range(MAX_ANCESTORS - 1):
        try:
            stat = Path(f"/proc/{ppid}/stat").read_text()
        except OSError:
            return
        # "pid (comm) state ppid …": comm may hold spaces and parentheses; split after the last.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) < 2 or not fields[1].isdigit() or int(fields[1]) <= 1:
            return
        ppid = int(fields[1])
        yield ppid


def _servers() -> Iterable[Mapping[str, object]]:
    """The ``jpserver-*.json`` files running Jupyter servers keep in the runtime folder
    (jupyter_server ``ServerApp.server_info``: ``root_dir``, ``pid``, ``url``, …)."""
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        folder = Path(jupyter_runtime_dir())
        files = sorted(folder.glob("jpserver-*.json"))
    except (ImportError, OSError):
        return
    for file in files:
        try:
            info = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(info, dict):
            # Only what detection needs: the file also holds the server's token.
            yield {"pid": info.get("pid"), "root_dir": info.get("root_dir")}
