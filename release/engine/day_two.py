"""Day-two flows on the Automation API: cherry-pick, revert, rollback, abandon, history.

What oncall does when a week does not go well, each as a delta on the stack's record of
intent (release/rules/intent.py) and one `up` of the same program (so preview, gates,
state and history work as for a promotion). Every flow takes an `automation.Project`, so
the command line and the end-to-end tests call the same functions. Each `up` is stamped
with a message (`release.rules.history.stamp`) that `release history` reads back.

No flow writes a file: the delta is handed to that one `up` only (RELEASE_TRAIN_INTENT);
the program applies it to the record it reads under the stack's lock, and the engine
records the result only if the run's steps succeed. Every delta is first applied to the
record as read now, so a bad op stops here, before any write.

- cherry_pick: `pick` ops (or `drop-pick`), up (each pick a resource; a new PR of the
  release branch into the environment goes through the same gates and merge).
- revert: a `revert` op (a SHA of the release branch), up.
- rollback: a `rollback` op {to, date, from}, up (a commit restoring the earlier tree on
  rollback/ENV-DATE, PR'd and merged through the gates, or `rollbackApprovals`).
- abandon: decide, close the open PR with a comment, then an `abandon` op (the record goes
  back to the release pinned before), up. Nothing is deleted.
- check_promote: `release promote`'s `pin` op, checked against the record (a rolled-back
  release is refused unless forced).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pulumi import automation as auto

from release import notify
from release.engine import automation
from release.engine.intent_store import read_record
from release.engine.recovery import refuse_if_locked
from release.providers.train_record import RESOURCE_NAME as RECORD_NAME
from release.rules import clock
from release.rules.abandon import plan_abandon
from release.rules.config import Settings, check_sha, release_date_of
from release.rules.history import Row, rows, stamp, with_outcomes, with_pr
from release.rules.intent import ENV_VAR, IntentError, Record, apply_ops, encode_ops
from release.rules.picks import removed
from release.rules.text import md_code

if TYPE_CHECKING:
    from release.forge import ForgeSession

Printer = Callable[[str], None]


class DayTwoError(RuntimeError):
    """A day-two command cannot go ahead; the message says why and what to do."""


@dataclass
class FlowResult:
    """What a flow did: the engine's result (None when no `up` ran), notes for the user."""

    up: auto.UpResult | None = None
    notes: list[str] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)  # the train's state before the up
    after: dict[str, Any] = field(default_factory=dict)  # and after it (notify.run_events)
    abandoned: tuple[str, str] | None = None  # (release, its PR's link) when one was closed

    @property
    def outputs(self) -> dict[str, Any]:
        if self.up is None:
            return {}
        return {k: v.value for k, v in self.up.outputs.items()}


def _promotion(project: automation.Project, settings: Settings) -> str:
    """The stack's name, once it is known not to be locked by a running update; a stack
    that tracks its source branch has no release to change."""
    if settings.tracks_source:
        raise DayTwoError(f"{settings.stack} tracks its source branch; it has no release to change")
    # Before anything is written: a running update holds the stack (StackLocked).
    refuse_if_locked(project.backend(), automation.project_name(project), settings.stack)
    return settings.stack


def new_op(kind: str, by: str = "unknown", **fields: Any) -> dict[str, Any]:
    """One op of a delta, stamped with an id (applied once), who asked and when."""
    stamped = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"op": kind, **fields, "id": uuid.uuid4().hex[:16], "by": by, "at": stamped}


def record_carry(
    carried: Sequence[str], by: str = "unknown", reason: str | None = None
) -> list[dict[str, Any]]:
    """The ops that record the commits `release promote --carry` carries: the one place that
    makes them (`carry` ops of the stack's record of intent, after the promotion's `pin`).
    A new release carries exactly the --carry commits given (its `pin` starts with none);
    continuing the waiting release adds them to what it carries."""
    extra = {"reason": reason} if reason else {}
    return [new_op("carry", by, sha=sha, **extra) for sha in carried]


