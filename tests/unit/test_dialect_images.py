"""POST /images/generations: request validation and both answer forms."""

from __future__ import annotations

import base64

import pytest

from sora_nb._exceptions import ProtocolError, ValidationError
from sora_nb.dialects import images


def test_build_generate_minimal():
    http = images.build_generate("a cat")
    assert (http.method, http.path, http.kind) == ("POST", "images/generations", "images")
    assert http.creates
    assert http.json == {"prompt": "a cat", "n": 1}


def test_build_generate_with_the_stai_docs_fields():
    http = images.build_generate(
        "a cat",
        model="dall-e-3",
        n=1,
        size="1024x1024",
        quality="hd",
        response_format="b64_json",
        style="natural",
        user="u-1",
    )
    assert http.json == {
        "prompt": "a cat",
        "n": 1,
        "model": "dall-e-3",
        "size": "1024x1024",
        "quality": "hd",
        "response_format": "b64_json",
        "style": "natural",
        "user": "u-1",
    }


@pytest.mark.parametrize("n", [1, 5, 10])
def test_n_in_range(n):
    assert images.build_generate("x", n=n).json["n"] == n


@pytest.mark.parametrize("n", [0, -1, 11, 100, True, False, 1.0, 2.5, "2", None])
def test_n_out_of_range_or_not_whole(n):
    with pytest.raises(ValidationError) as info:
        images.build_generate("x", n=n)
    assert "1 to 10" in str(info.value)


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("quality", "ultra", "standard, hd, low, medium, high, auto"),
        ("quality", "HD", "standard, hd"),
        ("response_format", "png", "url, b64_json"),
        ("style", "bold", "vivid, natural"),
    ],
)
def test_bad_choices_name_allowed_values(field, value, allowed):
    with pytest.raises(ValidationError) as info:
        images.build_generate("x", **{field: value})
    message = str(info.value)
    assert field in message and repr(value) in message and allowed in message


@pytest.mark.parametrize("prompt", ["", "   ", None, 5])
def test_empty_prompt(prompt):
    with pytest.raises(ValidationError, match="prompt"):
        images.build_generate(prompt)


def test_parse_images_url():
    body = {
        "created": 1589478378,
        "data": [
            {"url": "https://img.example/1.png", "revised_prompt": "a fluffy cat"},
            {"url": "https://img.example/2.png"},
        ],
    }
    results = images.parse_images(body)
    assert [r.url for r in results] == ["https://img.example/1.png", "https://img.example/2.png"]
    assert results[0].revised_prompt == "a fluffy cat"
    assert results[1].revised_prompt is None
    assert results[0].data() is None


def test_parse_images_b64():
    payload = b"\x89PNG\r\n\x1a\nfake"
    body = {"created": 1, "data": [{"b64_json": base64.b64encode(payload).decode()}]}
    (result,) = images.parse_images(body)
    assert result.url is None
    assert result.data() == payload


def test_parse_images_skips_junk_items():
    assert len(images.parse_images({"data": [{"url": "u"}, "junk", None, 3]})) == 1
    assert images.parse_images({"data": []}) == []


@pytest.mark.parametrize("body", [None, [], {}, {"data": None}, {"data": {"url": "u"}}, "x"])
def test_parse_images_bad(body):
    with pytest.raises(ProtocolError):
        images.parse_images(body)
