"""Day-two flows on the Automation API: cherry-pick, revert, rollback, abandon, history.

What oncall does when a week does not go well, each as a change of the stack's config and
one `up` of the same program (so preview, gates, state and history work as for a
promotion). Every flow takes an `automation.Project`, so the command line and the
end-to-end tests call the same functions. Each `up` is stamped with a message
(`release.rules.history.stamp`) that `release history` reads back.

- cherry_pick: append SHAs to `picks`, up (each pick a resource; a new PR of the release
  branch into the environment goes through the same gates and merge).
- revert: append a SHA of the release branch to `reverts`, up.
- rollback: set `rollback: {to, date}` and add the current release to `rolledBack`, up
  (a commit restoring the earlier tree on rollback/ENV-DATE, PR'd and merged through the
  gates, or `rollbackApprovals`).
- abandon: close the open PR with a comment, set the stack's pins back to the release it ran
  before (from the stack's update history), up. Nothing is deleted.
- check_promote: `release promote` refuses a rolled-back release unless forced.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pulumi import automation as auto

from release import notify
from release.engine import automation
from release.engine.recovery import refuse_if_locked
from release.rules import clock
from release.rules.abandon import AbandonPlan, plan_abandon
from release.rules.config import (
    COMMIT_OVERRIDE,
    DATE_OVERRIDE,
    NAMESPACE,
    Settings,
    as_list,
    check_sha,
    release_date_of,
)
from release.rules.history import Row, rows, stamp, with_outcomes, with_pr
from release.rules.picks import merge_picks, removed
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


def _key(name: str) -> str:
    return f"{NAMESPACE}:{name}"


def _promotion(project: automation.Project, settings: Settings) -> str:
    """The stack's name, once it is known not to be locked by a running update; a stack
    that tracks its source branch has no release to change."""
    if settings.tracks_source:
        raise DayTwoError(f"{settings.stack} tracks its source branch; it has no release to change")
    # Before anything is written: a running update holds the stack (StackLocked).
    refuse_if_locked(project.backend(), automation.project_name(project), settings.stack)
    return settings.stack


def _set_list(stack: auto.Stack, name: str, values: Sequence[str]) -> None:
    try:
        stack.remove_config(_key(name))
    except auto.CommandError:
        pass  # not set yet
    # An empty list is the unset key: Pulumi.yaml gives each list key the default [].
    for index, value in enumerate(values):
        stack.set_config(f"{_key(name)}[{index}]", auto.ConfigValue(value=value), path=True)


def record_carry(
    project: automation.Project, settings: Settings, continuing: bool, carried: Sequence[str]
) -> None:
    """Store the commits `release promote --carry` carries: the one place that writes them
    (today the stack's config key `carry`). A new release carries exactly the --carry
    commits given; continuing the waiting release adds them to what it carries."""
    before = list(settings.carry)
    wanted = [*before, *(s for s in carried if s not in before)] if continuing else list(carried)
    if wanted != before:
        _set_list(automation.stack(project, settings.stack), "carry", wanted)


def _remove(stack: auto.Stack, name: str) -> None:
    try:
        stack.remove_config(_key(name))
    except auto.CommandError:
        pass


def _up(
    project: automation.Project,
    settings: Settings,
    message: str,
    on_output: Printer | None,
    result: FlowResult | None = None,
) -> auto.UpResult:
    stack = automation.stack(project, settings.stack)
    parallel = settings.up_parallelism()  # a whole PPC wave at once
    if result is None:
        return automation.up(stack, message, parallel, on_output)
    # The train's state before and after: what the notifications of this run are measured by.
    result.before = automation.train_state(project, settings.stack, notify.TRAIN_RESOURCES)
    try:
        return automation.up(stack, message, parallel, on_output)
    finally:
        result.after = automation.train_state(project, settings.stack, notify.TRAIN_RESOURCES)


def removed_report(project: automation.Project, settings: Settings) -> list[str]:
    """Picks and reverts of the last run that are no longer listed: applied, not reverted."""
    day_two = automation.outputs(project, settings.stack).get("dayTwo") or {}
    picks = removed("pick", day_two.get("picks") or [], settings.picks)
    reverts = removed("revert", day_two.get("reverts") or [], settings.day_two.reverts)
    return [item.describe() for item in picks + reverts]


def cherry_pick(
    project: automation.Project,
    settings: Settings,
    shas: Sequence[str],
    allow_off_master: bool = False,
    on_output: Printer | None = None,
    by: str = "unknown",
) -> FlowResult:
    """List `shas` in the stack's picks (in order) and run up."""
    env = _promotion(project, settings)
    wanted = [check_sha("SHA", s.strip().lower()) for s in shas]  # the command's argument
    if not wanted:
        raise DayTwoError("name at least one commit to cherry-pick")
    picks = merge_picks(settings.picks, wanted)
    result = FlowResult(notes=removed_report(project, settings))
    release = automation.outputs(project, env).get("releaseBranch")
    stack = automation.stack(project, env)
    _set_list(stack, "picks", picks)
    flipped = allow_off_master and not settings.allow_off_master
    if flipped:
        stack.set_config(_key("allowOffMaster"), auto.ConfigValue(value="true"))
    message = stamp(
        "pick",
        f"cherry-pick {len(wanted)} commit(s) into {release or env}",
        commit=",".join(s[:12] for s in wanted),
        release=release,
        env=env,
        by=by,
    )
    # A failed up keeps the picks listed: the usual failure is the merge gate (the PR waits
    # for checks and approval; run up again). A pick that cannot apply (a conflict, a
    # refusal) must be taken out of release-train:picks by hand, as the error says.
    try:
        result.up = _up(project, settings, message, on_output, result)
    finally:
        if flipped:
            _remove(stack, "allowOffMaster")
    return result


def revert(
    project: automation.Project,
    settings: Settings,
    sha: str,
    on_output: Printer | None = None,
    by: str = "unknown",
) -> FlowResult:
    """List `sha` (a commit of the release branch) in the stack's reverts and run up."""
    env = _promotion(project, settings)
    wanted = check_sha("SHA", sha.strip().lower())  # the command's argument
    before = list(settings.day_two.reverts)
    result = FlowResult(notes=removed_report(project, settings))
    release = automation.outputs(project, env).get("releaseBranch")
    stack = automation.stack(project, env)
    _set_list(stack, "reverts", merge_picks(before, [wanted]))
    message = stamp(
        "revert",
        f"revert {wanted[:12]} on {release or env}",
        commit=wanted[:12],
        release=release,
        env=env,
        by=by,
    )
    result.up = _up(project, settings, message, on_output, result)  # a gate failure keeps it listed
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
    day_two = settings.day_two
    ongoing = day_two.rollback_to
    if ongoing and ongoing != target and not force:
        raise DayTwoError(
            f"{env} already has a rollback to {ongoing} in its config; run `release rollback "
            f"{env} --to {ongoing}` to continue it, or --force to replace it"
        )
    if target in day_two.rolled_back and not force:
        raise DayTwoError(f"{target} was itself rolled back out of {env}; use --force to go to it")
    when = (day or clock.today()).isoformat()
    if ongoing == target and day_two.rollback_date and day is None:
        when = day_two.rollback_date
    stack = automation.stack(project, env)
    stack.set_config(f"{_key('rollback')}.to", auto.ConfigValue(value=str(target)), path=True)
    stack.set_config(f"{_key('rollback')}.date", auto.ConfigValue(value=when), path=True)
    rolled = list(day_two.rolled_back)
    if current not in rolled and current != target:
        _set_list(stack, "rolledBack", [*rolled, str(current)])
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
    result.up = _up(project, settings, message, on_output, result)
    return result


def check_promote(
    project: automation.Project, settings: Settings, release: str, force: bool = False
) -> list[str]:
    """Before `release promote`: refuse a rolled-back release unless forced; clear a finished
    rollback, and the reverts of another release, from the config (their commits, branches
    and PRs stay). Picks stay listed: one already in the new release is a no-op, one that is
    not is picked onto it. Returns notes for the user."""
    env = settings.stack
    if settings.tracks_source:
        return []
    day_two = settings.day_two
    notes: list[str] = []
    stack: auto.Stack | None = None
    if release in day_two.rolled_back:
        if not force:
            raise DayTwoError(
                f"{release} was rolled back out of {env} (listed in release-train:rolledBack); "
                "promote it again only once the cause is fixed, with --force"
            )
        stack = automation.stack(project, env)
        _set_list(stack, "rolledBack", [r for r in day_two.rolled_back if r != release])
        notes.append(f"--force: promoting {release} again although it was rolled back")
    current = automation.outputs(project, env).get("releaseBranch")
    if day_two.reverts and current and current != release:
        stack = stack or automation.stack(project, env)
        _set_list(stack, "reverts", [])
        notes.append(
            f"the reverts on {current} stay there; they are not listed for {release} "
            "(a revert names a commit of its own release branch)"
        )
    if day_two.rollback_to:
        stack = stack or automation.stack(project, env)
        _remove(stack, "rollback")
        notes.append(
            f"the rollback to {day_two.rollback_to} leaves the stack (its branch and PR stay)"
        )
    notes.extend(removed_report(project, settings))
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
        plan = plan_abandon(pull_state, env, [_summary(h) for h in stack.history()], NAMESPACE)
    except ValueError as err:
        raise DayTwoError(str(err)) from None
    release, number = plan.release, pull_state["number"]
    if not plan.first:
        _check_pin_back(project, env, plan)  # raises before any write
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
    if plan.first:
        for name in ("commit", "releaseDate"):
            _remove(stack, name)
        _forget_pull(stack)
        stack.refresh(message=message, on_output=on_output or automation.printer())
        result.notes.append(
            f"{env} ran no earlier release in its history: its pins are removed and it "
            f"forgot PR #{number}; the next `release promote {env}` opens a new one"
        )
        return result
    pins = plan.pins
    for name in ("commit", "releaseDate"):
        stack.set_config(_key(name), auto.ConfigValue(value=str(pins[name])))
    listed = {"picks": settings.picks, "reverts": settings.day_two.reverts}
    for name in ("picks", "reverts"):
        values = [str(v) for v in as_list(pins.get(name))]
        if values != list(listed[name]):
            _set_list(stack, name, values)
    result.notes.append(f"{env} pinned back to {plan.previous} ({str(pins['commit'])[:12]})")
    result.up = _up(project, settings, message, on_output, result)
    return result


def _check_pin_back(project: automation.Project, env: str, plan: AbandonPlan) -> None:
    """A preview of the stack pinned back to `plan.previous` (no write): abandon refuses
    before closing anything when going back would fail (a lost fix, a bad pin)."""
    extra = {COMMIT_OVERRIDE: str(plan.pins["commit"])}
    if plan.pins.get("releaseDate"):
        extra[DATE_OVERRIDE] = str(plan.pins["releaseDate"])
    try:
        automation.stack(project, env, extra).preview(on_output=lambda _line: None, diff=False)
    except auto.CommandError as err:
        lines = [ln for ln in str(err).splitlines() if "error" in ln.lower()][-3:]
        raise DayTwoError(
            f"abandon refused, nothing was changed: going back to {plan.previous} would fail: "
            + " ".join(ln.strip() for ln in lines)
        ) from None


def _forget_pull(stack: auto.Stack) -> None:
    """Drop the release pull request and its merge from the stack's state (the PR stays on
    the forge, closed); written as a whole new deployment, as `pulumi stack import` does."""
    exported = stack.export_stack()
    deployment = dict(exported.deployment or {})
    kept = [
        r
        for r in deployment.get("resources") or []
        if not str(r.get("urn", "")).endswith(("::pull-request", "::merge"))
    ]
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
