"""scrub removes the key however a relay echoes it: JSON-escaped, percent-encoded, in pieces."""

from __future__ import annotations

import json
import random
from urllib.parse import quote

import pytest

from sora_nb import _secret
from sora_nb._secret import REDACTED, Secret, scrub, scrub_bytes

KEY = "sk-live/5b0f+9e2c7d41"
SECRET = Secret(KEY)
MARK = "5b0f"  # a piece of the key that must never survive


def json_u(text: str, upper: bool = False) -> str:
    return "".join(f"\\u{ord(c):04X}" if upper else f"\\u{ord(c):04x}" for c in text)


FORMS = {
    "literal": KEY,
    "json_slash": KEY.replace("/", "\\/"),
    "json_u_all": json_u(KEY),
    "json_u_upper_hex": json_u(KEY, upper=True),
    "json_u_first_char": json_u("s") + KEY[1:],
    "json_u_every_other": "".join(json_u(c) if i % 2 else c for i, c in enumerate(KEY)),
    "json_u_and_slash": json_u("sk-") + "live\\/5b0f+" + json_u("9e2c") + "7d41",
    "percent": quote(KEY, safe=""),
    "percent_lower": quote(KEY, safe="").replace("%2F", "%2f").replace("%2B", "%2b"),
    "percent_all": "".join(f"%{b:02X}" for b in KEY.encode()),
    "percent_twice": quote(quote(KEY, safe=""), safe=""),
    "json_in_json": json_u("sk").replace("\\", "\\\\") + "-live\\\\\\/5b0f+9e2c7d41",
}


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_scrub_removes_escaped_forms(form):
    text = f'{{"error": "invalid key {form}, check it"}}'
    out = scrub(text, [SECRET])
    assert MARK not in out and "5b0" not in out, out
    assert REDACTED in out
    out_bytes = scrub_bytes(text.encode(), [SECRET])
    assert out_bytes == out.encode()


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_scrub_removes_forms_in_a_url_query(form):
    out = scrub(f"https://relay.example/v1/videos?key={form}&x=1", [KEY])
    assert out == "https://relay.example/v1/videos?key=***&x=1"


def test_scrub_every_mix_of_escaped_and_literal_characters():
    rng = random.Random(7)
    for _ in range(300):
        mixed = ""
        for c in KEY:
            choice = rng.randrange(5)
            if choice == 0:
                mixed += json_u(c, upper=bool(rng.randrange(2)))
            elif choice == 1:
                mixed += f"%{ord(c):02x}"
            elif choice == 2 and c == "/":
                mixed += "\\/"
            else:
                mixed += c
        assert scrub(f"a {mixed} b", [KEY]) == "a *** b", mixed
        assert scrub_bytes(f"a {mixed} b".encode(), [KEY]) == b"a *** b", mixed


def test_scrubbed_json_stays_json():
    body = json.dumps({"error": {"message": f"bad key {KEY}"}}).replace("/", "\\/")
    body_u = json.dumps({"error": {"message": "bad key " + json_u(KEY)}})
    for text in (body, body_u.replace("\\\\", "\\")):
        out = scrub(text, [SECRET])
        assert json.loads(out)["error"]["message"] == "bad key ***"


def test_scrub_non_ascii_key_escaped_and_encoded():
    key = "clé-秘密-🔑-token"
    escaped = json.dumps(key)[1:-1]  # ensure_ascii: \u00e9, \u79d8, a surrogate pair for 🔑
    assert "\\ud83d\\udd11" in escaped
    for form in (key, escaped, quote(key, safe="")):
        assert scrub(f"<{form}>", [key]) == "<***>", form
        assert scrub_bytes(f"<{form}>".encode(), [key]) == b"<***>", form


def test_escaped_text_that_is_not_the_key_is_kept():
    text = 'path "C:\\\\Users", url "https:\\/\\/x.example\\/a%2Fb", "\\u0073k-other"'
    assert scrub(text, [KEY]) == text
    assert scrub_bytes(text.encode(), [KEY]) == text.encode()


def test_short_keys_are_not_scrubbed_in_any_form():
    text = "abc \\u0061bc %61bc"
    assert scrub(text, ["abc", Secret("ab")]) == text
    assert scrub_bytes(text.encode(), ["abc"]) == text.encode()


