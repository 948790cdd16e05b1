"""The operations side of `python -m release` (a command group, composed in release/cli/__init__.py).

release ppc status [--env ENV] [--json]   each PPC, the release it runs, since when, lagging?

and the hooks `release status` and `release promote` call:

- `print_schedule`: what is due today and for whom, what is late, whether staging's release
  has soaked long enough for production, and a line on the PPCs;
- `check_promote`: refuse on a freeze date, and refuse production before the minimum soak,
  unless --force, with the reason shown (and a `blocked` notification);
- `notifying`: the stack `promote` runs `up` on, watched through the engine's events, so that
  the webhook gets `cut`, `merged`, `blocked` (a gate refused), `rolled_back` and
  `ppc_wave_failed`.

The webhook URL (`release-train:notifyWebhook`, a secret) is read here, from the stack's
encrypted config, and only here: the Pulumi program never sends anything, so the URL is in
no resource's inputs or outputs and in no state file, and it is never printed.

The weekly calendar (`cadence`), the oncall pair (`oncall`) and the `freezes` come from the
stack files: cadence and oncall from the last stack in promotion order that sets them (the
examples keep them in Pulumi.production.yaml), freezes from every stack file.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from pulumi import automation as auto

from release import notify
from release.cli.common import (
    actor,
    check_env,
    console,
    deployment_text,
    err_console,
    fail,
    forge_session,
    post_event,
    project,
    read_deployments,
    webhook,
)
from release.engine import automation
from release.ppc_status import (
    PpcStateError,
    ppc_status,
    read_failures,
    read_ppc_state,
    record_failures,
)
from release.rules import clock
from release.rules.cadence import (
    WEEKDAYS,
    Cadence,
    Freeze,
    due_today,
    freeze_check,
    freeze_message,
    late,
    soak_check,
)
from release.rules.config import (
    RolloutSettings,
    Settings,
    release_date_of,
)
from release.rules.production import Refusal, Staged, force_text, promotion_refusals
from release.rules.rotation import (
    CUT,
    PROMOTE,
    OutsideRotation,
    Rotation,
    Week,
    owed_today,
    week_of,
)
from release.rules.targets import Target
from release.rules.text import plain, term

app = typer.Typer()
"""The operations group: `release ppc ...`, composed into release.cli.app."""
ppc_app = typer.Typer(
    no_args_is_help=True, help="Customer PPCs: which release each one runs, and what lags."
)
app.add_typer(ppc_app, name="ppc")

CREATED = frozenset({"create", "replace", "create-replacement"})
CHANGED = CREATED | {"update"}


# --- reading the project ---------------------------------------------------------------------


@dataclass(frozen=True)
class Team:
    """The calendar, the oncall rotation and the freezes, from the stack files."""

    cadence: Cadence = Cadence()
    oncall: Rotation | None = None
    freezes: tuple[Freeze, ...] = ()


def team(proj: automation.Project) -> Team:
    """Cadence and oncall from the last stack that sets them; freezes from all stacks."""
    cadence: Cadence | None = None
    oncall: Rotation | None = None
    freezes: dict[dt.date, Freeze] = {}
    for env in reversed(proj.stack_names()):
        rollout = check_env(proj, env).rollout
        if cadence is None and rollout.sets_cadence:
            cadence = rollout.cadence
        if oncall is None and rollout.oncall is not None:
            oncall = rollout.oncall
        for freeze in rollout.freezes:
            freezes.setdefault(freeze.date, freeze)
    return Team(cadence or Cadence(), oncall, tuple(sorted(freezes.values(), key=lambda f: f.date)))


def roles(proj: automation.Project) -> tuple[str | None, str | None]:
    """(the stack that cuts releases from the tracking stack, the one promoting its releases):
    staging and production in the examples."""
    names = proj.stack_names()
    source = {name: check_env(proj, name).promotes_from for name in names}
    cutting = next((n for n in names if source[n] and not source.get(source[n])), None)
    promoting = next((n for n in names if cutting and source[n] == cutting), None)
    return cutting, promoting


def rollout_of(proj: automation.Project, env: str) -> RolloutSettings:
    """The validated rollout keys of a stack file, or an error naming the bad key."""
    return check_env(proj, env).rollout


def running_release(proj: automation.Project, env: str) -> tuple[str | None, str | None]:
    """The release `env` runs and its head commit, from the stack's state: the merged Merge
    resource and its pull request. A later failure in the same `up` (a PPC) keeps the stack's
    outputs as they were, but the merge is in the state, so this sees it."""
    try:
        resources = automation.state_resources(automation.stack(proj, env))
    except auto.CommandError:
        return None, None
    pulls: dict[Any, str] = {}
    merged: list[dict[str, Any]] = []
    for name, _urn, outputs in resources:
        if name == "pull-request" and outputs.get("head"):
            pulls[outputs.get("number")] = str(outputs["head"])
        elif name == "merge" and outputs.get("merged"):
            merged.append(outputs)
    for outputs in reversed(merged):
        branch = pulls.get(outputs.get("number"))
        if branch:
            return branch, outputs.get("head_sha")
    values = automation.outputs(proj, env)
    if values.get("state") == "merged":
        return values.get("releaseBranch"), values.get("releaseHead")
    return None, None


# --- release ppc status ----------------------------------------------------------------------


def ppc_report(proj: automation.Project, env: str) -> dict[str, Any]:
    """What `release ppc status --json` prints for `env`."""
    rollout = rollout_of(proj, env)
    state_dir = Path(rollout.ppc_state_dir)
    if not state_dir.is_absolute():
        state_dir = proj.directory / state_dir
    try:
        state = read_ppc_state(state_dir)
    except PpcStateError as err:
        fail(str(err))
    release, commit = running_release(proj, env)
    rows = ppc_status(list(rollout.ppcs), state, release, commit, read_failures(state_dir))
    return {
        "environment": env,
        "release": release,
        "commit": commit,
        "stateDir": str(state_dir),
        "ppcs": [row.as_dict() for row in rows],
    }


def _ppc_env(proj: automation.Project, env: str | None) -> str:
    names = proj.stack_names()
    if env:
        if env not in names:
            fail(f"unknown environment {env!r}: choose one of {', '.join(names)}")
        return env
    listing = [name for name in names if check_env(proj, name).rollout.ppcs]
    if not listing:
        fail("no stack lists ppcs (release-train:ppcs in Pulumi.<env>.yaml)")
    return listing[-1]


@ppc_app.command("status")
def ppc_status_command(
    env: Annotated[
        str | None, typer.Option("--env", help="The stack (default: the one listing ppcs).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    from_deployments: Annotated[
        bool,
        typer.Option(
            "--from-deployments",
            help="Also read each PPC's GitHub Deployment (environment ppc/NAME) from the forge.",
        ),
    ] = False,
) -> None:
    """Each PPC: the release it runs, since when, and whether it lags production."""
    proj = project()
    chosen = _ppc_env(proj, env)
    report = ppc_report(proj, chosen)
    if from_deployments:
        names = [row["name"] for row in report["ppcs"]]
        found = read_deployments(proj, chosen, names)
        for row in report["ppcs"]:
            row["deployment"] = found if isinstance(found, str) else found.get(row["name"])
    if as_json:
        print(json.dumps(report, indent=2))
        return
    print("\n".join(plain(line) for line in ppc_lines(report)))


def ppc_lines(report: dict[str, Any]) -> list[str]:
    """`release ppc status` as aligned plain lines (no wrapping in a narrow terminal)."""
    runs = report["release"] or "no release yet"
    if report["commit"]:
        runs += f" at {report['commit'][:12]}"
    lines = [f"PPCs of {report['environment']} (it runs {runs}):"]
    cells = [
        (
            f"wave {row['wave']}" if row["wave"] else "-",
            row["name"],
            row["release"] or "-",
            (row["commit"] or "-")[:12],
            f"since {row['deployedAt']}" if row["deployedAt"] else "-",
            ("LAGS: " if row["lags"] and row["status"] != "FAILED" else "") + row["status"],
        )
        for row in report["ppcs"]
    ]
    widths = [max((len(cell[i]) for cell in cells), default=0) for i in range(5)]
    for cell, row in zip(cells, report["ppcs"], strict=True):
        text = "  ".join(value.ljust(width) for value, width in zip(cell, widths, strict=False))
        lines.append(f"  {text}  {cell[5]}")
        if row["lags"] or row["status"] == "not configured":
            lines.append(f"      {row['detail']}")
        if "deployment" in row:
            lines.append(f"      {deployment_text(row['deployment'], row['release'])}")
    if not cells:
        lines.append("  (no PPC configured)")
    return lines


# --- release status --------------------------------------------------------------------------


def schedule_lines(proj: automation.Project, day: dt.date | None = None) -> list[str]:
    """What `release status` adds: due today (or on `day`: `status --date`), late, the soak,
    and the PPCs."""
    other = day is not None and day != clock.today()
    day = day or clock.today()
    info = team(proj)
    cutting, promoting = roles(proj)
    staging = automation.outputs(proj, cutting) if cutting else {}
    staging_date = release_date_of(str(staging.get("releaseBranch") or ""))
    production = running_release(proj, promoting) if promoting else (None, None)
    production_date = release_date_of(production[0] or "")
    promoting_values = automation.outputs(proj, promoting) if promoting else {}
    due_word = f"due on {day.isoformat()}" if other else "due today"
    lines = [
        f"{'date' if other else 'today'}: {WEEKDAYS[day.weekday()].capitalize()} {day.isoformat()}"
    ]
    freeze = freeze_check(day, info.freezes)
    if freeze:
        lines.append(f"freeze: {freeze_message(freeze)}")
    if info.oncall is None:
        lines.append("oncall: not named (release-train:oncall {start, people: [...]})")
    else:
        try:
            this, following = week_of(info.oncall, day), week_of(info.oncall, day + dt.timedelta(7))
        except OutsideRotation as err:
            this = following = None
            lines.append(f"oncall: {err}")
        if this is not None and following is not None:
            lines += [
                _week_line("this week", this, info.cadence),
                _week_line("next week", following, info.cadence),
            ]
            due = due_today(day, info.cadence, this.pair, staging_date, production_date)
            lines += [f"{due_word}: {duty.message}" for duty in due] or [f"{due_word}: nothing"]
            lines += [
                f"late: {duty.message}"
                for duty in late(day, info.cadence, this.pair, staging_date, production_date)
            ]
            pulls = {
                duty: int(values["prNumber"])
                for duty, values in ((CUT, staging), (PROMOTE, promoting_values))
                if values.get("state") == "open" and values.get("prNumber")
            }
            owed = owed_today(
                info.oncall,
                info.cadence,
                day,
                any(d.environment == "staging" for d in due),
                any(d.environment == "production" for d in due),
                pulls,
            )
            lines += [f"owes today: {item.line()}" for item in owed]
    if cutting and promoting:
        if staging_date and staging_date == production_date:
            lines.append(f"soak: {promoting} already runs {cutting}'s release")
        else:
            soak = soak_check(staging_date, day, info.cadence.min_soak_days)
            verdict = "ready for" if soak.ok else "not ready for"
            lines.append(f"soak: {soak.message} ({verdict} {promoting})")
    for env in proj.stack_names():
        if check_env(proj, env).rollout.ppcs:
            lines.append(_ppc_line(proj, env))
    return lines


def _week_line(label: str, week: Week, cadence: Cadence) -> str:
    """One week of the rotation: its dates, who is primary and who secondary."""
    swapped = " (swapped)" if week.swapped else ""
    return (
        f"oncall {label} ({week.start.isoformat()} to {week.end.isoformat()}){swapped}: "
        f"primary {week.primary} (production, {cadence.production_weekday.capitalize()}), "
        f"secondary {week.secondary} (staging, {cadence.staging_weekday.capitalize()})"
    )


def _ppc_line(proj: automation.Project, env: str) -> str:
    report = ppc_report(proj, env)
    rows = report["ppcs"]
    lagging = [row["name"] for row in rows if row["lags"]]
    counts = f"{len(rows) - len(lagging)} of {len(rows)} on {report['release'] or 'no release'}"
    if lagging:
        return f"PPCs ({env}): {counts}; lagging: {', '.join(lagging)} (release ppc status)"
    return f"PPCs ({env}): {counts}"


def print_schedule(proj: automation.Project, day: dt.date | None = None) -> None:
    """The `release status` hook; `day`: another day's duties (`status --date`)."""
    for line in schedule_lines(proj, day):
        console.print(term(line), highlight=False)


