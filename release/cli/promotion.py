"""The promotion commands of `python -m release`, on the Automation API.

release plan ENV        dry run (pulumi preview): the commit, the ours-merge, the PR, gates
release promote ENV     pin the commit and date in the stack's record of intent (pulumi up)
release status          each environment's release, commit, PR and gate state
release payload ENV     what the environment's release contains
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pulumi import automation as auto

from release.cli import day_two as cli_day_two
from release.cli import ops as cli_ops
from release.cli.common import (
    EnvArg,
    actor,
    check_env,
    check_forge,
    console,
    deployment_text,
    engine_failed,
    err_console,
    fail,
    forge_session,
    gate_wait,
    load,
    program_forge_error,
    project,
    read_deployments,
    refuse_if_locked,
)
from release.engine import automation, recovery
from release.engine.day_two import day_two_summary, intent_env, new_op, record_carry, release_pull
from release.engine.intent_store import read_record
from release.rules import clock
from release.rules.config import (
    CARRY_OVERRIDE,
    ConfigError,
    Settings,
    check_sha,
)
from release.rules.history import stamp
from release.rules.intent import describe
from release.rules.outcomes import gate_of, promotion_summary
from release.rules.running import (
    RECORD_OVERRIDE,
    StackRecord,
    continue_choice,
    in_flight,
    record_from_state,
)
from release.rules.targets import Target, TargetError, resolve_target
from release.rules.text import term

if TYPE_CHECKING:
    pass

app = typer.Typer()
"""plan, promote, status, payload: composed into release.cli.app."""

CommitOpt = Annotated[
    str | None, typer.Option("--commit", help="Promote this full SHA instead of the source's.")
]
DateOpt = Annotated[
    str | None,
    typer.Option(
        "--date",
        help="Release date YYYY-MM-DD (default: the promotion waiting at the gate, else "
        "today, UTC).",
    ),
]
CarryOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--carry",
        help="Full SHA of a fix only the running release has: cherry-pick it onto the new "
        "release (repeatable; needs --reason).",
    ),
]
ReasonOpt = Annotated[
    str | None,
    typer.Option(
        "--reason", help="Why --carry carries commits, or why --force overrides rules (history)."
    ),
]


def stack_record(proj: automation.Project, env: str) -> StackRecord:
    """What the stack's own state says `env` runs and has in flight (reads only)."""
    return record_from_state(automation.resources(proj, env), automation.outputs(proj, env))


def pull_open(proj: automation.Project, settings: Settings, number: int | None) -> bool | None:
    """Whether pull request `number` is open on the forge now; None when it cannot be read."""
    if number is None:
        return None
    try:
        return forge_session(proj, settings).repo.get_pull(int(number)).state == "open"
    except Exception:  # noqa: BLE001 - the stack's record decides alone then
        return None


def target_for(
    proj: automation.Project,
    env: str,
    settings: Settings,
    commit: str | None,
    date: str | None,
    source_outputs: dict[str, Any] | None = None,
    record: StackRecord | None = None,
) -> Target | None:
    """What to promote on `env`, or None for the stack that tracks its source branch.

    A promotion waiting at the gate (its PR open, from the stack's state and the forge) is
    continued, whatever today's date: another release needs --date, --commit or
    `release abandon` first.
    """
    source = settings.promotes_from
    if not source:
        if commit or date:
            fail(f"{env} tracks its source branch: --commit and --date do not apply")
        return None
    waiting = None
    if record is not None and record.in_flight_branch:
        waiting = in_flight(record, pull_open(proj, settings, record.in_flight_pr))
    chosen = continue_choice(waiting, commit, date)
    if waiting is not None and chosen is not None:
        pr = f"PR #{waiting.pr}" if waiting.pr else "its PR"
        return Target(
            chosen[0],
            waiting.release_date,
            f"continues {waiting.branch}, waiting at the gate ({pr}); to start another "
            f"release instead: `release abandon {env}`, or pass --date",
        )
    if waiting is not None:
        console.print(
            term(
                f"  note: {waiting.branch} waits at the gate (PR #{waiting.pr}); the options "
                "start another release instead"
            ),
            highlight=False,
        )
    if source_outputs is None:
        source_outputs = automation.outputs(proj, source)
    try:
        return resolve_target(env, source, source_outputs, commit, date, clock.today())
    except TargetError as err:
        fail(str(err))
    return None