def intent_env(ops: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The environment that hands `ops` to one engine run (nothing for no ops)."""
    return {ENV_VAR: encode_ops(ops)} if ops else {}


def check_ops(
    project: automation.Project, env: str, ops: Sequence[Mapping[str, Any]]
) -> tuple[Record, Record]:
    """(the record now, the record after `ops`): a bad op stops here, before any write."""
    record = read_record(project, env)
    try:
        return record, apply_ops(record, ops, env)
    except IntentError as err:
        raise DayTwoError(str(err)) from None


def _up(
    project: automation.Project,
    settings: Settings,
    message: str,
    on_output: Printer | None,
    ops: Sequence[Mapping[str, Any]] = (),
    result: FlowResult | None = None,
) -> auto.UpResult:
    stack = automation.stack(project, settings.stack, intent_env(ops))
    if result is None:
        return automation.up(stack, message, on_output)
    # The train's state before and after: what the notifications of this run are measured by.
    result.before = automation.train_state(project, settings.stack, notify.TRAIN_RESOURCES)
    try:
        return automation.up(stack, message, on_output)
    finally:
        result.after = automation.train_state(project, settings.stack, notify.TRAIN_RESOURCES)


def removed_report(project: automation.Project, env: str, record: Record) -> list[str]:
    """Picks and reverts of the last run that `record` no longer lists: applied, not
    reverted."""
    day_two = automation.outputs(project, env).get("dayTwo") or {}
    picks = removed("pick", day_two.get("picks") or [], record.picks)
    reverts = removed("revert", day_two.get("reverts") or [], record.reverts)
    return [item.describe() for item in picks + reverts]


def cherry_pick(
    project: automation.Project,
    settings: Settings,
    shas: Sequence[str],
    allow_off_master: bool = False,
    on_output: Printer | None = None,
    by: str = "unknown",
    drop: bool = False,
) -> FlowResult:
    """Queue `shas` as picks (in order), or with `drop` take them out of the queue, and run
    up. Dropping never rewrites the branch: a pick already applied stays there."""
    env = _promotion(project, settings)
    wanted = [check_sha("SHA", s.strip().lower()) for s in shas]  # the command's argument
    if not wanted:
        raise DayTwoError("name at least one commit to cherry-pick")
    if drop:
        ops = [new_op("drop-pick", by, sha=sha) for sha in wanted]
    else:
        extra = {"allowOffMaster": True} if allow_off_master else {}
        ops = [new_op("pick", by, sha=sha, **extra) for sha in wanted]
    _before, after = check_ops(project, env, ops)
    result = FlowResult(notes=removed_report(project, env, after))
    release = automation.outputs(project, env).get("releaseBranch")
    verb = "drop" if drop else "cherry-pick"
    message = stamp(
        "pick",
        f"{verb} {len(wanted)} commit(s) {'from' if drop else 'into'} {release or env}",
        commit=",".join(s[:12] for s in wanted),
        release=release,
        env=env,
        by=by,
    )
    # A pick that cannot apply (a conflict, a refusal) fails its step, so it is not
    # recorded. A closed gate after the pick keeps it recorded: run `release promote` again.
    result.up = _up(project, settings, message, on_output, ops, result)
    return result


def revert(
    project: automation.Project,
    settings: Settings,
    sha: str,
    on_output: Printer | None = None,
    by: str = "unknown",
) -> FlowResult:
    """Queue `sha` (a commit of the release branch) as a revert and run up."""
    env = _promotion(project, settings)
    wanted = check_sha("SHA", sha.strip().lower())  # the command's argument
    ops = [new_op("revert", by, sha=wanted)]
    _before, after = check_ops(project, env, ops)
    result = FlowResult(notes=removed_report(project, env, after))
    release = automation.outputs(project, env).get("releaseBranch")
    message = stamp(
        "revert",
        f"revert {wanted[:12]} on {release or env}",
        commit=wanted[:12],
        release=release,
        env=env,
        by=by,
    )
    result.up = _up(project, settings, message, on_output, ops, result)  # a closed gate keeps it
    return result


def rollback(
    project: automation.Project,
    settings: Settings,
    to: str | None = None,
    force: bool = False,
    day: dt.date | None = None,
    on_output: Printer | None = None,
    by: str = "unknown",
) -> FlowResult:
    """Roll the stack back to `to` (default: the release before the current one), run up.

    Running it again for the same target (say, once the PR is approved) continues it.
    """
    env = _promotion(project, settings)
    outputs = automation.outputs(project, env)
    current = outputs.get("releaseBranch")
    if not current:
        raise DayTwoError(f"{env} runs no release yet; there is nothing to roll back")
    target = to or outputs.get("previousRelease")
    if not target:
        raise DayTwoError(f"the release {env} ran before {current} is not known; name it with --to")
    if release_date_of(str(target)) is None:
        raise DayTwoError(f"--to {target!r}: name a release branch, e.g. release/2026-11-12")
    if target == current:
        raise DayTwoError(f"{env} already runs {target}")
    when = (day or clock.today()).isoformat()  # continuing one: the record keeps its date
    op = new_op("rollback", by, to=str(target), date=when, force=force)
    op["from"] = str(current)
    check_ops(project, env, [op])  # another rollback in progress, a rolled-back target
    message = stamp(
        "rollback",
        f"roll {env} back from {current} to {target}",
        release=target,
        env=env,
        by=by,
    )
    result = FlowResult(
        notes=[f"{current} is marked rolled back: promote refuses it without --force"]
    )
    result.up = _up(project, settings, message, on_output, [op], result)
    return result


def check_promote(
    project: automation.Project, settings: Settings, ops: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Before `release promote` runs `up` with its `pin` op: check it against the record (a
    rolled-back release is refused unless forced) and say what the pin ends: the reverts
    of another release (they stay on its branch) and a rollback in progress (its branch and
    PR stay). Picks stay queued: one already in the new release is a no-op, one that is not
    is picked onto it. Returns notes for the user."""
    env = settings.stack
    if settings.tracks_source or not ops:
        return []
    before, after = check_ops(project, env, ops)
    notes: list[str] = []
    for release in sorted(set(before.rolled_back) - set(after.rolled_back)):
        notes.append(f"--force: promoting {release} again although it was rolled back")
    if before.reverts and not after.reverts and before.release:
        notes.append(
            f"the reverts on {before.release} stay there; they are not queued for "
            f"{after.release} (a revert names a commit of its own release branch)"
        )
    if before.rollback and not after.rollback:
        notes.append(
            f"the rollback to {before.rollback.to} leaves the stack (its branch and PR stay)"
        )
    notes.extend(removed_report(project, env, after))
    return notes


def abandon_comment(who: str, reason: str, release: str, env: str) -> str:
    """The comment `abandon` leaves on the pull request. The reason and the names are code
    spans (release.rules.text): a reason is shown as typed, and mentions in it notify nobody."""
    return (
        f"Release abandoned by {md_code(who)}: {md_code(reason)}\n\n"
        f"The branch {md_code(release)} stays in the repository; {md_code(env)} goes back to "
        "the release it ran before, so next week's cut starts clean. Nothing was deleted."
    )


def abandon(
    project: automation.Project,
    settings: Settings,
    session: ForgeSession,
    reason: str = "abandoned by oncall",
    on_output: Printer | None = None,
    by: str = "unknown",
) -> FlowResult:
    """Close the open release PR with a comment, and return the stack to its previous release.

    Everything is decided before the first write (`release.rules.abandon.plan_abandon`): the
    release to go back to (another release, not merely another commit), and, with a
    preview, that going back to it passes the program's checks. Every abandon leaves a
    history row: an `up` pinned back, or, for a stack's first release, a refresh that
    forgets the closed pull request (so the next `promote` opens a new one).
    """
    env = _promotion(project, settings)
    stack = automation.stack(project, env)
    # The stack's state, not its outputs: an up stopped by the merge gate (the usual reason
    # to abandon) leaves the outputs of the run before, but records the pull request.
    pull_state = release_pull(stack)
    try:
        plan_abandon(pull_state, env)  # no pull request, or one already merged: refused
    except ValueError as err:
        raise DayTwoError(str(err)) from None
    release, number = str(pull_state["head"]), pull_state["number"]
    # Everything is decided before the first write (closing the PR): the record's pin-back
    # (an `abandon` op), and, with a preview, that going back passes the program's checks.
    op = new_op("abandon", by, release=release, reason=reason)
    before, after = check_ops(project, env, [op])
    if after.release:
        _check_pin_back(project, env, after.release, op)  # raises before any write
    pull = session.repo.get_pull(int(number))  # the command line's identity
    result = FlowResult()
    message = stamp(
        "abandon",
        f"abandon {release} on {env}: {reason}",
        release=release,
        pr=number,
        env=env,
        by=by,
    )
    if pull.state == "open":
        pull.create_issue_comment(abandon_comment(by, reason, release, env))
        pull.edit(state="closed")
        result.abandoned = (str(release), str(getattr(pull, "html_url", "") or ""))
        result.notes.append(f"closed PR #{number} with a comment; {release} stays")
    else:
        result.notes.append(f"PR #{number} was already {pull.state}; {release} stays")
    if not after.release:
        # The stack's first release: nothing to go back to. The record drops its pins and
        # the stack forgets the closed PR, so the next `release promote` opens a new one.
        _forget_pull(stack, after)
        stack.refresh(message=message, on_output=on_output or automation.printer())
        result.notes.append(
            f"{env} ran no earlier release in its record: its pins are removed and it "
            f"forgot PR #{number}; the next `release promote {env}` opens a new one"
        )
        return result
    result.notes.append(
        f"{env} pinned back to {after.release} ({str(after.commit)[:12]})"
        if after.release != before.release
        else f"{env} keeps {after.release}"
    )
    result.up = _up(project, settings, message, on_output, [op], result)
    return result


def _check_pin_back(
    project: automation.Project, env: str, previous: str, op: Mapping[str, Any]
) -> None:
    """A preview of the stack with the `abandon` op applied (no write): abandon refuses
    before closing anything when going back to `previous` would fail (a lost fix, a bad pin)."""
    try:
        automation.stack(project, env, intent_env([op])).preview(
            on_output=lambda _line: None, diff=False
        )
    except auto.CommandError as err:
        lines = [ln for ln in str(err).splitlines() if "error" in ln.lower()][-3:]
        raise DayTwoError(
            f"abandon refused, nothing was changed: going back to {previous} would fail: "
            + " ".join(ln.strip() for ln in lines)
        ) from None


def _forget_pull(stack: auto.Stack, record: Record) -> None:
    """Drop the release pull request and its merge from the stack's state (the PR stays on
    the forge, closed) and store `record` (the pins removed) as the TrainRecord's; written
    as a whole new deployment, as `pulumi stack import` does, under the stack's lock."""
    exported = stack.export_stack()
    deployment = dict(exported.deployment or {})
    resources = deployment.get("resources") or []
    gone = {
        str(r.get("urn", ""))
        for r in resources
        if str(r.get("urn", "")).endswith(("::pull-request", "::merge"))
    }
    kept = []
    for resource in resources:
        urn = str(resource.get("urn", ""))
        if urn in gone:
            continue
        # The record (and any other step) named the PR among its dependencies: the engine
        # refuses a state that refers to a resource it no longer holds.
        resource = {
            **resource,
            "dependencies": [d for d in resource.get("dependencies") or [] if d not in gone],
            "propertyDependencies": {
                k: [d for d in v or [] if d not in gone]
                for k, v in (resource.get("propertyDependencies") or {}).items()
            },
        }
        if urn.endswith(f"::{RECORD_NAME}"):
            stored = record.to_dict()
            resource = {
                **resource,
                "inputs": {**(resource.get("inputs") or {}), "record": stored},
                "outputs": {**(resource.get("outputs") or {}), "record": stored},
            }
        kept.append(resource)
    deployment["resources"] = kept
    stack.import_stack(auto.Deployment(version=exported.version, deployment=deployment))


def release_pull(stack: auto.Stack) -> dict[str, Any]:
    """The outputs of the stack's release pull request resource, from its state."""
    for name, urn, outputs in automation.state_resources(stack):
        if name == "pull-request" and "PullRequest" in urn:
            return outputs
    return {}


def _summary(entry: auto.UpdateSummary) -> dict[str, Any]:
    return {
        "version": entry.version,
        "kind": entry.kind,
        "start_time": entry.start_time,
        "message": entry.message,
        "environment": dict(entry.environment or {}),
        "config": {k: v.value for k, v in entry.config.items() if not v.secret},
        "result": entry.result,
    }


def history(project: automation.Project, env: str, everything: bool = False) -> list[Row]:
    """Every promotion, pick, revert, rollback and abandon of `env`, newest first."""
    if env not in project.stack_names():
        raise DayTwoError(f"unknown environment {env!r}: no Pulumi.{env}.yaml")
    stack = automation.stack(project, env)
    entries = [_summary(e) for e in stack.history(show_secrets=False)]
    values = automation.outputs(project, env)
    return with_outcomes(with_pr(rows(entries, everything), values), values)


def day_two_summary(outputs: Mapping[str, Any]) -> list[str]:
    """One line per pick, revert and rollback of a stack's outputs (for `release status`)."""
    day_two = outputs.get("dayTwo") or {}
    lines = []
    for pick in day_two.get("picks") or []:
        done = (pick.get("commit") or "")[:12] or "-"
        lines.append(f"pick {pick.get('sha', '')[:12]} -> {done}")
    for item in day_two.get("reverts") or []:
        done = (item.get("commit") or "")[:12] or "-"
        lines.append(f"revert {item.get('sha', '')[:12]} -> {done}")
    back = day_two.get("rollback")
    if back:
        lines.append(
            f"rollback to {back.get('to')} via PR #{back.get('prNumber')} ({back.get('state')})"
        )
    return lines