# --- release promote -------------------------------------------------------------------------


def promote_refusal(
    env: str,
    target: Target | None,
    info: Team,
    day: dt.date,
    staged: Staged | None,
    writes: bool = True,
) -> list[Refusal]:
    """Every rule that stops `promote` today (pure): a freeze (only for a stack whose `up`
    writes to the forge: the tracking stack, testing, only reads), and, for the stack that
    promotes staging's release (`staged` given), a release staging did not merge or one that
    has not soaked since its staging merge."""
    refusals = promotion_refusals(
        target.branch if target else None,
        target.commit if target else None,
        day,
        info.freezes,
        staged,
        info.cadence.min_soak_days,
    )
    return [
        Refusal(r.rule, f"{env}: {r.message}") for r in refusals if writes or r.rule != "freeze"
    ]


def staged_release(proj: automation.Project, settings: Settings) -> Staged:
    """The release staging runs: its stack's outputs, and the day its PR merged (forge)."""
    source = settings.promotes_from or ""
    values = automation.outputs(proj, source)
    merged_on = None
    number = values.get("prNumber")
    if values.get("state") == "merged" and number:
        try:
            pull = forge_session(proj, check_env(proj, source)).repo.get_pull(int(number))
            if pull.merged_at is not None:
                merged_on = pull.merged_at.astimezone(dt.UTC).date()
        except Exception:  # noqa: BLE001 - unknown: the soak rule then refuses, named
            merged_on = None
    head = values.get("releaseHead") or values.get("releaseCommit")
    return Staged(values.get("releaseBranch"), head, values.get("state"), merged_on)


