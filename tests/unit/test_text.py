"""Forge text is data: every renderer of release.rules.text, and the places that use them, fed
hostile and arbitrary titles (hypothesis), and what comes out parsed back.

Markdown is parsed with markdown-it (CommonMark with GFM tables): forge text must come back
only as code spans, equal to the text as typed (control characters shown as escapes), with
no HTML token, and a table keeps its columns. Slack text is unescaped by Slack's three
entities and compared. Terminal text is printed by the CLI's own console and compared.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.table import Table

from release.cli.console import make_console
from release.engine.day_two import abandon_comment
from release.notify import MAX_FIELD, MAX_TEXT, build_payload, format_message
from release.program.registration import rollback_body
from release.rules.payload import Payload, PayloadCommit, PinChange, render_markdown
from release.rules.text import engine_line, md_cell, md_code, md_url, plain, slack, term, visible
from tests.support import figures

MD = MarkdownIt("commonmark").enable("table")
SPECIAL = list("`|\\<>!-@*_[]()#&;:/~=\"' \n\r\t\x1b\x07\x00\u202e\u2028")
CASES = [
    "@everyone please look",
    "fix login for @acme/oncall",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<!-- hide everything below",
    "a | b | c",
    "use `code` and ``more``",
    "`",
    "``starts and ends``",
    " spaced ",
    "line one\nline two",
    "[/bold] closes nothing",
    "[api] speed up",
    "[bold red]alarm[/]",
    "\x1b[2J\x1b[31mred\x1b[0m",
    "carriage\rreturn",
    "<!channel> <!here> <@U123> <#C1> <https://evil|click> & done",
    "back\\slash\\",
    "**bold** _em_ [link](https://evil) ![img](https://evil/x.png) :tada: #12",
    "\u202eevil\u202c",
]
hostile = st.text(st.one_of(st.sampled_from(SPECIAL), st.characters()), max_size=40)
# 300 fixed cases per property by default; RELEASE_TRAIN_TEXT_EXAMPLES=N draws N new ones.
EXAMPLES = int(os.environ.get("RELEASE_TRAIN_TEXT_EXAMPLES", "0")) or 300
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize="RELEASE_TRAIN_TEXT_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow],
)


def prop(*strategies: Any, **named: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return figures.counted(PROPERTY, *strategies, **named)


def tokens(markdown: str) -> list[Token]:
    """Every token of the document, children included."""
    found = []
    for token in MD.parse(markdown):
        found.append(token)
        found.extend(token.children or [])
    return found


def no_html(markdown: str, links: tuple[str, ...] = ()) -> None:
    """No raw HTML (no tag, no comment), no image, and no link but `links`."""
    found = tokens(markdown)
    assert not {t.type for t in found} & {"html_block", "html_inline", "image"}
    assert [t.attrs["href"] for t in found if t.type == "link_open"] == list(links)


def paragraph_children(markdown: str) -> list[Token]:
    [inline] = [t for t in MD.parse(markdown) if t.type == "inline"]
    return inline.children or []


# --- Markdown ------------------------------------------------------------------------------


@prop(hostile)
def test_a_code_span_shows_any_text_as_typed(value: str) -> None:
    children = paragraph_children(f"before {md_code(value)} after")
    codes = [t.content for t in children if t.type == "code_inline"]
    assert codes == ([visible(value)] if value else [])
    assert [t.content for t in children if t.type == "text"] == (
        ["before ", " after"] if value else ["before  after"]
    )


@prop(st.lists(hostile, min_size=1, max_size=4))
def test_a_table_cell_keeps_the_columns_and_the_text(values: list[str]) -> None:
    header = "| " + " | ".join(f"h{i}" for i in range(len(values))) + " |"
    rule = "|" + "---|" * len(values)
    row = "| " + " | ".join(md_cell(v or "-") for v in values) + " |"
    parsed = MD.parse("\n".join([header, rule, row]))
    cells = [t for t in parsed if t.type == "td_open"]
    assert len(cells) == len(values)
    inlines = [t for t in parsed if t.type == "inline"][len(values) :]
    for inline, value in zip(inlines, values, strict=True):
        children = inline.children or []
        assert [t.type for t in children] == ["code_inline"]
        assert children[0].content == visible(value or "-")


def commit_strategy() -> st.SearchStrategy[PayloadCommit]:
    return st.builds(
        PayloadCommit,
        sha=st.text("0123456789abcdef", min_size=40, max_size=40),
        title=hostile,
        author=hostile,
        pr=st.none() | st.integers(1, 9999),
    )


@prop(
    release=hostile,
    previous=st.none() | hostile,
    commits=st.lists(commit_strategy(), max_size=5),
    pins=st.lists(st.tuples(hostile, st.none() | hostile, st.none() | hostile), max_size=3),
    compare=st.none() | hostile | st.just("https://forge.example/acme/service/compare/a...b"),
)
def test_the_pull_request_body_shows_forge_text_only_as_code(
    release, previous, commits, pins, compare
) -> None:
    payload = Payload(
        previous=previous or None,
        release=release,
        base_sha=None,
        head_sha="0" * 40,
        commits=tuple(commits),
        pins=tuple(PinChange(*pin) for pin in pins),
        compare_url=compare or None,
    )
    body = render_markdown(payload)
    link = md_url(compare) if compare else ""
    no_html(body, (compare,) if link.startswith("<") else ())
    parsed = MD.parse(body)
    # No forge text outside code spans: the plain text left is the template's own words.
    words = " ".join(t.content for t in tokens(body) if t.type == "text")
    assert "@" not in words and "<" not in words and "&" not in words
    # One list item per commit, its code spans the SHA, the title and the author as typed.
    items = [i for i, t in enumerate(parsed) if t.type == "list_item_open"]
    assert len(items) == len(commits)
    for index, commit in zip(items, commits, strict=True):
        inline = parsed[index + 2]
        codes = [t.content for t in inline.children or [] if t.type == "code_inline"]
        wanted = [commit.sha[:12], commit.title, commit.author]
        assert codes == [visible(v) for v in wanted if v]
    # The pin table keeps three columns in every row, and its values.
    rows = [t for t in parsed if t.type == "tr_open"]
    assert len(rows) == (len(pins) + 1 if pins else 0)
    assert len([t for t in parsed if t.type in ("td_open", "th_open")]) == 3 * len(rows)
    cells = [
        t.children[0].content
        for t in parsed
        if t.type == "inline" and t.children and t.children[0].type == "code_inline"
    ]
    for name, before, after in pins:
        assert visible(before or "-") in cells and visible(after or "-") in cells
        assert not name or visible(name) in cells
    # The compare link is the body's last paragraph, after every commit.
    if compare:
        assert body.splitlines()[-1] == f"Full compare: {md_url(compare)}"


def test_the_cases_of_the_issue_in_a_pull_request_body() -> None:
    commits = tuple(
        PayloadCommit(f"{i:040x}", title, author, pr=i or None)
        for i, (title, author) in enumerate(zip(CASES, reversed(CASES), strict=True))
    )
    url = "https://forge.example/acme/service/compare/a...b"
    body = render_markdown(
        Payload(
            previous="release/<!--",
            release="release/2026-11-29",
            base_sha=None,
            head_sha="0" * 40,
            commits=commits,
            pins=(PinChange("sdk|x", "v1|2", "`v2`"),),
            compare_url=url,
        )
    )
    no_html(body, (url,))
    html = MD.render(body)
    for case in ("<script>", "<img", "<!--", "<!channel>"):
        assert case not in html
    # Nothing after a "<!--" title is hidden: every commit is a list item, the link is live.
    assert html.count("<li>") == len(CASES)
    assert f'<a href="{url}">{url}</a>' in html
    assert "<code>@everyone please look</code>" in html
    assert "<code>fix login for @acme/oncall</code>" in html
    assert "<code>a | b | c</code>" in html
    assert "<code>line one\\nline two</code>" in html  # one list item, newline shown
    assert "<code>`</code>" in html and "<code>use `code` and ``more``</code>" in html
    assert "<code>``starts and ends``</code>" in html
    assert html.count("<td>") == 3
    assert "<code>sdk|x</code>" in html and "<code>v1|2</code>" in html
    assert "<code>`v2`</code>" in html


def test_a_compare_url_that_is_not_plain_http_is_not_a_link() -> None:
    assert md_url("https://forge.example/compare/a...b") == (
        "<https://forge.example/compare/a...b>"
    )
    for bad in ("javascript:alert(1)", "https://x/<script>", "https://x y", "http://a\n<!--"):
        rendered = md_url(bad)
        assert rendered.startswith("`")
        no_html(f"Full compare: {rendered}")


@prop(who=hostile, reason=hostile, release=hostile)
def test_the_abandon_comment_shows_the_reason_as_typed(who, reason, release) -> None:
    comment = abandon_comment(who, reason, release, "staging")
    no_html(comment)
    codes = [t.content for t in tokens(comment) if t.type == "code_inline"]
    assert codes == [visible(v) for v in (who, reason, release, "staging") if v]
    words = " ".join(t.content for t in tokens(comment) if t.type == "text")
    assert "@" not in words and "<" not in words


def test_the_rollback_body_shows_names_as_code() -> None:
    body = rollback_body(
        "production",
        "release/<!--",
        "a" * 40,
        "release/2026-11-29",
        "rollback/production-2026-12-01",
        2,
        ["@acme/oncall", "dana"],
    )
    no_html(body)
    html = MD.render(body)
    assert "<!--" not in html and "Gates: the required checks" in html
    assert "<code>@acme/oncall</code>, <code>dana</code>" in html


# --- Slack ---------------------------------------------------------------------------------


def slack_unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def slack_clean(text: str) -> None:
    """No `<` or `>` at all (these messages make no links of their own), and every `&`
    starts one of Slack's three entities."""
    assert "<" not in text and ">" not in text
    assert re.fullmatch(r"(?:[^&]|&amp;|&lt;|&gt;)*", text, flags=re.S)


