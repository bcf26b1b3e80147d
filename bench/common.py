"""What every benchmark shares: medians, alternating runs, the machine's description, fresh
subprocesses, an emulator in its own process, and a real kernel watched like a front end."""

from __future__ import annotations

import json
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "sora_nb",
    "openai",
    "httpx",
    "httpcore",
    "httpx-sse",
    "ipython",
    "ipykernel",
    "ipywidgets",
    "jupyter_client",
    "nbclient",
    "pyzmq",
    "uvicorn",
    "starlette",
    "h11",
)
SORA_ENV = ("SORA_BASE_URL", "SORA_API_KEY", "SORA_DIALECT")


# --- numbers ------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation; NaN for no values."""
    data = sorted(values)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def alternate(sides: dict[str, Callable[[int], Any]], rounds: int) -> dict[str, list[Any]]:
    """Run each side once per round, the order reversed every other round (A B, B A, A B, …),
    so neither side always runs first, on a warmer cache or a calmer machine."""
    names = list(sides)
    out: dict[str, list[Any]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            out[name].append(sides[name](r))
    return out


def mib(n: float) -> float:
    return n / (1 << 20)


# --- the machine ----------------------------------------------------------------------------------


def _cpu_model() -> str:
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    with suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / (1 << 20), 1)
    return None


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    curl = shutil.which("curl")
    curl_version = None
    if curl:
        with suppress(OSError, subprocess.SubprocessError):
            first = subprocess.run(
                [curl, "--version"], capture_output=True, text=True, timeout=10
            ).stdout
            curl_version = first.split()[1] if first else None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "packages": versions,
        "curl": curl_version,
        "load_average": load_average(),
    }


# --- processes ----------------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any SORA_* gateway settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in SORA_ENV}
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    env.update(extra)
    return env


def run_python(
    code: str,
    *,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    args: Sequence[str] = (),
    timeout: float = 600,
) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; its last stdout line is a JSON object, returned."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env if env is not None else clean_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"subprocess failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(
            f"no JSON from subprocess:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    return json.loads(lines[-1])


_EMULATOR = """
import json, sys
from sora_nb.emulator import serve
emu = serve(**json.loads(sys.argv[1]))
print(json.dumps({"base_url": emu.base_url, "cdn_url": emu.cdn_url}), flush=True)
sys.stdin.read()  # until the parent closes our stdin
emu.stop()
"""


@contextmanager
def emulator_process(**knobs: Any) -> Iterator[dict[str, str]]:
    """The emulator in a process of its own, so the benchmark's own work does not slow it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _EMULATOR, json.dumps(knobs)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=clean_env(),
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the emulator process did not start")
        yield json.loads(line)
    finally:
        assert proc.stdin is not None
        with suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- a kernel, watched like a front end -----------------------------------------------------------

DISPLAY_TYPES = ("display_data", "update_display_data", "execute_result")


@dataclass
class Execution:
    """What one cell sent over iopub, each message with the time (monotonic) it was received."""

    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0
    reply: dict[str, Any] | None = None

    def of(self, *types: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, m) for t, m in self.messages if m["msg_type"] in types]

    @property
    def stdout(self) -> str:
        return "".join(m["content"]["text"] for _, m in self.of("stream"))

    @property
    def errors(self) -> list[str]:
        return [f"{m['content']['ename']}: {m['content']['evalue']}" for _, m in self.of("error")]

    def display_bytes(self) -> int:
        """Bytes of display content (every value of every bundle) sent to the front end."""
        return sum(
            len(str(v).encode())
            for _, m in self.of(*DISPLAY_TYPES)
            for v in m["content"]["data"].values()
        )

    def last_json(self) -> dict[str, Any]:
        lines = [line for line in self.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"no JSON printed by the cell; errors: {self.errors}")
        return json.loads(lines[-1])


class KernelSession:
    def __init__(self, km: Any) -> None:
        self.km = km
        self.kc = km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def execute(self, code: str, *, timeout: float = 300.0) -> Execution:
        """Run ``code`` and collect its iopub messages until the kernel is idle again."""
        run = Execution(started=time.monotonic())
        msg_id = self.kc.execute(code)
        deadline = run.started + timeout
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no idle after {timeout}s running {code[:60]!r}")
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                continue
            received = time.monotonic()
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                run.ended = received
                break
            run.messages.append((received, msg))
        run.reply = self.kc.get_shell_msg(timeout=60)
        if run.reply["content"]["status"] != "ok":
            raise RuntimeError(f"cell failed: {run.errors or run.reply['content']}")
        return run


@contextmanager
def kernel(cwd: str | os.PathLike[str], env: dict[str, str]) -> Iterator[KernelSession]:
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(cwd), env=env)
    session = None
    try:
        session = KernelSession(km)
        yield session
    finally:
        if session is not None:
            session.kc.stop_channels()
        km.shutdown_kernel(now=True)


# --- formatting ---------------------------------------------------------------------------------


def fmt_seconds(s: float) -> str:
    if s != s:  # NaN
        return "n/a"
    if abs(s) < 0.001:
        return f"{s * 1e6:.0f} µs"
    if abs(s) < 0.1:
        return f"{s * 1000:.1f} ms"
    if s < 10:
        return f"{s:.2f} s"
    return f"{s:.1f} s"


def fmt_bytes(n: float) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):.2f} GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f} KiB"
    return f"{int(n)} B"


def row(measure: str, sora: str, comparison: str, ratio_value: float | None, **extra: Any) -> dict:
    """One line of a figures table: sora_nb's figure, the comparison's, sora_nb / comparison."""
    return {
        "measure": measure,
        "sora_nb": sora,
        "comparison": comparison,
        "ratio": None if ratio_value is None else round(ratio_value, 3),
        **extra,
    }


def goal(text: str, value: str, met: bool) -> dict[str, Any]:
    return {"goal": text, "value": value, "met": bool(met)}