def check_promote(
    proj: automation.Project,
    settings: Settings,
    target: Target | None,
    force: bool,
    reason: str | None = None,
) -> str | None:
    """Before `release promote` pins anything: refuse on a freeze date, and refuse in
    production a release staging did not merge or that has not soaked since, unless forced
    with a reason. A refusal notifies `blocked`. Returns what --force overrode and why (for
    history), or None."""
    env = settings.stack
    _cutting, promoting = roles(proj)
    staged = staged_release(proj, settings) if env == promoting and target else None
    writes = bool(settings.promotes_from)  # the tracking stack only reads the forge
    refusals = promote_refusal(env, target, team(proj), clock.today(), staged, writes)
    if not refusals:
        return None
    if force:
        text = force_text(refusals, reason or "")
        for refusal in refusals:
            console.print(term(f"  note: --force ({refusal.rule}): {refusal.message}"))
        console.print(term(f"  {text}"), highlight=False)
        return text
    if target is not None:
        send(proj, env, "blocked", target.branch, "; ".join(r.message for r in refusals))
    lines = "\n".join(f"{r.message} [{r.rule}]" for r in refusals)
    fail(f'{lines}\n(use --force --reason "why" to promote anyway)')
    return None


def send(proj: automation.Project, env: str, event: str, release: str, detail: str = "") -> None:
    """Post one event to the stack's webhook, if it has one (best effort)."""
    url = webhook(proj, env)
    if url:
        deliver(url, event, release, env, detail)


