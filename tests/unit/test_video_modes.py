"""How a finished video shows in each mode: the bundle's parts, with real ipywidgets."""

from __future__ import annotations

import base64

import pytest

from sora_nb.models import Job
from sora_nb.notebook import frontend, players
from sora_nb.notebook.frontend import FrontEnd
from sora_nb.notebook.results import VideoGrid, VideoJob

BYTES = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8


@pytest.fixture
def notebook(tmp_path, monkeypatch):
    folder = tmp_path / "nb"
    (folder / "videos").mkdir(parents=True)
    monkeypatch.chdir(folder)
    yield folder
    players.close_all()


def video(folder, name="a.mp4", **kw) -> VideoJob:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(BYTES + name.encode())
    job = Job(
        id=f"video_{name}",
        status="completed",
        dialect="openai",
        model="sora-2",
        seconds=4,
        width=1280,
        height=720,
        video_url="https://cdn.example/v.mp4?sig=1",
    )
    return VideoJob.of(job, path=path, base_dir=folder, **kw)


def at(monkeypatch, front: FrontEnd) -> None:
    monkeypatch.setattr(frontend, "current", lambda: front)


def test_a_served_file_is_a_small_relative_player_with_sound(notebook, monkeypatch):
    at(monkeypatch, FrontEnd("jupyter", served_root=notebook, notebook_dir=notebook))
    v = video(notebook / "videos")
    bundle = v._repr_mimebundle_()
    html = bundle["text/html"]
    assert 'src="videos/a.mp4"' in html
    assert " muted" not in html and "autoplay" not in html
    assert len(html) < 1000


def test_outside_the_root_the_bytes_travel_in_a_widget_with_a_fallback(
    notebook, tmp_path, monkeypatch
):
    at(monkeypatch, FrontEnd("jupyter", served_root=notebook, notebook_dir=notebook))
    v = video(tmp_path / "elsewhere")
    assert v.mode() == "widget"
    bundle = v._repr_mimebundle_()
    view = bundle[players.WIDGET_VIEW]
    box = next(b for b in players._PLAYERS.values() if b.model_id == view["model_id"])
    player, caption = box.children
    assert player.value == v.path.read_bytes()
    assert (player.autoplay, player.loop, player.controls) == (False, False, True)
    assert "sora-2 · 4 s · 1280x720" in caption.value
    assert (
        "a.mp4" in bundle["text/html"] and "https://cdn.example/v.mp4?sig=1" in bundle["text/html"]
    )
    assert "<video" not in bundle["text/html"]  # nothing that would 404 for viewers without widgets
    # Shown again: the same player, the bytes are not copied into a second widget.
    assert v._repr_mimebundle_()[players.WIDGET_VIEW]["model_id"] == view["model_id"]


def test_embed_inlines_the_file(notebook, monkeypatch):
    at(monkeypatch, FrontEnd("colab"))
    v = video(notebook / "videos")
    html = v._repr_mimebundle_()["text/html"]
    encoded = html.split("data:video/mp4;base64,")[1].split('"')[0]
    assert base64.b64decode(encoded) == v.path.read_bytes()


def test_a_widget_grid_holds_every_variant(notebook, tmp_path, monkeypatch):
    at(monkeypatch, FrontEnd("remote"))
    grid = VideoGrid([video(tmp_path / "o", "a.mp4"), video(tmp_path / "o", "b.mp4")])
    bundle = grid._repr_mimebundle_()
    model_id = bundle[players.WIDGET_VIEW]["model_id"]
    from ipywidgets.widgets.widget import _instances  # Widget.widgets, without its warning

    box = _instances[model_id]
    assert [c.children[0].value for c in box.children] == [v.path.read_bytes() for v in grid]
    assert bundle["text/html"].count("sora-nb-video-fallback") == 2


def test_an_html_grid_when_every_file_is_served(notebook, monkeypatch):
    at(monkeypatch, FrontEnd("jupyter", served_root=notebook, notebook_dir=notebook))
    grid = VideoGrid([video(notebook / "videos", "a.mp4"), video(notebook / "videos", "b.mp4")])
    bundle = grid._repr_mimebundle_()
    assert players.WIDGET_VIEW not in bundle
    assert bundle["text/html"].count("<video") == 2


def test_a_missing_file_falls_back_to_the_link(notebook, monkeypatch):
    at(monkeypatch, FrontEnd("remote"))
    v = video(notebook / "videos")
    v.path.unlink()
    assert v.mode() == "link"
    assert 'src="https://cdn.example/v.mp4?sig=1"' in v._repr_mimebundle_()["text/html"]
