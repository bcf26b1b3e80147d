"""capabilities: model rules per request family, defaults, and one-line validation errors."""

from __future__ import annotations

import re

import pytest

from sora_nb import capabilities
from sora_nb._exceptions import ValidationError
from sora_nb.capabilities import (
    forget_model,
    known_models,
    register_model,
    rules_for,
    validate_video_request,
)
from sora_nb.models import VideoRequest


def req(**kw):
    base = {"prompt": "make animate", "model": "sora-2"}
    base.update(kw)
    return VideoRequest(**base)


def check(dialect="unified", **kw):
    return validate_video_request(req(**kw), dialect)


def error(dialect="unified", **kw) -> str:
    with pytest.raises(ValidationError) as info:
        check(dialect, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.fixture
def scratch_model():
    """A model name that gets cleaned out of the rules table afterwards."""
    names = []

    def make(name):
        names.append(name)
        return name

    yield make
    for name in names:
        forget_model(name, dialect="unified")
        forget_model(name, dialect="openai")


# --- unified family -----------------------------------------------------------------------


@pytest.mark.parametrize("size", ["small", "large"])
@pytest.mark.parametrize("duration", [10, 15])
def test_sora2_unified_accepts(size, duration):
    out = check(size=size, duration=duration, orientation="landscape")
    assert out.size == size
    assert out.duration == duration
    assert out.orientation == "landscape"


def test_sora2_unified_defaults():
    out = check()
    assert (out.orientation, out.size, out.duration) == ("portrait", "small", 10)
    assert out.images == ()


@pytest.mark.parametrize("duration", [5, 12, 25, 4])
def test_sora2_unified_rejects_duration_naming_allowed(duration):
    message = error(duration=duration)
    assert "sora-2" in message
    assert "10, 15" in message
    assert str(duration) in message


@pytest.mark.parametrize("size", ["medium", "hd", "1280x720", "720x1280"])
def test_sora2_unified_rejects_size_naming_allowed(size):
    message = error(size=size)
    assert "small, large" in message
    assert size in message


def test_sora2_pro_unified_large_only():
    out = check(model="sora-2-pro")
    assert (out.size, out.duration, out.orientation) == ("large", 15, "portrait")
    assert check(model="sora-2-pro", duration=25).duration == 25
    message = error(model="sora-2-pro", size="small")
    assert "sora-2-pro" in message
    assert re.search(r"takes size large, not 'small'", message), message


@pytest.mark.parametrize("duration", [10, 5, 20])
def test_sora2_pro_unified_durations(duration):
    message = error(model="sora-2-pro", duration=duration)
    assert "15, 25" in message


def test_duration_as_float_and_text_that_is_a_number():
    assert check(duration=10.0).duration == 10
    assert check(duration="15").duration == 15.0


# --- openai family ------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["720x1280", "1280x720"])
@pytest.mark.parametrize("duration", [4, 8, 12])
def test_sora2_openai_accepts(size, duration):
    out = check("openai", size=size, duration=duration)
    assert out.size == size
    assert out.duration == duration
    assert out.orientation == ("portrait" if size == "720x1280" else "landscape")


def test_sora2_openai_defaults():
    out = check("openai")
    assert (out.size, out.duration, out.orientation) == ("720x1280", 4, "portrait")


def test_openai_orientation_picks_matching_default_size():
    out = check("openai", orientation="landscape")
    assert out.size == "1280x720"
    assert out.orientation == "landscape"


@pytest.mark.parametrize("duration", [10, 15, 5])
def test_sora2_openai_rejects_duration_naming_allowed(duration):
    message = error("openai", duration=duration)
    assert "4, 8, 12" in message
    assert str(duration) in message


def test_sora2_openai_rejects_big_size_naming_allowed():
    message = error("openai", size="1792x1024")
    assert "720x1280, 1280x720" in message
    assert "1792x1024" in message


def test_sora2_pro_openai_takes_big_sizes():
    for size in ("720x1280", "1280x720", "1024x1792", "1792x1024"):
        assert check("openai", model="sora-2-pro", size=size).size == size


@pytest.mark.parametrize(
    ("size", "orientation", "expected"),
    [
        ("small", "portrait", "720x1280"),
        ("small", "landscape", "1280x720"),
        ("large", "portrait", "1024x1792"),
        ("large", "landscape", "1792x1024"),
        ("small", None, "720x1280"),
        ("LARGE", "landscape", "1792x1024"),
    ],
)
def test_openai_size_words_mapped_by_orientation(size, orientation, expected):
    out = check("openai", model="sora-2-pro", size=size, orientation=orientation)
    assert out.size == expected
    assert out.orientation == (orientation or "portrait")


def test_openai_size_word_outside_model_names_both():
    message = error("openai", size="large", orientation="landscape")
    assert "'large'" in message
    assert "1792x1024" in message
    assert "720x1280, 1280x720" in message


def test_openai_wxh_orientation_conflict():
    message = error("openai", size="1280x720", orientation="portrait")
    assert "1280x720" in message and "landscape" in message and "portrait" in message
    message = error("openai", size="720x1280", orientation="landscape")
    assert "720x1280" in message


def test_openai_wxh_spelling_normalised():
    assert check("openai", size=" 1280 X 720 ").size == "1280x720"
    assert check("openai", size="1280×720").size == "1280x720"


def test_openai_size_junk():
    message = error("openai", size="huge")
    assert "WIDTHxHEIGHT" in message and "small, large" in message


def test_size_not_text():
    assert "size" in error(size=720)


# --- unknown models -----------------------------------------------------------------------


def test_unknown_model_unified_defaults_and_passthrough():
    out = check(model="kling-v1")
    assert (out.orientation, out.size, out.duration) == ("portrait", "small", 10)
    odd = check(model="kling-v1", size="1280x720", duration=7, orientation="landscape")
    assert (odd.size, odd.duration, odd.orientation) == ("1280x720", 7, "landscape")
    assert rules_for("kling-v1") is None


def test_unknown_model_openai_passthrough():
    out = check("openai", model="kling-v1")
    assert out.size is None and out.duration is None and out.orientation is None
    out = check("openai", model="kling-v1", size="1920x1080", duration=5)
    assert (out.size, out.duration, out.orientation) == ("1920x1080", 5, "landscape")


# --- register / forget --------------------------------------------------------------------


def test_register_and_forget_model(scratch_model):
    name = scratch_model("veo-3-test")
    assert name not in known_models("openai")
    rules = register_model(name, dialect="openai", sizes=["1280x720", "720x1280"], durations=[8])
    assert rules.durations == (8.0,)
    assert rules_for(name, "openai") == rules
    assert rules_for(name, "unified") is None
    assert name in known_models("openai")
    out = check("openai", model=name)
    assert (out.size, out.duration, out.orientation) == ("1280x720", 8.0, "landscape")
    message = error("openai", model=name, duration=4)
    assert "takes duration 8 seconds" in message
    forget_model(name, dialect="openai")
    assert rules_for(name, "openai") is None
    assert check("openai", model=name, duration=4).duration == 4


def test_register_overrides_builtin_and_forget_restores():
    builtin = rules_for("sora-2")
    try:
        register_model("sora-2", sizes=["small", "large"], durations=[10, 15, 20])
        assert check(duration=20).duration == 20
    finally:
        forget_model("sora-2")
    assert rules_for("sora-2") == builtin
    assert "10, 15" in error(duration=20)


def test_register_on_a_family_without_rules_is_refused(scratch_model):
    # The chat family sends only a prompt: rules for it would never apply. (They used to be
    # filed under the unified family without a word.)
    name = scratch_model("relay-model-test")
    with pytest.raises(ValueError, match="chat dialect has no model rules"):
        register_model(name, dialect="chat", sizes=["small"], durations=[6])
    assert rules_for(name, "unified") is None


def test_register_orientations(scratch_model):
    name = scratch_model("landscape-only-test")
    register_model(name, sizes=["small"], durations=[5], orientations=["landscape"])
    message = error(model=name, orientation="portrait")
    assert "takes orientation landscape" in message


def test_register_needs_sizes_and_durations():
    with pytest.raises(ValueError):
        register_model("x-empty", sizes=[], durations=[5])
    with pytest.raises(ValueError):
        register_model("x-empty", sizes=["small"], durations=[])
    assert rules_for("x-empty") is None


def test_builtin_known_models():
    assert known_models("unified")[:2] == ["sora-2", "sora-2-pro"]
    assert {"sora-2", "sora-2-pro"} <= set(known_models("openai"))


def test_openai_rules_orientation_without_matching_size_is_consistent(scratch_model):
    """A portrait request must not silently get the model's only (landscape) size."""
    name = scratch_model("wide-only-test")
    register_model(name, dialect="openai", sizes=["1280x720"], durations=[5])
    try:
        out = check("openai", model=name, orientation="portrait")
    except ValidationError as exc:
        assert "1280x720" in str(exc)
    else:
        assert capabilities._orientation_of(out.size) == out.orientation, out


# --- general checks -----------------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
@pytest.mark.parametrize("dialect", ["unified", "openai", "chat"])
def test_empty_prompt(prompt, dialect):
    assert "prompt is empty" in error(dialect, prompt=prompt)


def test_missing_model():
    assert "model" in error(model="")
    assert "model" in error(model="  ")


@pytest.mark.parametrize("dialect", ["unified", "openai"])
def test_bad_orientation_names_allowed(dialect):
    message = error(dialect, orientation="diagonal")
    assert "'diagonal'" in message
    assert "portrait, landscape" in message


def test_orientation_case_and_space_normalised():
    assert check(orientation=" Landscape ").orientation == "landscape"


@pytest.mark.parametrize("dialect", ["unified", "openai"])
@pytest.mark.parametrize(
    "duration", [-10, 0, 0.0, float("nan"), float("inf"), True, False, "ten", "", [10], {}]
)
def test_bad_durations(dialect, duration):
    message = error(dialect, duration=duration)
    assert "duration" in message


def test_unknown_model_bad_duration_still_rejected():
    assert "positive" in error(model="kling-v1", duration=-1)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"size": "small"}, ["size"]),
        ({"duration": 10}, ["duration"]),
        ({"orientation": "portrait"}, ["orientation"]),
        ({"size": "small", "images": ["a.png"]}, ["size"]),
    ],
)
def test_chat_dialect_takes_prompt_and_images_only(fields, named):
    message = error("chat", **fields)
    assert "chat" in message
    for name in named:
        assert name in message


def test_chat_dialect_takes_reference_images():
    # As image_url content parts (the st-ai docs' multimodal messages).
    request = req(images=("https://x/in.png",))
    assert validate_video_request(request, "chat").images == ("https://x/in.png",)


def test_chat_dialect_plain_prompt_passes_unchanged():
    request = req()
    assert validate_video_request(request, "chat") is request


def test_images_become_tuple_and_are_kept():
    out = check(images=["https://x/in.png", "b.png"])
    assert out.images == ("https://x/in.png", "b.png")


def test_validation_does_not_mutate_input():
    request = req(orientation="Landscape")
    validate_video_request(request, "unified")
    assert request.orientation == "Landscape" and request.size is None