def run_engine(
    action: str,
    stack: auto.Stack,
    message: str | None = None,
    verbose: bool = True,
    on_failure: Callable[[], None] | None = None,
    user_error: Callable[[str], str | None] | None = None,
) -> Any:
    """Preview or `up` the stack. Without `verbose`, the engine's per-resource stream is
    not printed (a failure still shows its error). `on_failure` runs after a failed run, before its error ends the command.
    `user_error` finds, in a failed run's error text, a user error to end the command with
    as its one line (`program_forge_error`)."""
    stream = automation.printer() if verbose else (lambda _line: None)
    try:
        if action == "preview":
            return stack.preview(on_output=stream, diff=False)
        return automation.up(  # after a crashed run, recovers first
            stack,
            message,
            on_output=stream,
            on_note=lambda note: console.print(f"recovered: {term(note)}", highlight=False),
        )
    except auto.ConcurrentUpdateError as err:
        fail(recovery.locked_message(stack.name, err))
    except auto.CommandError as err:
        if on_failure is not None:
            on_failure()
        message = user_error(str(err)) if user_error is not None else None
        if message:
            fail(message)
        engine_failed(action, stack.name, err)


def describe_gate(settings: Settings) -> str:
    """The merge gate of a stack's pull requests, in words."""
    checks = ", ".join(settings.required_checks) or "every reported check"
    who = ", ".join(settings.reviewers) or "anyone"
    return (
        f"{checks} green on the PR head; {settings.required_approvals} approval(s) of that "
        f"head from {who}; merged with a merge commit"
    )


def check_carry(carry: list[str] | None, reason: str | None) -> list[str]:
    """The --carry SHAs, checked, or an error saying what to give (before any write)."""
    wanted = []
    for sha in carry or []:
        try:
            wanted.append(check_sha("--carry", sha.strip().lower()))
        except ConfigError as err:
            fail(f"option --carry {sha!r}: {err.fix}")
    if wanted and not (reason or "").strip():
        fail('--carry needs --reason "why this fix is carried instead of landing on master"')
    return wanted


@app.command()
def plan(
    env: EnvArg,
    commit: CommitOpt = None,
    date: DateOpt = None,
    carry: CarryOpt = None,
    reason: ReasonOpt = None,
) -> None:
    """Dry run: what `promote` would do. Writes nothing to the forge."""
    proj = project()
    settings = check_env(proj, env)
    carried = check_carry(carry, reason)
    source = automation.outputs(proj, settings.promotes_from) if settings.promotes_from else {}
    record = stack_record(proj, env) if settings.promotes_from else None
    target = target_for(proj, env, settings, commit, date, source, record)
    if carried and not target:
        fail(f"{env} tracks its source branch: --carry does not apply")
    # A dry run writes nothing: unless --commit names a SHA to check first, the forge is
    # checked by the program's first read (its repository, the same check and message:
    # `program_forge_error`), so the command decrypts no token before the engine starts.
    extra = (
        check_forge(proj, settings, target, write=False)
        if target and target.reason == "--commit"
        else {}
    )
    if target:
        what = f"{term(target.commit)} as {term(target.branch)}"
        console.print(f"[bold]{env}[/]: would promote {what}", highlight=False)
        console.print(f"  chosen because: {term(target.reason)}", highlight=False)
        for skipped in source.get("skipped") or []:
            line = f"{skipped['sha'][:12]}: {skipped['reason']}"
            console.print(f"  skipped {term(line)}", highlight=False)
        console.print(f"  merge gate: {term(describe_gate(settings))}", highlight=False)
        for line in describe(read_record(proj, env)):
            console.print(f"  recorded {term(line)}", highlight=False)
        day = target.release_date.isoformat()
        # The pin goes to this preview only; a preview records nothing.
        pin = new_op("pin", actor(), commit=target.commit, date=day)
        extra.update(intent_env([pin]))
        extra[RECORD_OVERRIDE] = record.to_json() if record else ""
        extra[CARRY_OVERRIDE] = ",".join(carried)
    result = run_engine(
        "preview",
        automation.stack(proj, env, extra),
        user_error=lambda text: program_forge_error(proj, env, text),
    )
    console.print(f"changes: {dict(result.change_summary)}")


