"""The day-two commands of `python -m release` (a command group, composed in release/cli/__init__.py).

release cherry-pick ENV SHA... [--allow-off-master]   pick fixes into the release, re-PR it
release cherry-pick ENV SHA... --drop                  take queued picks out (no rewrite)
release revert ENV SHA                                 revert one commit of the release
release rollback ENV [--to RELEASE] [--force]          restore an earlier release, via a PR
release abandon ENV [--reason TEXT]                    close the PR, go back to the last release
release history ENV [--json] [--all]                   promotions, picks, reverts, rollbacks
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from pulumi import automation as auto

from release import notify
from release.cli.common import (
    EnvArg,
    actor,
    check_env,
    check_forge,
    config_message,
    console,
    engine_failed,
    err_console,
    fail,
    forge_session,
    gate_wait,
    post_event,
    project,
    refuse_if_locked,
    webhook,
)
from release.engine import automation, day_two, recovery
from release.engine.day_two import DayTwoError, FlowResult
from release.rules.config import ConfigError, Settings
from release.rules.text import term

T = TypeVar("T")

VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show the engine's per-resource stream.")
]


def stream(verbose: bool) -> Callable[[str], None]:
    """The engine's output stream: printed with --verbose, else not shown (a failure still
    shows its error; the summary and the gate's state are printed either way)."""
    return automation.printer() if verbose else (lambda _line: None)


app = typer.Typer()
"""The day-two commands: composed into release.cli.app."""


def _run(what: str, env: str, flow: Callable[[], T], hint: str = "") -> T:
    try:
        return flow()
    except ConfigError as err:
        fail(config_message(env, err))
    except DayTwoError as err:
        fail(str(err))
    except auto.ConcurrentUpdateError as err:
        fail(recovery.locked_message(env, err))
    except auto.CommandError as err:
        engine_failed(what, env, err, hint)
    raise AssertionError("unreachable")


def _well_formed(shas: dict[str, str]) -> dict[str, str]:
    """The SHAs given in full (a short or malformed one is refused by the flow's own check)."""
    return {k: v for k, v in shas.items() if re.fullmatch("[0-9a-f]{40}", v)}


def _report(env: str, result: FlowResult, post: Callable[[], None] | None = None) -> None:
    """Print what the command did; then `post` its notifications (before a gate wait ends
    the command with its exit code, so a held merge is posted too)."""
    for note in result.notes:
        console.print(term(f"  note: {note}"), highlight=False)
    values = result.outputs
    if values:
        for key in ("releaseBranch", "releaseHead", "prUrl", "state"):
            if values.get(key) is not None:
                console.print(term(f"  {key}: {values[key]}"), highlight=False)
        for line in day_two.day_two_summary(values):
            console.print(term(f"  {line}"), highlight=False)
    if post is not None:
        post()
    if values:
        gate_wait(env, values)  # never "done" for a merge that did not happen
    console.print(f"[green]{env}: done[/]")


def day_two_events(
    env: str, command: str, result: FlowResult, by: str, reason: str = ""
) -> list[notify.Event]:
    """What a finished day-two command posts (pure): what its `up` did, from the state of the
    train's resources before and after it (a merge of the re-PR'd release, a rollback's
    merge, either one held at its gate), and an abandon once its pull request was closed."""
    run = notify.Run(command=command, ok=True, actor=by)
    found = [
        e for e in notify.run_events(env, result.before, result.after, run) if e.kind != "abandoned"
    ]
    if command == "abandon" and result.abandoned is not None:
        release, url = result.abandoned
        back = (result.after.get("pull-request") or {}).get("head") or "the release before"
        found.append(
            notify.Event(
                "abandoned",
                release,
                env,
                reason,
                url,
                by,
                f"{env} is back on {back}; the next release is cut on its day",
            )
        )
    return found


def _post(
    proj: automation.Project, env: str, command: str, result: FlowResult, reason: str = ""
) -> None:
    """Post what the command did to the stack's webhook, if it has one (best effort)."""
    try:
        events = day_two_events(env, command, result, actor(), reason)
        url = webhook(proj, env) if events else None
        for event in events if url else []:
            post_event(url, event)
    except Exception as err:  # noqa: BLE001 - a chat outage never fails the command
        err_console.print(f"warning: notifications not sent: {type(err).__name__}")


