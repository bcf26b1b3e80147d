"""Starting and stopping emulators: threads, ports, files, the command line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from sora_nb.emulator import serve
from tests.conftest import interruptible

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def _refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


def _emulator_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("sora-emu")]


def test_several_emulators_at_once_then_nothing_left() -> None:
    before = set(_emulator_threads())
    emus = [serve(job_seconds=0.05, seed=i) for i in range(3)]
    try:
        ports = {_port(e.base_url) for e in emus} | {_port(e.cdn_url) for e in emus}
        assert len(ports) == 6
        for e in emus:
            assert e.base_url.startswith("http://127.0.0.1:") and e.base_url.endswith("/v1")
            assert httpx.get(f"{e.base_url}/videos").json()["object"] == "list"
            assert httpx.get(f"{e.cdn_url}/cdn/x/y.mp4").status_code == 404
        dirs = [e.store.dir for e in emus]
        assert all(d.is_dir() for d in dirs)
    finally:
        for e in emus:
            e.stop()
    assert all(_refused(p) for p in ports)
    assert not any(d.exists() for d in dirs)
    assert set(_emulator_threads()) <= before
    emus[0].stop()  # idempotent


def test_stop_does_not_wait_for_an_open_chat_stream() -> None:
    emu = serve(job_seconds=30, seed=1)
    body = {"model": "sora-2", "messages": [{"role": "user", "content": "long"}], "stream": True}
    got_first = threading.Event()
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            with httpx.stream("POST", f"{emu.base_url}/chat/completions", json=body) as r:
                for _ in r.iter_lines():
                    got_first.set()
        except httpx.HTTPError as exc:  # the stream ends without [DONE]: fine
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    assert got_first.wait(5)
    t0 = time.monotonic()
    emu.stop()
    assert time.monotonic() - t0 < 3
    thread.join(5)
    assert not thread.is_alive()
    # Cut short, never a false "finished" ([DONE] on a job that did not complete).
    assert len(errors) == 1 and isinstance(errors[0], httpx.RemoteProtocolError)


def test_explicit_ports_and_bad_options() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    with serve(port=free) as e:
        assert e.base_url == f"http://127.0.0.1:{free}/v1"
        with pytest.raises(OSError):
            serve(port=free)  # taken
        assert "running" in repr(e)
    with pytest.raises(TypeError):
        serve(no_such_option=True)
    for bad in ({"video_padding": 3}, {"concurrency": 0}, {"job_seconds": -1},
                {"chat_line_ending": "\r"}, {"unified_answer": "both"}):  # fmt: skip
        with pytest.raises(ValueError):
            serve(**bad)


def _start_cli(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    full_env = dict(os.environ, **(env or {}))
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "sora_nb.emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
        env=full_env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line.startswith("http://127.0.0.1:") and line.endswith("/v1"), line
    return proc, line


def test_command_line_serves_until_ctrl_c() -> None:
    key = "sk-from-env-456"
    proc, base_url = _start_cli(
        "--job-seconds", "0.05", "--seed", "3", "--api-key-env", "EMU_TEST_KEY",
        env={"EMU_TEST_KEY": key},
    )  # fmt: skip
    try:
        assert key not in " ".join(proc.args)  # the key never sits on the command line
        auth = {"Authorization": f"Bearer {key}"}
        assert httpx.get(f"{base_url}/videos").status_code == 401
        assert httpx.get(f"{base_url}/videos", headers=auth).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in err
    assert _refused(_port(base_url))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_one_gib_padding_streams_with_flat_memory() -> None:
    gib = 1 << 30
    proc, base_url = _start_cli("--job-seconds", "0.01", "--video-padding", str(gib))

    def rss_peak_mib() -> int:
        status = Path(f"/proc/{proc.pid}/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) // 1024

    try:
        with httpx.Client(base_url=base_url, timeout=30) as c:
            vid = c.post("/videos", json={"prompt": "big"}).json()["id"]
            time.sleep(0.1)
            c.get(f"/videos/{vid}/content", headers={"Range": "bytes=0-0"})  # render first
            before = rss_peak_mib()
            got = 0
            with c.stream("GET", f"/videos/{vid}/content") as r:
                total = int(r.headers["content-length"])
                for piece in r.iter_raw(1 << 20):
                    got += len(piece)
            assert got == total > gib
            assert rss_peak_mib() - before < 64
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_command_line_says_when_it_listens_beyond_loopback() -> None:
    proc, _base_url = _start_cli("--host", "0.0.0.0", "--job-seconds", "0.05")
    try:
        assert proc.stderr is not None
        said = proc.stderr.readline() + proc.stderr.readline()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert "listening on 0.0.0.0, reachable from other machines" in said
    assert "no key required" in said
    quiet, _ = _start_cli("--job-seconds", "0.05")
    quiet.send_signal(signal.SIGINT)
    _, err = quiet.communicate(timeout=30)
    assert "reachable from other machines" not in err


def test_reset_gives_a_fresh_emulators_state_on_the_same_port() -> None:
    from sora_nb.emulator import Fault
    from tests.emulator_fixtures import unified_body

    body = unified_body()
    with serve(job_seconds=0.05, seed=3) as emu:
        first = httpx.post(f"{emu.base_url}/video/create", json=body).json()["id"]
        emu.set(job_seconds=5.0)
        emu.add_fault(Fault(kind="create", action="status", status=503, times=5))
        assert httpx.post(f"{emu.base_url}/video/create", json=body).status_code == 503
        folder = emu.store.dir
        assert emu.counters["create"] == 2 and len(emu.jobs) == 1 and emu.faults

        emu.reset()
        assert emu.counters["create"] == 0 and not emu.requests and not emu.faults
        assert len(emu.jobs) == 0 and emu.config.job_seconds == 0.05
        assert not folder.exists()  # the first job's rendered files are gone
        again = httpx.post(f"{emu.base_url}/video/create", json=body).json()["id"]
        assert again == first  # ids are drawn from the seed again
        assert emu.counters["create"] == 1 and len(emu.jobs) == 1


def test_the_emulator_knows_nothing_of_the_client_and_sora_nb_marks_its_rules_strict() -> None:
    from sora_nb import builtin, capabilities

    with serve(job_seconds=0.05) as plain:
        assert not capabilities.is_strict(plain.base_url)  # a stand-in for any relay
    emu = builtin.start(job_seconds=0.05)
    try:
        assert capabilities.is_strict(emu.base_url)  # sora_nb's own: its rules are the gateway's
    finally:
        builtin.stop(emu)
    assert not capabilities.is_strict(emu.base_url)
    assert _imports_outside_the_emulator() == []


def _imports_outside_the_emulator() -> list[str]:
    """Every sora_nb module an emulator module imports that is not part of the emulator."""
    import ast

    package = Path(REPO, "sora_nb")
    found = []
    for path in sorted((package / "emulator").rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts  # sora_nb, emulator, …
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = parts[: len(parts) - node.level]  # the package the dots name
                if node.module:
                    names = [".".join((*base, node.module))]
                else:
                    names = [".".join((*base, a.name)) for a in node.names]
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
            else:
                continue
            found += [
                f"{path.name}: {n}"
                for n in names
                if n.startswith("sora_nb") and not n.startswith("sora_nb.emulator")
            ]
    return found