@app.command()
def promote(
    env: EnvArg,
    commit: CommitOpt = None,
    date: DateOpt = None,
    force: Annotated[
        bool,
        typer.Option(
            help="Promote anyway (with --reason): a rolled-back release, a freeze date, a "
            "release staging did not merge, a short soak; every rule overridden is named."
        ),
    ] = False,
    carry: CarryOpt = None,
    reason: ReasonOpt = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show the engine's per-resource stream.")
    ] = False,
) -> None:
    """Pin the commit and date in the stack's record of intent, in the same `pulumi up`."""
    proj = project()
    settings = check_env(proj, env)
    carried = check_carry(carry, reason)
    if force and not (reason or "").strip():
        fail('--force needs --reason "why the rules are overridden" (kept in release history)')
    record = stack_record(proj, env) if settings.promotes_from else None
    target = target_for(proj, env, settings, commit, date, record=record)
    if carried and not target:
        fail(f"{env} tracks its source branch: --carry does not apply")
    refuse_if_locked(proj, env)  # before anything is recorded
    handover = check_forge(proj, settings, target, write=True)
    # freeze dates; in production, a release staging merged, soaked since that merge
    overridden = cli_ops.check_promote(proj, settings, target, force, reason)
    ops = []
    if target:
        day = target.release_date.isoformat()
        ops = [new_op("pin", actor(), commit=target.commit, date=day, force=force)]
        ops += record_carry(carried, actor(), reason)  # after the pin: what it carries
        cli_day_two.check_promote(settings, ops)  # refuses a rolled-back release
        what = f"{term(target.commit)} as {term(target.branch)}"
        console.print(f"[bold]{env}[/]: promoting {what}", highlight=False)
        console.print(f"  chosen because: {term(target.reason)}", highlight=False)
    summary_text = f"{target.branch} -> {env}" if target else f"track {env}"
    if carried:
        summary_text += f"; carrying {', '.join(s[:12] for s in carried)}: {reason}"
    if overridden:
        summary_text += f"; {overridden}"
    message = stamp(
        "promotion",
        summary_text,
        release=target.branch if target else None,
        commit=target.commit if target else None,
        by=actor(),
    )
    extra = {
        **handover,
        **intent_env(ops),
        **({RECORD_OVERRIDE: record.to_json()} if record else {}),
    }
    stack = cli_ops.notifying(proj, settings, target, extra)
    on_failure = (lambda: fail_deployments(proj, settings)) if target else None
    result = run_engine("up", stack, message, verbose, on_failure)
    summary = dict(result.summary.resource_changes or {})
    values = {k: v.value for k, v in result.outputs.items()}
    _print_outputs(env, values)
    gate_wait(env, values)  # exits GATE_WAIT_EXIT_CODE when the merge waits
    console.print(f"[green]{env} is up to date[/] ({summary})")


def fail_deployments(proj: automation.Project, settings: Settings) -> None:
    """After a failed promotion run: its GitHub Deployment, left `in_progress` (the
    verification or a PPC wave failed, so nothing marked it `success`), becomes `failure`."""
    from release import deployments, forge

    env = settings.environment
    try:
        repo = forge_session(proj, settings).repo
        failed = deployments.fail_open(
            repo, env, f"release promote {settings.stack} failed; see the run's output"
        )
    except Exception as err:  # noqa: BLE001 - the run's own error is what the command reports
        err_console.print(
            term(f"could not mark the deployment of {env} failed: {forge.redact(str(err))}"),
            highlight=False,
        )
        return
    for number in failed:
        err_console.print(term(f"deployment {number} of {env}: failure"), highlight=False)


def _print_outputs(env: str, values: dict[str, Any]) -> None:
    """The concise promotion summary (release.rules.outcomes.promotion_summary)."""
    for line in promotion_summary(values):
        console.print(term(line), highlight=False)


def collect_status(proj: automation.Project, live: bool = True) -> list[dict[str, Any]]:
    """Each stack's release from its outputs; with `live`, the gate of a waiting promotion."""
    rows = []
    for name in proj.stack_names():
        values = automation.outputs(proj, name)
        intent = read_record(proj, name)
        row = {
            "environment": name,
            "branch": values.get("environment") or values.get("sourceBranch"),
            "release": values.get("releaseBranch"),
            "commit": values.get("releaseHead") or values.get("greenCommit"),
            "pr": values.get("prNumber"),
            "prUrl": values.get("prUrl"),
            "state": values.get("state") or ("tracking" if values else "never run"),
            "mergeCommit": values.get("mergeCommit"),
            "dayTwo": day_two_summary(values),
            "gate": gate_of(values),
            "rollbackGate": gate_of((values.get("dayTwo") or {}).get("rollback")),
            "intent": describe(intent),
            "waiting": None,
            "runs": None,
        }
        if values.get("role") == "promotion":
            merged = stack_record(proj, name).merged
            row["runs"] = merged.describe() if merged else None
            if merged is not None and merged.kind == "rollback":
                # One truth with `plan` and `history`: the environment runs the restored
                # release's tree, through the rollback's merge.
                row.update(
                    release=merged.release,
                    commit=merged.head or row["commit"],
                    pr=merged.pr,
                    state="rolled back",
                    mergeCommit=merged.merge_commit,
                    rolledBackFrom=merged.rolled_back_from,
                )
        pinned = intent.release_date
        if live and (pinned and f"release/{pinned}" != row["release"] or row["state"] == "open"):
            row["waiting"] = waiting_gate(proj, name, f"release/{pinned}" if pinned else None)
        rows.append(row)
    return rows


