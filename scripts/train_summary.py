"""The job summary and the plan comment of the release-train workflow, in Markdown.

    train_summary.py summary --runs RUNS.tsv [--status STATUS.json] --gate-exit-code N
                             [--project DIR]
    train_summary.py plan --runs PLANS.tsv --base SHA

RUNS.tsv has one line per `release` command the job ran: exit code, log file, command line
(scripts/ci-release.sh writes it). STATUS.json is what `release status --json` printed.
The summary says how each command ended (done, waiting at a gate, failed), for a gate stop the
pull request, the missing checks and approvals and the next step, for a failure the end of
its log, and the train's state. Text from the forge (branches, check names, logins, log lines)
is data: escaped for Markdown and HTML, or inside a code fence it cannot close.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import yaml

LOG_LINES = 40
PLAN_CHARS = 15000
MARKER = "<!-- release-train-plan -->"
_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")
_LEADING = re.compile(r"^([#>+-]|\d+[.)])")


def md(text: object) -> str:
    """Forge text as inline Markdown that renders as the same text: no markup, no HTML,
    no mention, no line break."""
    value = " ".join(str(text).split())
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _LEADING.sub(r"\\\1", _SPECIAL.sub(r"\\\1", value))
    return value.replace("@", "@\u200b")


def code_span(text: object) -> str:
    """Text as an inline code span, whatever backticks it holds."""
    value = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    if not longest:
        return f"`{value}`"
    ticks = "`" * (longest + 1)
    return f"{ticks} {value} {ticks}"


def fenced(text: str) -> str:
    """A code block no line of `text` can close."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=0)
    fence = "`" * max(4, longest + 1)
    return f"{fence}\n{text.rstrip()}\n{fence}"


def link(url: object) -> str | None:
    """An http(s) URL safe inside a Markdown link target, else None."""
    value = str(url or "")
    if urlsplit(value).scheme not in ("http", "https"):
        return None
    return quote(value, safe=":/?#=&%+,;@~.-_")


@dataclass(frozen=True)
class Run:
    code: int
    log: Path
    command: str

    @property
    def words(self) -> list[str]:
        return self.command.split()

    @property
    def environment(self) -> str | None:
        # "release promote staging ...", "release cherry-pick staging SHA"
        words = self.words
        return words[2] if len(words) > 2 and not words[2].startswith("-") else None

    def outcome(self, gate: int) -> str:
        if self.code == 0:
            return "done"
        return "waiting at a gate" if self.code == gate else "failed"


def read_runs(path: Path) -> list[Run]:
    runs = []
    if path.is_file():
        for line in path.read_text().splitlines():
            parts = line.split("\t", 2)
            if len(parts) == 3 and parts[0].lstrip("-").isdigit():
                runs.append(Run(int(parts[0]), Path(parts[1]), parts[2]))
    return runs


def read_status(path: Path | None) -> list[dict[str, Any]] | None:
    if path is None or not path.is_file():
        return None
    try:
        rows = json.loads(path.read_text())
    except ValueError:
        return None
    return rows if isinstance(rows, list) else None


@dataclass(frozen=True)
class Gate:
    """What `release status` says a waiting pull request lacks."""

    number: int | None
    checks: tuple[str, ...]
    approvals: tuple[str, ...]
    other: tuple[str, ...]
    ready: bool = False


def parse_waiting(text: str | None) -> Gate | None:
    """`#12 waits: check ...; needs 1 more approval(s) ...` or `#12 ready to merge: ...`."""
    if not text:
        return None
    found = re.match(r"#(\d+) (waits|ready to merge):\s*(.*)$", text.strip(), re.DOTALL)
    if not found:
        return Gate(None, (), (), (text.strip(),))
    number, kind, rest = int(found.group(1)), found.group(2), found.group(3)
    if kind == "ready to merge":
        return Gate(number, (), (), (), ready=True)
    reasons = [r.strip() for r in rest.split("; ") if r.strip()]
    checks = tuple(r for r in reasons if r.startswith("check "))
    approvals = tuple(r for r in reasons if "approval" in r or "requested changes" in r)
    other = tuple(r for r in reasons if r not in checks and r not in approvals)
    return Gate(number, checks, approvals, other)


def web_url(project: Path | None, environment: str, number: int) -> str | None:
    """The pull request's page, from the stack file's repository and apiUrl."""
    if project is None:
        return None
    path = project / f"Pulumi.{environment}.yaml"
    try:
        config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return None
    repository = config.get("release-train:repository")
    api = str(config.get("release-train:apiUrl") or "https://api.github.com").rstrip("/")
    if not isinstance(repository, str) or not repository:
        return None
    parts = urlsplit(api)
    if parts.netloc == "api.github.com":
        base = "https://github.com"
    elif parts.path.endswith("/api/v3"):
        base = f"{parts.scheme}://{parts.netloc}{parts.path[: -len('/api/v3')]}"
    else:
        return None
    return f"{base}/{repository}/pull/{number}"


def pull_link(row: dict[str, Any], gate: Gate, project: Path | None, environment: str) -> str:
    if gate.number is None:
        return "not found"
    url = row.get("prUrl") if row.get("pr") == gate.number else None
    target = link(url or web_url(project, environment, gate.number))
    return f"[#{gate.number}]({target})" if target else f"#{gate.number}"


