"""What a release contains: "context on the staging payload".

The commits and pull requests since the previous release, and the component pins (PPC
revision, SDK version, ...) read from files of the repository at both ends. Pure functions
over the compare API's commit dicts; `render_markdown` keeps within the forge's body limit
and links to the full compare when it has to cut.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from release.rules.config import Pin
from release.rules.text import md_cell, md_code, md_url

BODY_LIMIT = 65536
_MERGE_PR = re.compile(r"^Merge pull request #(\d+)\b")
_SQUASH_PR = re.compile(r"\(#(\d+)\)\s*$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
# The body's own line naming the head it describes; forge text never starts a line of the
# body (commit lines start with "- "), so only this line can match.
_DESCRIBES = re.compile(r"^Describes head `([0-9a-f]{40})` ", re.MULTILINE)


@dataclass(frozen=True)
class PayloadCommit:
    sha: str
    title: str
    author: str
    pr: int | None = None


@dataclass(frozen=True)
class PinChange:
    name: str
    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class Payload:
    previous: str | None
    release: str
    base_sha: str | None
    head_sha: str
    commits: tuple[PayloadCommit, ...] = ()
    pins: tuple[PinChange, ...] = ()
    compare_url: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def prs(self) -> list[int]:
        return sorted({c.pr for c in self.commits if c.pr is not None})

    def summary(self) -> dict[str, Any]:
        """The payload in brief, for the stack's outputs: its size and its pins (the whole
        payload is in the pull request's body and state, `release payload ENV`)."""
        return {
            "release": self.release,
            "previous": self.previous,
            "head_sha": self.head_sha,
            "commits": len(self.commits),
            "prs": self.prs,
            "pins": [{**asdict(p), "changed": p.changed} for p in self.pins],
            "compare_url": self.compare_url,
        }

    def moved_to(self, head_sha: str) -> Payload:
        """This payload describing `head_sha` instead: a head that brings no commit and no
        change of its own beyond `head_sha`'s listing (the ours-merge, an empty diff whose
        other parent is the base), so the commits and pins are the same and only the head
        and the compare's link move."""
        url = self.compare_url
        if url and url.endswith(f"...{self.head_sha}"):
            url = url[: -len(self.head_sha)] + head_sha
        return replace(self, head_sha=head_sha, compare_url=url)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["prs"] = self.prs
        data["pins"] = [{**asdict(p), "changed": p.changed} for p in self.pins]
        data.pop("extra")
        return data


def describes_line(head_sha: str) -> str:
    """The body's line naming the release branch head it describes (the merge gate reads it)."""
    if not _SHA.match(head_sha or ""):
        return f"Describes head {md_code(head_sha)} (not a full SHA: the merge gate refuses it)."
    return (
        f"Describes head `{head_sha}` of the release branch, picks and reverts included; "
        "the merge gate merges no other head."
    )


def described_head(body: str | None) -> str | None:
    """The head a pull request body says it describes (its first such line), or None."""
    match = _DESCRIBES.search(body or "")
    return match.group(1) if match else None


def description_refusal(body: str | None, head_sha: str, environment: str) -> str | None:
    """Why the gate must not merge `head_sha` under this body into `environment`, or None:
    the approved body must describe the very head that merges."""
    described = described_head(body)
    again = f"run `release promote {environment}` to update the body"
    if described is None:
        return (
            f"the pull request body describes no head; the head to merge is {head_sha[:12]}: "
            f"{again}, then have it approved"
        )
    if described != head_sha:
        return (
            f"the pull request body describes head {described[:12]}, not the head to merge "
            f"{head_sha[:12]}: {again}, then have that head approved"
        )
    return None


def pr_number(message: str) -> int | None:
    """The pull request a commit came through, from its message, if it says."""
    title = (message or "").splitlines()[0] if message else ""
    match = _MERGE_PR.match(title) or _SQUASH_PR.search(title)
    return int(match.group(1)) if match else None


def payload_commits(compare_commits: Iterable[Mapping[str, Any]]) -> tuple[PayloadCommit, ...]:
    """The compare API's commits (oldest first) as payload lines, newest first.

    A commit that came in through a pull request is credited to it: the merge commit names
    its number, and so does every commit reached from the merge's other parents that the
    first-parent line of the release does not hold.
    """
    raws = list(compare_commits)
    through = pr_of_branch_commits(raws)
    rows = []
    trees = {
        str(r["sha"]): str(((r.get("commit") or {}).get("tree") or {}).get("sha")) for r in raws
    }
    for raw in raws:
        if _marks_merged(raw, trees):
            continue
        commit = raw.get("commit") or {}
        message = str(commit.get("message", ""))
        login = (raw.get("author") or {}).get("login")
        name = (commit.get("author") or {}).get("name", "")
        sha = str(raw["sha"])
        rows.append(
            PayloadCommit(
                sha=sha,
                title=message.splitlines()[0] if message else "",
                author=login or name,
                pr=pr_number(message) or through.get(sha),
            )
        )
    return tuple(reversed(rows))