def waiting_gate(proj: automation.Project, env: str, branch: str | None) -> str | None:
    """Why the open release pull request into `env` is not merged yet (reads only)."""
    from release import forge
    from release.program.planning import plan_approvers

    try:
        settings = load(proj, env)
        repo = forge_session(proj, settings).repo
        pull = branch and forge.find_pull(repo, settings.owner, branch, settings.environment)
        if not pull:
            return None
        approvers = plan_approvers(settings)  # the oncall partner of this week, if any
        gate = forge.read_gate(
            repo,
            pull,
            settings.required_checks,
            approvers.reviewers,
            approvers.required,
            must_approve=approvers.must_approve,
        )
    except Exception as err:  # noqa: BLE001 - status reports, it does not fail
        return f"gate unknown: {forge.redact(str(err))}"
    if gate.ok:
        return f"#{pull.number} ready to merge: run `release promote {env}`"
    return f"#{pull.number} waits: " + "; ".join(gate.reasons)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    date: Annotated[
        str | None,
        typer.Option(
            "--date", help="Show that day's duties (cadence, oncall, freeze): YYYY-MM-DD."
        ),
    ] = None,
    from_deployments: Annotated[
        bool,
        typer.Option(
            "--from-deployments",
            help="Also read each promoted environment's GitHub Deployment back from the forge.",
        ),
    ] = False,
) -> None:
    """Each environment's release, commit, pull request and state."""
    day = None
    if date is not None:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            fail(f"--date {date!r}: give a day as YYYY-MM-DD, e.g. 2026-12-01")
    proj = project()
    rows = collect_status(proj)
    if from_deployments:
        for row in rows:
            if load(proj, row["environment"]).promotes_from:
                row["deployment"] = read_deployments(proj, row["environment"])
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from rich import box  # imported for `status` only
    from rich.table import Table

    table = Table(title="release train", box=box.SIMPLE, pad_edge=False, collapse_padding=True)
    for column in ("environment", "release", "commit", "pr", "state", "mergeCommit"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(
            *map(
                term,
                (
                    row["environment"],
                    row["release"] or "-",
                    (row["commit"] or "-")[:12],
                    f"#{row['pr']}" if row["pr"] else "-",
                    row["state"],
                    (row["mergeCommit"] or "-")[:12],
                ),
            )
        )
    console.print(table)
    for row in rows:
        runs = [f"runs {row['runs']}"] if row.get("rolledBackFrom") else []
        forge_view = (
            [deployment_text(row["deployment"], row["release"])] if "deployment" in row else []
        )
        lines = runs + ([row["waiting"]] if row["waiting"] else []) + row["dayTwo"] + forge_view
        for line in lines + row.get("intent", []):
            console.print(term(f"  {row['environment']}: {line}"), highlight=False)
    cli_ops.print_schedule(project(), day)  # due today (or on --date), late, soak, PPCs


@app.command()
def payload(
    env: EnvArg,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    markdown: Annotated[bool, typer.Option("--markdown")] = False,
) -> None:
    """What the environment's release contains: commits, PRs and component pins."""
    from release.rules.payload import Payload, PayloadCommit, PinChange, render_markdown

    proj = project()
    check_env(proj, env)
    # An older stack exported the whole payload; now it is in the release PR's state.
    values = automation.outputs(proj, env)
    data = values.get("payload")
    if not data and values.get("payloadSummary"):
        data = release_pull(automation.stack(proj, env)).get("payload")
    if not data:
        fail(f"{env} has no release payload yet; run `release promote {env}` first")
    if as_json:
        print(json.dumps(data, indent=2))
        return
    value = Payload(
        previous=data.get("previous"),
        release=data["release"],
        base_sha=data.get("base_sha"),
        head_sha=data["head_sha"],
        commits=tuple(PayloadCommit(**c) for c in data.get("commits", [])),
        pins=tuple(
            PinChange(p["name"], p.get("before"), p.get("after")) for p in data.get("pins", [])
        ),
        compare_url=data.get("compare_url"),
    )
    text = render_markdown(value)
    if markdown:
        print(text)
    else:
        console.print(term(text, multiline=True), highlight=False)