def gate_section(
    environment: str, row: dict[str, Any] | None, project: Path | None, stopped: bool
) -> list[str]:
    """The gate a promotion into `environment` waits at, and what to do next."""
    again = f"release promote {environment}"
    dispatch = f"dispatch this workflow with command `promote` and environment `{md(environment)}`"
    gate = parse_waiting((row or {}).get("waiting"))
    if gate is None:
        if not stopped:
            return []
        return [
            f"### {md(environment)}: stopped at a gate",
            "",
            f"`release status` shows no open gate on {md(environment)} now (merged or closed "
            "meanwhile?). Next step: run `release status`.",
            "",
        ]
    if gate.ready:
        return [
            f"### {md(environment)}: ready to merge",
            "",
            f"- pull request: {pull_link(row or {}, gate, project, environment)}",
            f"- next step: run {code_span(again)} ({dispatch}) to merge it.",
            "",
        ]
    lines = [
        f"### {md(environment)} waits at the merge gate",
        "",
        f"- pull request: {pull_link(row or {}, gate, project, environment)}",
    ]
    for title, reasons in (
        ("missing checks", gate.checks),
        ("missing approvals", gate.approvals),
        ("also", gate.other),
    ):
        if reasons:
            lines.append(f"- {title}:")
            lines.extend(f"  - {md(reason)}" for reason in reasons)
        elif title != "also":
            lines.append(f"- {title}: none")
    which = f"#{gate.number}" if gate.number else "the pull request"
    lines += [
        f"- next step: once the checks are green and the approvals are given on {which}, run "
        f"{code_span(again)} again: {dispatch}.",
        "",
    ]
    return lines


def _or_dash(value: object) -> str:
    return md(value) if value else "-"


def train_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| environment | release | commit | pull request | state | waiting |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        pr = row.get("pr")
        target = link(row.get("prUrl"))
        pr_cell = (f"[#{pr}]({target})" if target else f"#{pr}") if pr else "-"
        lines.append(
            "| "
            + " | ".join(
                [
                    _or_dash(row.get("environment")),
                    _or_dash(row.get("release")),
                    _or_dash(str(row.get("commit") or "")[:12]),
                    pr_cell,
                    _or_dash(row.get("state")),
                    _or_dash(row.get("waiting")),
                ]
            )
            + " |"
        )
    notes = [
        f"- {md(row.get('environment'))}: {md(note)}"
        for row in rows
        for note in row.get("dayTwo") or []
    ]
    return lines + ([""] + notes if notes else [])


def tail(path: Path, lines: int = LOG_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


ICONS = {"done": "✅", "waiting at a gate": "⏸️", "failed": "❌"}


def summary(
    runs: list[Run], rows: list[dict[str, Any]] | None, gate: int, project: Path | None
) -> str:
    outcomes = [run.outcome(gate) for run in runs]
    if "failed" in outcomes:
        headline = "failed"
    elif "waiting at a gate" in outcomes:
        headline = "waiting at a gate"
    elif runs:
        headline = "done"
    else:
        headline = "the train's state"
    out = [f"## release-train: {headline}", ""]
    if runs:
        out += ["| command | outcome |", "|---|---|"]
        for run, outcome in zip(runs, outcomes, strict=True):
            out.append(
                f"| {code_span(run.command)} | {ICONS[outcome]} {outcome} (exit {run.code}) |"
            )
        out.append("")
    by_env = {row.get("environment"): row for row in rows or []}
    shown: set[str] = set()
    for run, outcome in zip(runs, outcomes, strict=True):
        environment = run.environment
        if outcome == "done" or not environment or environment in shown:
            continue
        section = gate_section(
            environment, by_env.get(environment), project, outcome == "waiting at a gate"
        )
        if section:
            shown.add(environment)
            out += section
    for run, outcome in zip(runs, outcomes, strict=True):
        if outcome == "failed":
            out += [
                f"### {code_span(run.command)} failed (exit {run.code})",
                "",
                f"The end of its log ({LOG_LINES} lines at most):",
                "",
                fenced(tail(run.log)),
                "",
            ]
    out += ["### the train", ""]
    if rows is None:
        out.append("The train's state could not be read (`release status --json` failed).")
    else:
        out += train_table(rows)
    return "\n".join(out) + "\n"


def plan(runs: list[Run], base: str) -> str:
    out = [
        MARKER,
        f"### release plan of the base branch ({code_span(base[:12])})",
        "",
        "The plan runs the code this pull request merges into, never the pull request's own "
        "code (that ran, without secrets, in `make test`).",
    ]
    for run in runs:
        words = run.words
        environment = words[-1] if words else "?"
        try:
            text = run.log.read_text(errors="replace")[-PLAN_CHARS:]
        except OSError:
            text = "(no output)"
        out += [
            "",
            f"<details open><summary><b>{md(environment)}</b> (exit {run.code})</summary>",
            "",
            fenced(text),
            "",
            "</details>",
        ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    one = sub.add_parser("summary")
    one.add_argument("--runs", type=Path, required=True)
    one.add_argument("--status", type=Path)
    one.add_argument("--gate-exit-code", type=int, required=True)
    one.add_argument("--project", type=Path)
    two = sub.add_parser("plan")
    two.add_argument("--runs", type=Path, required=True)
    two.add_argument("--base", required=True)
    args = parser.parse_args(argv)
    if args.what == "summary":
        text = summary(
            read_runs(args.runs), read_status(args.status), args.gate_exit_code, args.project
        )
    else:
        text = plan(read_runs(args.runs), args.base)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
