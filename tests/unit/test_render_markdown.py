"""safe_markdown: gateway text as Markdown whose links and images can only go to http(s),
mailto, relative paths and anchors, however a hostile relay writes the target."""

from __future__ import annotations

import html
import re

import pytest

from sora_nb.notebook.render import markdown_bundle, safe_markdown

mistune = pytest.importorskip("mistune")  # a CommonMark parser, to read the output as a renderer
_AST = mistune.create_markdown(renderer="ast")

SAFE_SCHEMES = {"http", "https", "mailto", None}
REMOVED = "#unsafe-link-removed"


def browser_scheme(url: str) -> str | None:
    """The scheme of ``url`` read as suspiciously as possible: character references decoded
    until nothing changes, Markdown escapes and a parser's percent-escapes of '<' and blanks
    undone, tabs and line breaks dropped, leading controls, spaces and '<' skipped."""
    for _ in range(10):
        decoded = html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", url))
        decoded = re.sub(
            r"%(09|0a|0d|20|3c)", lambda m: chr(int(m.group(1), 16)), decoded, flags=re.I
        )
        if decoded == url:
            break
        url = decoded
    url = re.sub(r"[\t\n\r]", "", url).lstrip("".join(map(chr, range(0x21))) + "<")
    match = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*):", url)
    return match.group(1).lower() if match else None


def targets(markdown: str) -> list[str]:
    """Every link and image target a CommonMark renderer makes of ``markdown`` (reference links
    resolved, autolinks included)."""
    found: list[str] = []

    def walk(tokens: list[dict]) -> None:
        for token in tokens:
            if token.get("type") in ("link", "image"):
                found.append(token["attrs"]["url"])
            walk(token.get("children") or [])

    walk(_AST(markdown))
    return found


def assert_no_unsafe_target(markdown: str) -> None:
    for url in targets(markdown):
        assert browser_scheme(url) in SAFE_SCHEMES, (url, markdown)
    # Also without a parser: whatever follows "](" or "]:" (where targets are written).
    for raw in re.findall(r"\]\(\s*([^)\s]*)|\]:\s*(\S+)", markdown):
        target = raw[0] or raw[1]
        assert browser_scheme(target) in SAFE_SCHEMES, (target, markdown)


JS = "alert(1)"
UNSAFE_TARGETS = {
    "plain": f"javascript:{JS}",
    "mixed_case": f"JaVaScRiPt:{JS}",
    "colon_decimal_ref": f"javascript&#58;{JS}",
    "colon_padded_ref": f"javascript&#0000058;{JS}",
    "colon_hex_ref": f"javascript&#x3A;{JS}",
    "colon_named_ref": f"javascript&colon;{JS}",
    "first_letter_ref": f"&#106;avascript:{JS}",
    "middle_letter_hex_ref": f"java&#x73;cript:{JS}",
    "tab_named_ref": f"jav&Tab;ascript:{JS}",
    "newline_named_ref": f"java&NewLine;script:{JS}",
    "all_refs": "".join(f"&#{ord(c)};" for c in "javascript:") + JS,
    "ref_without_semicolon": f"javascript&#58{JS}",
    "markdown_escaped_colon": f"javascript\\:{JS}",
    "leading_control_char": f"\x01javascript:{JS}",
    "leading_ref_space": f"&#32;javascript:{JS}",
    "angle_brackets": f"<javascript:{JS}>",
    "data_url": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript": "vbscript:msgbox(1)",
    "file": "file:///etc/passwd",
}


@pytest.mark.parametrize("target", UNSAFE_TARGETS.values(), ids=UNSAFE_TARGETS.keys())
@pytest.mark.parametrize(
    "template",
    [
        "[open]({t})",
        "![img]({t})",
        "[open](  {t} )",
        "[open](\n{t})",
        '[open]({t} "title")',
        "[open][r]\n\n[r]: {t}",
        "![img][r]\n\n[r]: {t}",
        "[r]\n\n[r]: {t}",
        "[open][r]\n\n   [r]:\n   {t} 'title'",
        "> [open][r]\n>\n> [r]: {t}",
        "- [open][r]\n\n- [r]: {t}",
        "[open][My Ref]\n\n[my ref]: {t}",
    ],
    ids=[
        "inline",
        "image",
        "inline_spaced",
        "inline_next_line",
        "inline_title",
        "reference",
        "reference_image",
        "reference_shortcut",
        "reference_next_line",
        "reference_in_quote",
        "reference_in_list",
        "reference_case_folded",
    ],
)
def test_unsafe_link_targets_are_cut(template, target):
    text = "Done ✅ " + template.format(t=target) + "\n"
    out = safe_markdown(text)
    assert REMOVED in out, out
    assert_no_unsafe_target(out)


@pytest.mark.parametrize(
    "text",
    [
        "<javascript:alert(1)>",
        "<JAVASCRIPT:alert(1)>",
        "< javascript:alert(1)>",
        "<javascript&#58;alert(1)>",
        "<data:text/html,<script>alert(1)</script>>",
    ],
)
def test_autolinks_are_escaped_to_text(text):
    out = safe_markdown(text)
    assert "<" not in out
    assert out.startswith("&lt;")
    assert targets(out) == []


def test_raw_html_is_escaped():
    out = safe_markdown('<a href="javascript:alert(1)">x</a><img src=x onerror=alert(1)>')
    assert "<" not in out
    assert_no_unsafe_target(out)


SAFE = [
    ("[watch](https://cdn.example/v.mp4)", "https://cdn.example/v.mp4"),
    ("![thumb](http://cdn.example/t.webp)", "http://cdn.example/t.webp"),
    ("[mail](mailto:support@relay.example)", "mailto:support@relay.example"),
    ("[docs](docs/guide.md)", "docs/guide.md"),
    ("[top](#results)", "#results"),
    ("[cdn](//cdn.example/x.mp4)", "//cdn.example/x.mp4"),
    ("[q](https://x.example/a?b=1&c=2)", "https://x.example/a?b=1&c=2"),
    (
        "[在线播放▶️][v]\n\n[v]: https://filesystem.site/cdn/x.mp4",
        "https://filesystem.site/cdn/x.mp4",
    ),
    ("[HTTPS](HTTPS://X.EXAMPLE/Y)", "HTTPS://X.EXAMPLE/Y"),
]


@pytest.mark.parametrize(("text", "url"), SAFE, ids=[t for t, _ in SAFE])
def test_safe_targets_stay(text, url):
    out = safe_markdown(text)
    assert REMOVED not in out
    assert targets(out) == [url]


def test_prose_with_colons_and_brackets_is_untouched():
    text = (
        "> ID: `task_01k7e5w9`\n> 排队中...\n>🏃 进度 36..44..61..81..\n"
        "Time [UTC]: 12:30, see [note]: below. Ratio 16:9 (portrait).\n"
    )
    assert safe_markdown(text) == text


def test_markdown_bundle_keeps_the_plain_text_as_sent():
    text = "[x](javascript&#58;alert(1)) & <b>"
    bundle = markdown_bundle(text)
    assert bundle["text/plain"] == text
    assert bundle["text/markdown"] == "[x](#unsafe-link-removed) &amp; &lt;b>"