@prop(hostile, st.none() | st.integers(1, 60))
def test_slack_text_escapes_and_keeps_any_text(value: str, limit: int | None) -> None:
    out = slack(value, limit)
    slack_clean(out.removesuffix("…") if limit else out)
    if limit is None or len(slack(value)) <= limit:
        assert slack_unescape(out) == visible(value)
    else:
        assert len(out) <= limit and out.endswith("…")
        assert visible(value).startswith(slack_unescape(out[:-1]))


@prop(text=hostile, detail=hostile, release=hostile)
def test_a_webhook_message_is_valid_block_kit_with_every_text_escaped(text, detail, release):
    for payload in (
        build_payload("blocked", text, {"detail": detail}),
        format_message("blocked", release, "staging", detail),
    ):
        json.dumps(payload)  # serialisable
        slack_clean(payload["text"])
        objects = [payload["blocks"][0]["text"], *payload["blocks"][1]["fields"]]
        objects += payload["blocks"][2]["elements"]
        for obj in objects:
            assert obj["type"] == "mrkdwn" and obj["verbatim"] is True
            assert 1 <= len(obj["text"]) <= MAX_TEXT
            slack_clean(obj["text"].replace("…", ""))
        assert all(len(f["text"]) <= MAX_FIELD for f in payload["blocks"][1]["fields"])