def test_scrub_compiles_one_pattern_per_key_set():
    # Large answers go through one precompiled pattern; the same keys reuse it.
    text = ("x" * 1000 + "\\/") * 100 + json_u(KEY)
    scrub(text, [SECRET])
    scrub_bytes(text.encode(), [SECRET])
    before = _secret._matcher.cache_info()
    for _ in range(5):
        assert scrub(text, [SECRET]).endswith(REDACTED)
        assert scrub_bytes(text.encode(), [SECRET]).endswith(REDACTED.encode())
    after = _secret._matcher.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 10


# --- streamed answers -------------------------------------------------------------------------


STREAM_TEXT = (
    'data: {"choices":[{"delta":{"content":"key ' + KEY.replace("/", "\\/") + ' was"}}]}\n\n'
    'data: {"choices":[{"delta":{"content":"again ' + json_u(KEY) + '"}}]}\n\n'
    "data: " + quote(KEY, safe="") + " and " + KEY + "\n\n"
    "data: [DONE]\n\n"
)


def feed_all(pieces, secrets):
    scrubber = _secret.StreamScrubber(secrets)
    out = [scrubber.feed(p) for p in pieces]
    out.append(scrubber.close())
    return out


def test_stream_scrubber_any_split_in_two():
    want = scrub(STREAM_TEXT, [KEY])
    assert MARK not in want and want.count(REDACTED) == 4
    for i in range(len(STREAM_TEXT) + 1):
        out = feed_all([STREAM_TEXT[:i], STREAM_TEXT[i:]], [SECRET])
        assert "".join(out) == want, i
        assert all(MARK not in piece for piece in out)


def test_stream_scrubber_one_character_at_a_time_text_and_bytes():
    out = feed_all(list(STREAM_TEXT), [KEY])
    assert "".join(out) == scrub(STREAM_TEXT, [KEY])
    data = STREAM_TEXT.encode()
    out_bytes = feed_all([data[i : i + 1] for i in range(len(data))], [KEY])
    assert b"".join(out_bytes) == scrub_bytes(data, [KEY])


def test_stream_scrubber_random_splits_of_random_texts():
    rng = random.Random(2024)
    forms = list(FORMS.values())
    noise = ["s", "sk-", "\\", "\\u00", "%", "%2", "data: ", "\n", "é", "🔑", "b0f"]
    for _ in range(400):
        text = "".join(rng.choice(noise) + rng.choice(forms) for _ in range(rng.randint(1, 4)))
        for data in (text, text.encode()):
            cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 30))))
            pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
            out = feed_all(pieces, [SECRET])
            if isinstance(data, bytes):
                assert b"".join(out) == scrub_bytes(data, [SECRET])
                assert not any(MARK.encode() in p for p in out)
            else:
                assert "".join(out) == scrub(data, [SECRET])
                assert not any(MARK in p for p in out)


def test_stream_scrubber_multibyte_character_split_between_pieces():
    key = "clé-秘密-token"
    data = f"x {key} y".encode()
    split = data.index("秘".encode()) + 1  # inside the character's UTF-8 bytes
    out = feed_all([data[:split], data[split:]], [key])
    assert b"".join(out) == b"x *** y"


def test_stream_scrubber_holds_back_only_a_possible_key_start():
    scrubber = _secret.StreamScrubber([KEY])
    assert scrubber.feed("hello world, no key here\n") == "hello world, no key here\n"
    assert scrubber.feed("partial: sk-li") == "partial: "
    assert scrubber.feed("ve\\/5b0f+9e2c7d41 done, \\u0073") == "*** done, "
    assert scrubber.feed("o much\n") == "\\u0073o much\n"
    assert scrubber.feed("%2") == ""
    assert scrubber.feed("5") == ""
    assert scrubber.feed("25") == "%2525"
    assert scrubber.close() == ""
    # SSE framing and JSON punctuation after the last event are not held back.
    event = 'data: {"choices":[{"delta":{"content":"so, sk"}}]}\n\n'
    assert feed_all([event], [KEY])[0] == event


def test_stream_scrubber_without_keys_passes_through_and_rejects_mixed_types():
    scrubber = _secret.StreamScrubber([None, "ab", Secret(None)])
    assert scrubber.feed("sk-anything") == "sk-anything"
    assert scrubber.close() == ""
    scrubber = _secret.StreamScrubber([KEY])
    scrubber.feed(b"bytes first")
    with pytest.raises(TypeError):
        scrubber.feed("then text")
