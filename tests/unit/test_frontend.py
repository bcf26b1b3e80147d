"""Front-end detection and the choice of display mode (pure), and the facts a kernel gathers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sora_nb.notebook import frontend
from sora_nb.notebook.frontend import Facts, FrontEnd, choose, detect, relative_src

KERNEL = "ZMQInteractiveShell"


def server(pid: int, root: str) -> dict[str, object]:
    return {"pid": pid, "root_dir": root}


# -- detect ---------------------------------------------------------------------------------------


def test_a_kernel_launched_by_a_local_jupyter_server_is_served_from_its_root(tmp_path):
    facts = Facts(
        env={"JPY_SESSION_NAME": str(tmp_path / "work" / "demo.ipynb")},
        shell=KERNEL,
        ancestors=(4242, 17),
        servers=(server(999, "/elsewhere"), server(17, str(tmp_path))),
        cwd=str(tmp_path / "work"),
    )
    front = detect(facts)
    assert front.name == "jupyter"
    assert front.served_root == tmp_path
    assert front.notebook_dir == tmp_path / "work"


def test_a_server_that_is_not_an_ancestor_does_not_count(tmp_path):
    facts = Facts(shell=KERNEL, ancestors=(4242,), servers=(server(17, str(tmp_path)),), cwd="/nb")
    front = detect(facts)
    assert front.name == "headless"
    assert front.served_root == Path("/nb")


def test_colab_is_known_by_its_module_or_its_environment():
    assert detect(Facts(modules=frozenset({"google.colab"}), shell=KERNEL)).name == "colab"
    assert detect(Facts(env={"COLAB_RELEASE_TAG": "release-x"}, shell=KERNEL)).name == "colab"


def test_vs_code_is_known_by_vscode_pid_unless_a_jupyter_server_launched_the_kernel(tmp_path):
    assert detect(Facts(env={"VSCODE_PID": "123"}, shell=KERNEL)).name == "vscode"
    lab_from_vscode_terminal = Facts(
        env={"VSCODE_PID": "123"}, shell=KERNEL, ancestors=(5,), servers=(server(5, "/r"),)
    )
    assert detect(lab_from_vscode_terminal).name == "jupyter"


def test_a_gateway_kernel_is_remote():
    facts = Facts(env={"KERNEL_WORKING_DIR": "/home/u/nb"}, shell=KERNEL, cwd="/srv/kernel")
    front = detect(facts)
    assert front.name == "remote"
    assert front.served_root is None


def test_terminal_ipython_and_plain_python_show_text():
    assert detect(Facts(shell="TerminalInteractiveShell")).name == "terminal"
    assert detect(Facts(shell="")).widgets is False


# -- choose ---------------------------------------------------------------------------------------


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "nb" / "videos" / "x.mp4"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\0" * 10)
    return path


def jupyter(root: Path, nb: Path | None = None) -> FrontEnd:
    return FrontEnd("jupyter", served_root=root, notebook_dir=nb or root)


def test_auto_keeps_a_small_relative_video_where_the_server_serves_the_file(video):
    assert choose("auto", jupyter(video.parents[1]), video, 10) == "file"


def test_auto_carries_the_bytes_when_the_file_is_outside_the_servers_root(video, tmp_path):
    elsewhere = tmp_path / "served"
    elsewhere.mkdir()
    assert choose("auto", jupyter(elsewhere), video, 10) == "widget"
    assert choose("auto", jupyter(elsewhere), video, 10, widgets_available=False) == "embed"
    big = 10 * 2**20
    assert choose(
        "auto", jupyter(elsewhere), video, big, widgets_available=False, embed_limit=1
    ) == ("file")


@pytest.mark.parametrize("name", ["remote", "vscode"])
def test_auto_uses_a_widget_where_no_file_route_exists(name, video):
    assert choose("auto", FrontEnd(name), video, 10) == "widget"


def test_auto_embeds_in_colab_up_to_the_limit_then_uses_a_widget(video):
    colab = FrontEnd("colab")
    assert choose("auto", colab, video, 100, embed_limit=100) == "embed"
    assert choose("auto", colab, video, 101, embed_limit=100) == "widget"


def test_auto_in_a_headless_run_keeps_files_beside_the_notebook_else_embeds(video, tmp_path):
    headless = FrontEnd("headless", served_root=video.parents[1], notebook_dir=video.parents[1])
    assert choose("auto", headless, video, 10) == "file"
    other = FrontEnd("headless", served_root=tmp_path / "x", notebook_dir=tmp_path / "x")
    assert choose("auto", other, video, 10) == "embed"


def test_terminal_shows_the_path(video):
    assert choose("auto", FrontEnd("terminal", widgets=False), video, 10) == "file"


def test_a_mode_asked_for_is_kept_unless_it_cannot_work(video):
    front = FrontEnd("remote")
    assert choose("file", front, video, 10) == "file"
    assert choose("embed", front, video, 10**10) == "embed"
    assert choose("widget", front, video, 10, widgets_available=False) == "embed"
    assert choose("widget", jupyter(video.parents[1]), video, 10) == "widget"
    assert choose("auto", front, None, None) == "link"
    assert choose("file", front, None, None) == "link"
    with pytest.raises(ValueError, match="show must be one of"):
        choose("inline", front, video, 10)


def test_relative_src_is_relative_to_the_notebook_and_none_outside_the_root(tmp_path):
    root = tmp_path / "root"
    nb = root / "work"
    other = root / "shared" / "a b.mp4"
    other.parent.mkdir(parents=True)
    nb.mkdir()
    other.write_bytes(b"x")
    front = jupyter(root, nb)
    assert relative_src(other, front) == "../shared/a b.mp4"
    outside = tmp_path / "out.mp4"
    outside.write_bytes(b"x")
    assert relative_src(outside, front) is None


# -- the facts of a real process ------------------------------------------------------------------


@pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="ancestors beyond the parent need /proc"
)
def test_ancestors_reach_past_the_parent():
    inner = "import os; from sora_nb.notebook import frontend; print(list(frontend._ancestors()))"
    middle = (
        "import subprocess, sys; "
        f"print(subprocess.run([sys.executable, '-c', {inner!r}], capture_output=True, "
        "text=True, check=True).stdout)"
    )
    out = subprocess.run([sys.executable, "-c", middle], capture_output=True, text=True, check=True)
    chain = json.loads(out.stdout.strip())
    assert os.getpid() in chain[1:]  # the grandchild sees this test process beyond its parent


def test_server_files_are_read_without_their_tokens(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "jpserver-17.json").write_text(
        json.dumps({"pid": 17, "root_dir": "/r", "token": "secret-token", "url": "http://x"})
    )
    (tmp_path / "jpserver-18.json").write_text("{not json")
    (tmp_path / "kernel-1.json").write_text(json.dumps({"pid": 1}))
    assert list(frontend._servers()) == [{"pid": 17, "root_dir": "/r"}]