def deliver(url: str, event: str, release: str, env: str, detail: str) -> None:
    next_step = (
        f"wait for the date, or `release promote {env} --force`" if event == "blocked" else ""
    )
    post_event(url, notify.Event(event, release, env, detail, actor=actor(), next_step=next_step))


@dataclass
class Watch:
    """The engine events of one `up`, turned into notifications when it ends."""

    env: str
    release: str | None
    cuts: bool  # the stack cuts releases (staging): a new release branch is a `cut`
    rollout: RolloutSettings
    rollback_to: str | None
    post: Callable[[notify.Event], None] | None  # None: no webhook
    command: str = "promote"
    by: str = ""
    ppc_state_dir: Path | None = None  # where `ppc status` finds which PPC failed, and why
    done: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)

    def on_event(self, event: auto.EngineEvent) -> None:
        if event.res_outputs_event is not None:
            meta = event.res_outputs_event.metadata
            outputs = dict(meta.new.outputs or {}) if meta.new else {}
            self.done[_name(meta.urn)] = (str(getattr(meta.op, "value", meta.op)), outputs)
        diagnostic = event.diagnostic_event
        if diagnostic is not None and diagnostic.severity == "error":
            self.errors.append((diagnostic.urn or "", diagnostic.message.strip()))

    def finish(
        self,
        ok: bool,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        """Say what a failed rollout means, and send what this `up` did (when the stack has a
        webhook); never raises (a chat outage does not fail a release)."""
        try:
            self.record_ppcs(ok)
        except Exception as err:  # noqa: BLE001 - the record is a help, not the promotion
            err_console.print(
                f"warning: the PPC failures were not recorded: {type(err).__name__}: {err}",
                highlight=False,
            )
        try:
            for event in self.events(ok, before or {}, after or {}):
                if event.kind == "ppc_wave_failed":
                    err_console.print(
                        term(
                            f"PPC rollout of {event.release} stopped: {event.detail}; "
                            f"{event.next_step}."
                        ),
                        highlight=False,
                    )
                if self.post is not None:
                    self.post(event)
        except Exception as err:  # noqa: BLE001 - notifications are best effort
            err_console.print(
                f"warning: notifications not sent: {type(err).__name__}", highlight=False
            )

    def record_ppcs(self, ok: bool) -> None:
        """Write which PPCs failed in this `up`, and why, for `release ppc status`; the PPCs
        it updated are taken out."""
        run = self.run(ok)
        if self.ppc_state_dir is None or not (run.ppcs_failed or run.ppcs_updated):
            return
        failed = {name: why for name, (_wave, why) in run.ppcs_failed.items()}
        record_failures(self.ppc_state_dir, self.release or "the release", failed, run.ppcs_updated)

    def run(self, ok: bool) -> notify.Run:
        """This `up` as notify.Run: the engine's errors sorted into gate refusals and PPC
        failures, the PPCs it updated (pure)."""
        failed: dict[str, tuple[int, str]] = {}
        blocked: list[str] = []
        for urn, message in self.errors:
            name, kind = _name(urn), _type(urn)
            if kind.endswith(":PpcWave"):
                for ppc, why in failed_in_wave(message).items():
                    failed.setdefault(ppc, (self.rollout.wave_of(ppc) or 0, why))
            elif kind == "command:local:Command" and name == "verify":
                blocked.append(f"the smoke test (verifyCommand) failed: {_short(message)}")
            elif kind.endswith(":Merge"):
                blocked.append(_short(message))
            elif "would be lost" in message:
                blocked.append(_short(message))
        updated = {
            ppc: int(name[len("ppc-wave-") :])
            for name, (op, outs) in self.done.items()
            if _WAVE_NAME.match(name) and op in CHANGED
            for ppc in (outs.get("outcomes") or {})
        }
        return notify.Run(
            command=self.command,
            ok=ok,
            actor=self.by,
            cuts=self.cuts,
            release=self.release or "",
            blocked=tuple(dict.fromkeys(blocked)),
            ppcs_updated=updated,
            ppcs_failed=failed,
        )

    def events(
        self, ok: bool, before: dict[str, Any] | None = None, after: dict[str, Any] | None = None
    ) -> list[notify.Event]:
        """The notifications this `up` calls for (pure): notify.run_events over the state of
        the train's resources before and after it and what the engine reported."""
        return notify.run_events(self.env, before or {}, after or {}, self.run(ok))


_WAVE_NAME = re.compile(r"^ppc-wave-[0-9]+$")
_FAILED_PPC = re.compile(r"^failed PPC ([a-z0-9][a-z0-9-]*): (.*)$")


def failed_in_wave(message: str) -> dict[str, str]:
    """PPC name -> why, from a PpcWave's error (release/providers/ppc_wave.py writes one
    `failed PPC <name>: <detail>` line per failed PPC)."""
    found: dict[str, str] = {}
    for line in message.splitlines():
        match = _FAILED_PPC.match(line.strip())
        if match:
            found.setdefault(match[1], _short(match[2]))
    return found


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1] if "::" in urn else ""