def _marks_merged(raw: Mapping[str, Any], trees: Mapping[str, str]) -> bool:
    """Whether a listed commit only marks history that was already there as merged (an
    "ours" merge, as release.providers.ours_merge makes): a merge whose tree is its first
    parent's (it changes no file) and whose other parents are not in the listing (it brings
    no commit). It is no part of what the release brings, so the payload leaves it out:
    the payload of the release branch's head after the ours-merge is the cut's."""
    parents = [str(p["sha"]) for p in raw.get("parents") or []]
    if len(parents) < 2 or any(p in trees for p in parents[1:]):
        return False
    tree = str(((raw.get("commit") or {}).get("tree") or {}).get("sha"))
    return parents[0] in trees and trees[parents[0]] == tree != "None"


def pr_of_branch_commits(raws: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """For each commit brought in by a "Merge pull request #N" merge, that N."""
    parents = {str(r["sha"]): [str(p["sha"]) for p in r.get("parents") or []] for r in raws}
    messages = {str(r["sha"]): str((r.get("commit") or {}).get("message", "")) for r in raws}
    mainline: list[str] = []
    current = str(raws[-1]["sha"]) if raws else None
    while current in parents and current not in mainline:
        mainline.append(current)
        current = parents[current][0] if parents[current] else None
    on_mainline = set(mainline)
    credited: dict[str, int] = {}
    for merge in reversed(mainline):  # oldest merge first
        number = pr_number(messages[merge])
        if number is None:
            continue
        todo = [p for p in parents[merge][1:] if p in parents]
        while todo:
            sha = todo.pop()
            if sha in on_mainline or sha in credited:
                continue
            credited[sha] = number
            todo.extend(p for p in parents[sha] if p in parents)
    return credited


def read_pin(pin: Pin, text: str | None) -> str | None:
    """The pinned version in a file's text, or None when the file or the match is missing."""
    if text is None:
        return None
    match = re.search(pin.pattern, text, flags=re.MULTILINE)
    return match.group(1) if match else None


def pin_changes(
    pins: Sequence[Pin], before: Mapping[str, str | None], after: Mapping[str, str | None]
) -> tuple[PinChange, ...]:
    return tuple(PinChange(p.name, before.get(p.name), after.get(p.name)) for p in pins)


def render_markdown(payload: Payload, limit: int = BODY_LIMIT) -> str:
    """The payload as a pull request body, cut to `limit` characters with a compare link.

    Every value from the forge (release and branch names, commit titles, authors, pins, the
    compare URL) is a code span or an autolink (`release.rules.text`): a title such as
    `<!-- @everyone` is shown as typed, and neither hides the rest of the body nor pings.
    """
    head = [f"## Release {md_code(payload.release)}", "", describes_line(payload.head_sha), ""]
    if payload.previous:
        head.append(
            f"Since {md_code(payload.previous)}: {len(payload.commits)} commit(s), "
            f"{len(payload.prs)} pull request(s)."
        )
    else:
        head.append(f"{len(payload.commits)} commit(s); no earlier release found.")
    if payload.pins:
        head += ["", "| component | before | after |", "|---|---|---|"]
        for pin in payload.pins:
            mark = " **changed**" if pin.changed else ""
            head.append(
                f"| {md_cell(pin.name)}{mark} | {md_cell(pin.before or '-')} "
                f"| {md_cell(pin.after or '-')} |"
            )
    head += ["", "### Commits", ""]
    tail = []
    if payload.compare_url:
        tail = ["", f"Full compare: {md_url(payload.compare_url)}"]
    lines = list(head)
    budget = limit - len("\n".join(head + tail)) - 200
    shown = 0
    for commit in payload.commits:
        pr = f" (#{commit.pr})" if commit.pr else ""
        line = (
            f"- {md_code(commit.sha[:12])} {md_code(commit.title)}{pr} — {md_code(commit.author)}"
        )
        if budget - len(line) - 1 < 0:
            break
        budget -= len(line) + 1
        lines.append(line)
        shown += 1
    if shown < len(payload.commits):
        lines.append(f"- … and {len(payload.commits) - shown} more (see the full compare)")
    text = "\n".join(lines + tail)
    # Cut at a line's end: a line cut inside its code span would show the rest as Markdown.
    return text if len(text) <= limit else text[:limit].rsplit("\n", 1)[0]