@app.command("cherry-pick")
def cherry_pick(
    env: EnvArg,
    shas: Annotated[list[str], typer.Argument(help="Full SHAs of master commits, in order.")],
    allow_off_master: Annotated[
        bool,
        typer.Option(
            "--allow-off-master", help="Pick commits that are not on master (upstream first)."
        ),
    ] = False,
    verbose: VerboseOpt = False,
    drop: Annotated[
        bool,
        typer.Option(
            "--drop", help="Take the commits out of the queued picks (the branch is not rewritten)."
        ),
    ] = False,
) -> None:
    """Cherry-pick commits (with -x) into the release branch, then PR it into ENV."""
    proj = project()
    settings = check_env(proj, env)
    named = {
        "SHA" if len(shas) == 1 else f"SHA {i + 1}": s.strip().lower() for i, s in enumerate(shas)
    }
    refuse_if_locked(proj, env)  # a held lock refuses at once, before any forge read
    check_forge(proj, settings, None, write=True, arguments=_well_formed(named))
    result = _run(
        "cherry-pick",
        env,
        lambda: day_two.cherry_pick(
            proj,
            settings,
            shas,
            allow_off_master=allow_off_master,
            by=actor(),
            on_output=stream(verbose),
            drop=drop,
        ),
        hint=f"\nA closed gate: the pick is recorded; run `release promote {env}` again once "
        "checks and approvals are there. A pick that cannot apply is not recorded: make a fix "
        "on master that applies to the release and pick that instead.",
    )
    _report(env, result, lambda: _post(proj, env, "cherry-pick", result))


@app.command()
def revert(
    env: EnvArg,
    sha: Annotated[str, typer.Argument(help="Full SHA of a commit of the release branch.")],
    verbose: VerboseOpt = False,
) -> None:
    """Revert one commit of the release branch, then PR it into ENV."""
    proj = project()
    settings = check_env(proj, env)
    refuse_if_locked(proj, env)  # a held lock refuses at once, before any forge read
    check_forge(
        proj, settings, None, write=True, arguments=_well_formed({"SHA": sha.strip().lower()})
    )
    result = _run(
        "revert",
        env,
        lambda: day_two.revert(proj, settings, sha, by=actor(), on_output=stream(verbose)),
    )
    _report(env, result, lambda: _post(proj, env, "revert", result))


@app.command()
def rollback(
    env: EnvArg,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Release to go back to (default: the one before)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a rollback in progress.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Restore an earlier release's tree on ENV through a PR and the same gates."""
    proj = project()
    settings = check_env(proj, env)
    result = _run(
        "rollback",
        env,
        lambda: day_two.rollback(proj, settings, to, force, by=actor(), on_output=stream(verbose)),
    )
    _report(env, result, lambda: _post(proj, env, "rollback", result))


@app.command()
def abandon(
    env: EnvArg,
    reason: Annotated[
        str, typer.Option("--reason", help="Why; posted on the pull request.")
    ] = "abandoned by oncall",
    verbose: VerboseOpt = False,
) -> None:
    """Close ENV's open release PR and return the stack to the release it ran before."""
    proj = project()
    settings = check_env(proj, env)
    session = forge_session(proj, settings)
    result = _run(
        "abandon",
        env,
        lambda: day_two.abandon(
            proj, settings, session, reason, by=actor(), on_output=stream(verbose)
        ),
    )
    _report(env, result, lambda: _post(proj, env, "abandon", result, reason))


@app.command()
def history(
    env: EnvArg,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    everything: Annotated[
        bool, typer.Option("--all", help="Also plain updates and refreshes.")
    ] = False,
) -> None:
    """Every promotion, pick, revert, rollback and abandon of ENV: who, when, what, which PR."""
    found = _run("history", env, lambda: day_two.history(project(), env, everything))
    if as_json:
        print(json.dumps([row.to_dict() for row in found], indent=2))
        return
    if not found:
        err_console.print(f"{env} has no release events in its history yet")
        return
    from rich.table import Table  # imported for `history` only

    table = Table(title=f"{env} history")
    columns = ("when", "who", "kind", "release", "commit", "made", "pr", "outcome", "summary")
    for column in columns:
        table.add_column(column)
    for row in found:
        outcome = row.outcome or row.result
        if row.merge_commit:
            outcome += f" ({row.merge_commit[:12]})"
        cells = (
            row.when[:19],
            row.who,
            row.kind,
            row.release or "-",
            (row.commit or "-")[:12],
            ",".join(m[:12] for m in (row.made or "-").split(",")),
            f"#{row.pr}" if row.pr else "-",
            outcome,
            row.summary,
        )
        table.add_row(*map(term, cells))
    console.print(table)


def check_promote(settings: Settings, ops: list[dict[str, Any]]) -> None:
    """Called by `release promote` with its `pin` op, before any write."""
    env = settings.stack
    notes = _run("promote", env, lambda: day_two.check_promote(project(), settings, ops))
    for note in notes:
        console.print(term(f"  note: {note}"), highlight=False)
