"""What nbval runs of the tutorials need (``python -m pytest --nbval notebooks/``).

nbval starts a notebook's kernel while it sets up the notebook's first cell, before any fixture
runs, and the kernel takes the environment it finds then. So the environment is arranged around
that moment, in a hook, and put back right after the kernel has started:

- ``SORA_NB_DATA_DIR``: a fresh folder for each notebook, so its ``%sora_jobs`` journal holds
  only its own jobs, as when the notebook was executed for the commit. Removed at the end.
- The kernel's working folder: a fresh, empty folder for each notebook, in place of this one.
  The tutorials write their videos to ``videos/<notebook>/`` relative to it, so a test run
  writes nothing into the checkout, and what a stored output says (a file's name among them)
  never depends on what an earlier run, the README's main job or another machine's encoder left
  in ``notebooks/videos/``: the download keeps a different file under that name and saves the
  new one as ``name-2.mp4``. nbval gives the kernel no other working folder than the
  notebook's (``IPyNbFile.setup`` passes ``cwd=self.fspath.dirname`` to ``RunningKernel``,
  nbval/plugin.py), so the hook hands it another one at that one call.
- ``SORA_BASE_URL``, ``SORA_API_KEY``, ``SORA_DIALECT``: hidden from the kernel, so the
  tutorials run against the built-in emulator and never spend money on a gateway that happens to
  be configured in the shell. To run them against a real gateway on purpose, also set
  ``SORA_NB_TUTORIALS_GATEWAY=1``, and pass ``--nbval-lax``: a real gateway's ids and answers
  differ from the stored ones.

The sanitize file beside this one is used unless ``--nbval-sanitize-with`` names another.
With the emulator's seed 0 the videos' names are the same on every run and every machine; their
bytes are the same from run to run on one machine only (the encoders' SIMD paths differ between
CPUs), which is why no stored output depends on them and no video is committed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# The README's main job writes notebooks/quickstart-run.ipynb (an executed copy): it is the
# user's output, not a tutorial, and the test run must not collect it.
collect_ignore_glob = ["*-run.ipynb"]

GATEWAY_VARS = ("SORA_BASE_URL", "SORA_API_KEY", "SORA_DIALECT")
OPT_IN = "SORA_NB_TUTORIALS_GATEWAY"
SANITIZE = Path(__file__).with_name("sanitize.cfg")

_scratch: Path | None = None
_started: set[Path] = set()


def pytest_configure(config: pytest.Config) -> None:
    global _scratch
    _scratch = Path(tempfile.mkdtemp(prefix="sora_nb-tutorials-"))
    option = config.option
    named = (getattr(option, "nbval_sanitize_with", None), getattr(option, "sanitize_with", None))
    if hasattr(option, "nbval_sanitize_with") and named == (None, None):
        option.nbval_sanitize_with = str(SANITIZE)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _scratch is not None:
        shutil.rmtree(_scratch, ignore_errors=True)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item):
    """Around a notebook's first cell, when nbval starts its kernel: the kernel's environment
    and working folder."""
    notebook = Path(item.path)
    if notebook.suffix != ".ipynb" or notebook in _started or _scratch is None:
        return (yield)
    from nbval import plugin

    _started.add(notebook)
    saved = dict(os.environ)
    journal, workdir = _scratch / notebook.stem / "data", _scratch / notebook.stem / "work"
    journal.mkdir(parents=True)
    workdir.mkdir()
    os.environ["SORA_NB_DATA_DIR"] = str(journal)
    if not os.environ.get(OPT_IN):
        for name in GATEWAY_VARS:
            os.environ.pop(name, None)
    running_kernel = plugin.RunningKernel

    def kernel_in_workdir(kernel_name: str, cwd: str | None = None, **options: object):
        return running_kernel(kernel_name, cwd=str(workdir), **options)

    plugin.RunningKernel = kernel_in_workdir
    try:
        return (yield)
    finally:
        plugin.RunningKernel = running_kernel
        os.environ.clear()
        os.environ.update(saved)