def _type(urn: str) -> str:
    parts = urn.split("::")
    return parts[-2].rsplit("$", 1)[-1] if len(parts) >= 2 else ""


def _short(message: str, limit: int = 600) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    wanted = [line for line in lines if "error" in line.lower() or "not merged" in line] or lines
    text = " ".join(wanted[-3:]).removeprefix("error: ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


class NotifyingStack:
    """A stack whose `up` reports its events to a Watch (what `release promote` runs)."""

    def __init__(self, stack: auto.Stack, watch: Watch, state: Callable[[], dict]) -> None:
        self._stack = stack
        self.watch = watch
        self._state = state  # the train's resources in the stack's state, now

    @property
    def name(self) -> str:
        return self._stack.name

    def up(self, **kwargs: Any) -> auto.UpResult:
        kwargs["on_event"] = self.watch.on_event
        before = self._state()
        try:
            result = self._stack.up(**kwargs)
        except auto.ConcurrentUpdateError:
            raise
        except auto.CommandError:
            self.watch.finish(ok=False, before=before, after=self._state())
            raise
        self.watch.finish(ok=True, before=before, after=self._state())
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stack, name)


def notifying(
    proj: automation.Project,
    settings: Settings,
    target: Target | None,
    extra: dict[str, str] | None = None,
) -> Any:
    """The stack `release promote` runs `up` on: a promotion stack's `up` is watched, to say
    what a failed PPC wave means and to notify the stack's webhook, if it has one. `extra`
    are per-run environment values for the program (the delta of intent among them)."""
    from release.engine.intent_store import read_record

    env = settings.stack
    stack = automation.stack(proj, env, extra)
    source = settings.promotes_from
    if not source:
        return stack
    url = webhook(proj, env)
    record = read_record(proj, env)
    watch = Watch(
        env=env,
        release=target.branch if target else record.release,
        cuts=check_env(proj, source).tracks_source,
        rollout=settings.rollout,
        rollback_to=record.rollback.to if record.rollback else None,
        post=(lambda event: post_event(url, event)) if url else None,
        by=actor(),
        ppc_state_dir=proj.directory / settings.rollout.ppc_state_dir,
    )
    return NotifyingStack(
        stack, watch, lambda: automation.train_state(proj, env, notify.TRAIN_RESOURCES)
    )
