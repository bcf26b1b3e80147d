"""What nbval runs of the tutorials need (``python -m pytest --nbval notebooks/``).

nbval starts a notebook's kernel while it sets up the notebook's first cell, before any fixture
runs, and the kernel takes the environment it finds then. So the environment is arranged around
that moment, in a hook, and put back right after the kernel has started:

- ``SORA_NB_DATA_DIR``: a fresh folder for each notebook, so its ``%sora_jobs`` journal holds
  only its own jobs, as when the notebook was executed for the commit. Removed at the end.
- ``SORA_BASE_URL``, ``SORA_API_KEY``, ``SORA_DIALECT``: hidden from the kernel, so the
  tutorials run against the built-in emulator and never spend money on a gateway that happens to
  be configured in the shell. To run them against a real gateway on purpose, also set
  ``SORA_NB_TUTORIALS_GATEWAY=1``, and pass ``--nbval-lax``: a real gateway's ids and answers
  differ from the stored ones.

The sanitize file beside this one is used unless ``--nbval-sanitize-with`` names another.
Videos are written to ``notebooks/videos/<notebook>/`` as in the committed notebooks; with the
emulator's seed 0 their names and contents are the same on every run.
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

_journals: Path | None = None
_started: set[Path] = set()


def pytest_configure(config: pytest.Config) -> None:
    global _journals
    _journals = Path(tempfile.mkdtemp(prefix="sora_nb-tutorials-"))
    option = config.option
    named = (getattr(option, "nbval_sanitize_with", None), getattr(option, "sanitize_with", None))
    if hasattr(option, "nbval_sanitize_with") and named == (None, None):
        option.nbval_sanitize_with = str(SANITIZE)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _journals is not None:
        shutil.rmtree(_journals, ignore_errors=True)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item):
    """Around a notebook's first cell, when nbval starts its kernel: the kernel's environment."""
    notebook = Path(item.path)
    if notebook.suffix != ".ipynb" or notebook in _started or _journals is None:
        return (yield)
    _started.add(notebook)
    saved = dict(os.environ)
    journal = _journals / notebook.stem
    journal.mkdir(parents=True, exist_ok=True)
    os.environ["SORA_NB_DATA_DIR"] = str(journal)
    if not os.environ.get(OPT_IN):
        for name in GATEWAY_VARS:
            os.environ.pop(name, None)
    try:
        return (yield)
    finally:
        os.environ.clear()
        os.environ.update(saved)
