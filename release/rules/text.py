"""Text from the forge is data: one escaping rule per place it is shown.

Commit titles and messages, author names, branch names, check names and the reasons built
from them are written by whoever can push to the repository. Each function here renders
such a value for one destination so that it is shown as typed and never interpreted:

- `md_code`, `md_cell`, `md_url`: GitHub Markdown (pull request bodies and comments). A value
  becomes a code span, where no HTML, comment, link, emphasis, mention (`@everyone`,
  `@acme/oncall`), emoji or issue reference is recognised; a table cell also escapes `|`.
- `slack`: Slack mrkdwn (webhook messages): `&`, `<` and `>` become entities, so no
  `<!everyone>`, `<@U123>` or `<url|label>` form can be made from the text.
- `term`: a rich console (the `release` command's output): rich markup is escaped.
- `plain`, `engine_line`: text printed with `print` (the engine's stream, plain listings).

Every function also shows control characters (ANSI escapes, carriage returns, newlines
inside a one-line value, bidirectional overrides) as visible escapes such as `\\x1b`, so a
value can neither reshape a terminal nor start a new Markdown block or Slack line.

Pure: no I/O; rich is used only for its markup escaping rule.
"""

from __future__ import annotations

import re
import unicodedata

from rich.markup import escape as _rich_escape

# Invisible characters that reorder or hide text (the "trojan source" set) and the Unicode
# line separators: shown like control characters.
_INVISIBLE = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# ANSI escape sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), and two-byte
# ESC sequences; also the 8-bit CSI.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_SAFE_URL = re.compile(r"^https?://[^\s<>`\"'\\\x00-\x1f\x7f]+$")


def _hidden(char: str) -> bool:
    return unicodedata.category(char) == "Cc" or char in _INVISIBLE


def visible(text: object, keep: str = "") -> str:
    """`text` with every control character (but those in `keep`) written as an escape:
    `\\n`, `\\r`, `\\t`, `\\x1b`, `\\u202e`. Other characters are unchanged."""
    value = "" if text is None else str(text)
    if not any(_hidden(c) for c in value):
        return value
    out = []
    for char in value:
        if char in keep or not _hidden(char):
            out.append(char)
        elif char in _NAMED:
            out.append(_NAMED[char])
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}")
    return "".join(out)


# --- GitHub Markdown -----------------------------------------------------------------------


def md_code(text: object) -> str:
    """`text` as a Markdown code span, shown exactly as `visible(text)`.

    The fence is one backtick longer than the longest run of backticks inside, and a space
    pads the content when it starts or ends with a backtick or would lose a space of its
    own (CommonMark strips one space from each end when both ends have one). An empty
    value renders as nothing.
    """
    content = visible(text)
    if not content:
        return ""
    runs = [len(run) for run in re.findall(r"`+", content)]
    fence = "`" * (max(runs, default=0) + 1)
    edges = content[0] + content[-1]
    pad = content.strip(" ") != "" and ("`" in edges or edges == "  ")
    if pad:
        content = f" {content} "
    return f"{fence}{content}{fence}"


def md_cell(text: object) -> str:
    """`text` as a code span in a GFM table cell: `|` is escaped as `\\|`, which the table
    parser reads back as `|` (even inside the code span), so the row keeps its columns."""
    return md_code(text).replace("|", "\\|")


def md_url(url: object) -> str:
    """A URL from the forge as a Markdown autolink, or as a code span when it is not a
    plain http(s) URL (so it can carry no markup and no other scheme)."""
    value = "" if url is None else str(url)
    if _SAFE_URL.match(value):
        return f"<{value}>"
    return md_code(value)


# --- Slack mrkdwn --------------------------------------------------------------------------


def slack(text: object, limit: int | None = None) -> str:
    """`text` for a Slack mrkdwn field: control characters visible (so a value starts no
    line and no quote), then `&`, `<`, `>` as `&amp;`, `&lt;`, `&gt;`, the escapes Slack
    documents. No `<!here>`, `<!subteam^…>`, `<@U…>`, `<#C…>` or `<url|label>` form survives.

    With `limit`, the result is cut to at most `limit` characters, ending in `…`, never in
    the middle of an entity.
    """
    escaped = [_SLACK.get(c, c) for c in visible(text)]
    if limit is None or sum(map(len, escaped)) <= limit:
        return "".join(escaped)
    out: list[str] = []
    used = 0
    for piece in escaped:
        if used + len(piece) > limit - 1:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out) + "…"


_SLACK = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


# --- terminals -----------------------------------------------------------------------------


def term(text: object, multiline: bool = False) -> str:
    """`text` for a rich console: control characters visible (newlines kept when
    `multiline`), and rich markup escaped, so `[/bold]` or `[api]` print as typed.

    The result prints as typed when it ends the line or plain text follows it (not a tag:
    a trailing backslash would escape a tag right after it).
    """
    value = visible(text, keep="\n" if multiline else "")
    # rich reads `\[` as an escaped `[` even where no tag follows: one more backslash there.
    value = _BACKSLASH_BRACKET.sub(r"\1\\[", value)
    # rich's escape doubles a trailing backslash, for a tag that would follow; the "x"
    # keeps a trailing backslash as it is, and cannot complete a tag.
    return _rich_escape(value + "x")[:-1]


# A `[` after backslashes that does not open something rich's markup reads as a tag.
_BACKSLASH_BRACKET = re.compile(r"(\\+)\[(?![a-z#/@][^\[]*?\])")


def plain(text: object, multiline: bool = False) -> str:
    """`text` for a plain `print`: control characters visible (newlines kept when
    `multiline`)."""
    return visible(text, keep="\n" if multiline else "")


def engine_line(line: str) -> str:
    """One line of the engine's output stream, for the terminal: ANSI escape sequences
    removed (they carry colours, or whatever a commit title smuggled in), other control
    characters visible, tabs kept."""
    return visible(_ANSI.sub("", line), keep="\t")
