"""Downloads put in place without overwriting a different file; what a video begins with."""

from __future__ import annotations

from sora_nb.files import media_kind, settle


def _tmp(folder, data: bytes, n: int):
    path = folder / f".part{n}"
    path.write_bytes(data)
    return path


def test_the_same_bytes_keep_their_name_and_others_get_a_new_one(tmp_path):
    target = tmp_path / "sora-2_task_1.mp4"
    assert settle(_tmp(tmp_path, b"first", 1), target) == target
    # A re-run of a deterministic notebook: same bytes, same name, one file.
    assert settle(_tmp(tmp_path, b"first", 2), target) == target
    # Another video under the same name (an earlier session's, or ids cut at 120 characters).
    second = settle(_tmp(tmp_path, b"second", 3), target)
    third = settle(_tmp(tmp_path, b"third!", 4), target)
    assert (second.name, third.name) == ("sora-2_task_1-2.mp4", "sora-2_task_1-3.mp4")
    assert settle(_tmp(tmp_path, b"second", 5), target) == second
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {
        "sora-2_task_1.mp4": b"first",
        "sora-2_task_1-2.mp4": b"second",
        "sora-2_task_1-3.mp4": b"third!",
    }


def test_media_kinds():
    assert media_kind(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00") == "mp4"
    assert media_kind(b"\x00\x00\x00\x08wide\x00\x00\x00\x00moov") == "mp4"
    assert media_kind(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01") == "webm"
    assert media_kind(b"<!DOCTYPE html><html>") is None
    assert media_kind(b'{"error": {"message"') is None
    assert media_kind(b"") is None
