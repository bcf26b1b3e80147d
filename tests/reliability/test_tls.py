"""TLS certificates are verified unless the user turns that off by name.

A real HTTPS gateway on loopback (the emulator's app behind uvicorn with a self-signed
certificate made at test time by the ``openssl`` command; no key is committed) is refused with
one line about the certificate, before any request reaches it; ``verify=False`` (or
``SoraMagics.verify_tls = False``) and nothing else lets the client through.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

import sora_nb
from sora_nb.emulator import serve
from sora_nb.emulator.app import build_api_app
from tests.conftest import KEY

pytestmark = pytest.mark.timeout(120)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no one vouches for (only its name is right)."""
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed to make a test certificate"
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@contextmanager
def https_front(emu: Any, cert: Path, key: Path) -> Iterator[str]:
    """The emulator's gateway app served over HTTPS on a free loopback port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    server = uvicorn.Server(
        uvicorn.Config(
            build_api_app(emu),
            log_level="critical",  # the refused handshakes are expected
            log_config=None,
            lifespan="off",
            http="h11",
            ws="none",
            access_log=False,
            ssl_certfile=str(cert),
            ssl_keyfile=str(key),
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the HTTPS server did not start"
        time.sleep(0.01)
    try:
        yield f"https://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    with (
        serve(job_seconds=0.2, concurrency=4, seed=23, api_key=KEY, render_scale=0.1) as emu,
        https_front(emu, cert, key) as url,
    ):
        yield emu, url


@pytest.fixture
def gateway(tls):
    emu, url = tls
    emu.reset_counters()
    return emu, url


def _refusal(exc: BaseException) -> str:
    message = str(exc)
    assert "\n" not in message and "Traceback" not in message, message
    assert "certificate" in message.lower(), message
    assert KEY not in message
    return message


def test_a_self_signed_gateway_is_refused_in_one_line_before_anything_is_sent(gateway):
    emu, url = gateway
    # Retries allowed: a certificate that does not verify is refused at once all the same.
    client = sora_nb.Client(base_url=url, api_key=KEY, retries=4)
    started = time.monotonic()
    with pytest.raises(sora_nb.CertificateError) as info:
        client.create_video("a paper boat")
    client.close()
    assert time.monotonic() - started < 2.0  # no back-off: trying again cannot help
    message = _refusal(info.value)
    assert "did not verify" in message and "creating the video job" in message
    assert "verify=False" in message
    assert sum(emu.counters.values()) == 0  # no request got through the handshake


def test_the_async_client_refuses_it_too(gateway):
    emu, url = gateway

    async def main() -> BaseException:
        async with sora_nb.AsyncClient(base_url=url, api_key=KEY, retries=0) as client:
            try:
                await client.get_job("task_x")
            except sora_nb.SoraError as exc:
                return exc
        raise AssertionError("the self-signed gateway was accepted")

    with ThreadPoolExecutor(1) as pool:
        exc = pool.submit(asyncio.run, main()).result()
    assert isinstance(exc, sora_nb.ConnectError), repr(exc)
    _refusal(exc)
    assert sum(emu.counters.values()) == 0


def test_verify_false_by_name_lets_the_job_through(gateway, tmp_path):
    emu, url = gateway
    with sora_nb.Client(base_url=url, api_key=KEY, verify=False) as client:
        job = client.generate_video("a paper boat")
        path = client.download(job, tmp_path)
    assert job.status == "completed" and path.read_bytes()[4:8] == b"ftyp"
    assert emu.counters["create"] == 1


@pytest.mark.parametrize("value", ["no", "false", 0, None, "False", 1])
def test_anything_but_a_bool_for_verify_is_refused(gateway, value):
    emu, url = gateway
    with pytest.raises(sora_nb.ConfigError) as info:
        sora_nb.Client(base_url=url, api_key=KEY, verify=value)
    message = str(info.value)
    assert "\n" not in message and "verify" in message and "True or False" in message
    assert sum(emu.counters.values()) == 0


# -- the magics: SoraMagics.verify_tls ------------------------------------------------------------


@pytest.fixture
def shell(gateway, tmp_path, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    emu, url = gateway
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("SORA_NB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SORA_BASE_URL", url)
    monkeypatch.setenv("SORA_API_KEY", KEY)
    monkeypatch.delenv("SORA_DIALECT", raising=False)
    monkeypatch.chdir(tmp_path)
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    ip = InteractiveShell.instance(config=config)
    try:
        assert ip.run_cell("%load_ext sora_nb").success
        assert ip.run_cell("%config SoraMagics.poll_interval = 0.05").success
        yield ip, ip.magics_manager.registry["SoraMagics"], emu
        ip.run_line_magic("unload_ext", "sora_nb")
    finally:
        InteractiveShell.clear_instance()


def test_magics_verify_by_default_and_refuse_in_one_line(shell, capsys, tmp_path):
    ip, magics, emu = shell
    assert magics.verify_tls is True
    result = ip.run_cell("%%sora_video\na paper boat")
    out = capsys.readouterr()
    assert not result.success and type(result.error_in_exec).__name__ == "SoraCellError"
    _refusal(result.error_in_exec)
    assert "Traceback" not in out.out + out.err and KEY not in out.out + out.err
    assert emu.counters["create"] == 0 and not (tmp_path / "videos").exists()


def test_magics_go_through_only_when_verify_tls_is_turned_off_by_name(shell, capsys, tmp_path):
    ip, magics, emu = shell
    for attempt in ("%config SoraMagics.verify_tls = 'no'", "%sora_config verify_tls=maybe"):
        ip.run_cell(attempt)
        assert magics.verify_tls is True, attempt
    assert ip.run_cell("%config SoraMagics.verify_tls = False").success
    result = ip.run_cell("%%sora_video --name boat\na paper boat")
    assert result.success, result.error_in_exec
    boat = ip.user_ns["boat"]
    assert boat.status == "completed" and (tmp_path / boat.path).read_bytes()[4:8] == b"ftyp"
    assert emu.counters["create"] == 1
    # And back on: refused again.
    assert ip.run_cell("%sora_config verify_tls=true").success
    again = ip.run_cell("%%sora_video\na paper boat")
    assert not again.success and "certificate" in str(again.error_in_exec).lower()
    assert emu.counters["create"] == 1
    assert KEY not in capsys.readouterr().out