def test_slack_forms_from_a_commit_title_are_shown_not_parsed() -> None:
    title = "<!channel> <!subteam^S1|@oncall> <@U123> <#C1> <https://evil|click> & more"
    payload = format_message("blocked", "release/2026-11-29", "staging", f"lost: {title}")
    detail = payload["blocks"][1]["fields"][-1]["text"]
    assert detail == (
        "*detail*\nlost: &lt;!channel&gt; &lt;!subteam^S1|@oncall&gt; &lt;@U123&gt; "
        "&lt;#C1&gt; &lt;https://evil|click&gt; &amp; more"
    )
    assert slack("a\n&gt; quote") == "a\\n&amp;gt; quote"  # no new line, no quote
    cut = slack("&" * 10, limit=7)
    assert cut == "&amp;…"  # never half an entity


# --- terminals -----------------------------------------------------------------------------


def printed(*renderables, **kwargs) -> str:
    buffer = io.StringIO()
    console = make_console(file=buffer)
    console.print(*renderables, highlight=False, **kwargs)
    return buffer.getvalue()


@prop(hostile)
def test_the_console_prints_any_forge_text_as_typed(value: str) -> None:
    assert printed(term(value)) == visible(value) + "\n"
    assert printed(f"[bold]note:[/] {term(value)} (end)") == f"note: {visible(value)} (end)\n"
    assert "\x1b" not in printed(term(value)) and "\r" not in printed(term(value))


@prop(hostile)
def test_multiline_text_keeps_its_lines_and_nothing_else(value: str) -> None:
    assert printed(term(value, multiline=True)) == visible(value, keep="\n") + "\n"
    assert plain(value, multiline=True) == visible(value, keep="\n")


def test_the_terminal_cases_of_the_issue() -> None:
    assert printed(term("[/bold] closes nothing")) == "[/bold] closes nothing\n"
    assert printed(term("[api] speed up")) == "[api] speed up\n"
    assert printed(term("\x1b[2Jclear")) == "\\x1b[2Jclear\n"
    assert printed(term(":tada: shipped")) == ":tada: shipped\n"
    table = Table()
    table.add_column("summary")
    table.add_row(term("[red]x[/red] [api]"))
    assert "[red]x[/red] [api]" in printed(table)


def test_the_engine_stream_loses_escape_sequences_and_shows_control_characters() -> None:
    line = "error: lost \x1b[31mfix\x1b[0m \x1b]8;;https://evil\x07link\x1b]8;;\x07 a\rb\tc"
    assert engine_line(line) == "error: lost fix link a\\rb\tc"


# --- logs: no wrapping when the output is not a terminal -----------------------------------


def test_a_console_writing_to_a_log_never_wraps() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    line = f"[bold]staging[/]: promoting {sha} as release/2026-11-29 " + "x" * 300
    out = printed(line)
    assert out == f"staging: promoting {sha} as release/2026-11-29 {'x' * 300}\n"
    table = Table()
    table.add_column("release", no_wrap=True)
    table.add_row("release/2026-11-29-" + "y" * 200)
    assert "release/2026-11-29-" + "y" * 200 in printed(table)  # not cut to 80 columns


def test_a_lost_fix_is_named_on_one_line_without_escape_sequences() -> None:
    from release.rules.fixes import LostFix, LostFixError

    fix = LostFix("a" * 40, "\x1b[2Jfix\rlogin [/bold]", "dana\x07")
    message = str(LostFixError("release/2026-11-19", "release/2026-11-26", [fix]))
    assert "  - aaaaaaaaaaaa \\x1b[2Jfix\\rlogin [/bold] (dana\\x07)\n" in message
    assert printed(term(message, multiline=True)).count("[/bold]") == 1
