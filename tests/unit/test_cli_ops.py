"""The decisions behind `release promote`'s refusals, `release status`'s calendar and the
notifications of an `up`, on plain data (no engine, no forge)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import typer
import yaml
from pulumi import automation as auto
from pulumi.automation import events

from release.cli import ops as cli_ops
from release.engine import automation
from release.rules import clock
from release.rules.cadence import Cadence, Freeze, Oncall
from release.rules.config import RolloutSettings
from release.rules.ppcs import Ppc
from release.rules.production import Staged
from release.rules.rotation import pair_on, parse_rotation
from release.rules.targets import Target

ROOT = Path(__file__).resolve().parents[2]
TUESDAY = dt.date(2026, 12, 1)
RELEASE = "release/2026-11-26"  # cut on a Thursday


def team(freezes=(), min_soak=4) -> cli_ops.Team:
    return cli_ops.Team(
        Cadence(min_soak_days=min_soak),
        parse_rotation({"primary": "dana", "secondary": "oncall-partner"}),
        tuple(freezes),
    )


def target(day: str = "2026-11-26") -> Target:
    return Target(commit="1" * 40, release_date=dt.date.fromisoformat(day), reason="test")


# --- promote: freeze and soak ---------------------------------------------------------------


def staged(merged_on: str = "2026-11-26", state: str = "merged") -> Staged:
    return Staged(RELEASE, "1" * 40, state, dt.date.fromisoformat(merged_on))


def test_a_freeze_date_refuses_every_environment_with_its_reason():
    frozen = team([Freeze(TUESDAY, "year-end change freeze")])
    for env, stage in (("testing", None), ("staging", None), ("production", staged())):
        (refusal,) = cli_ops.promote_refusal(env, target(), frozen, TUESDAY, stage)
        assert refusal.rule == "freeze"
        assert "year-end change freeze" in refusal.message and "2026-12-01" in refusal.message
    assert cli_ops.promote_refusal("testing", None, frozen, TUESDAY, None)
    day_after = TUESDAY + dt.timedelta(1)
    assert cli_ops.promote_refusal("staging", target(), frozen, day_after, None) == []


def test_a_freeze_blocks_writes_only_the_tracking_stack_still_reads():
    frozen = team([Freeze(TUESDAY, "year-end change freeze")])
    assert cli_ops.promote_refusal("testing", None, frozen, TUESDAY, None, writes=False) == []
    (refusal,) = cli_ops.promote_refusal("staging", target(), frozen, TUESDAY, None, writes=True)
    assert refusal.rule == "freeze"


def test_production_waits_for_the_minimum_soak_from_the_staging_merge():
    # cut on the 26th but merged into staging on the 27th: the soak counts from the merge
    late = staged("2026-11-27")
    (short,) = cli_ops.promote_refusal("production", target(), team(), dt.date(2026, 11, 30), late)
    assert short.rule == "soak" and "only 3 days" in short.message
    assert "minimum is 4" in short.message and "2026-12-01" in short.message
    assert cli_ops.promote_refusal("production", target(), team(), TUESDAY, late) == []
    # staging is not held by the soak, and a soak of 0 days never holds production
    assert cli_ops.promote_refusal("staging", target(), team(), dt.date(2026, 11, 26), None) == []
    day = dt.date(2026, 11, 27)
    assert cli_ops.promote_refusal("production", target(), team(min_soak=0), day, late) == []


def project_with(tmp_path: Path, changes: dict[str, dict]) -> automation.Project:
    for path in ROOT.glob("Pulumi.*.yaml"):
        data = yaml.safe_load(path.read_text())
        stack = path.name[len("Pulumi.") : -len(".yaml")]
        for key, value in changes.get(stack, {}).items():
            data["config"][f"release-train:{key}"] = value
        (tmp_path / path.name).write_text(yaml.safe_dump(data))
    return automation.Project(directory=tmp_path)


def test_team_settings_from_the_example_stack_files(tmp_path):
    proj = project_with(tmp_path, {})
    info = cli_ops.team(proj)
    assert info.oncall is not None
    assert info.oncall.people == ("dana", "oncall-partner") and info.oncall.handoff == "monday"
    assert pair_on(info.oncall, dt.date(2026, 11, 26)) == Oncall("dana", "oncall-partner")
    assert pair_on(info.oncall, dt.date(2026, 12, 1)) == Oncall("oncall-partner", "dana")
    assert info.cadence == Cadence("thursday", "tuesday", 4)
    assert info.freezes == ()
    assert cli_ops.roles(proj) == ("staging", "production")


def test_freezes_from_every_stack_file_cadence_from_the_last(tmp_path):
    proj = project_with(
        tmp_path,
        {
            "staging": {
                "freezes": [{"date": "2026-12-24", "reason": "holiday"}],
                "cadence": {"minSoakDays": 1},
            },
            "production": {"freezes": [{"date": "2026-12-01", "reason": "incident 42"}]},
        },
    )
    info = cli_ops.team(proj)
    assert [(f.date.isoformat(), f.reason) for f in info.freezes] == [
        ("2026-12-01", "incident 42"),
        ("2026-12-24", "holiday"),
    ]
    assert info.cadence.min_soak_days == 4  # production's, the last stack that sets it


def test_a_bad_calendar_value_names_the_stack_file_and_key(tmp_path, capsys):
    proj = project_with(tmp_path, {"production": {"cadence": {"productionWeekday": "tues"}}})
    with pytest.raises(typer.Exit):
        cli_ops.team(proj)
    err = capsys.readouterr().err
    assert "Pulumi.production.yaml" in err and "release-train:cadence.productionWeekday" in err


# --- notifications from the engine's events -------------------------------------------------


def urn(name: str, kind: str, parent: str = "") -> str:
    prefix = f"{parent}$" if parent else ""
    return f"urn:pulumi:production::release-train::{prefix}{kind}::{name}"


BRANCH = "pulumi-python:dynamic/git:ReleaseBranch"
MERGE = "pulumi-python:dynamic/github:Merge"
COMMAND = "command:local:Command"
ROLLOUT = "release-train:index:PpcRollout"
WAVE = "pulumi-python:dynamic/release:PpcWave"


def outcomes(*ppcs: str) -> dict:
    """A PpcWave's outputs: every PPC of it updated."""
    return {"outcomes": {p: {"ok": True, "detail": "updated", "url": ""} for p in ppcs}}


def wave_error(wave: int, failures: dict[str, str]) -> str:
    """A PpcWave's error as the engine reports it: the provider's traceback, then its message
    (release/providers/ppc_wave.py, failure_message)."""
    lines = [
        "error: Exception calling application: Traceback (most recent call last):",
        '  File "/x/release/providers/ppc_wave.py", line 120, in create',
        f"release.providers.ppc_wave.PpcWaveFailed: PPC wave {wave} of {RELEASE}: "
        f"{len(failures)} of 3 PPC update(s) failed; the later waves do not start.",
    ]
    lines += [f"failed PPC {name}: {why}" for name, why in failures.items()]
    return "\n".join(lines)


def outputs_event(
    name: str, kind: str, op: str, outputs: dict, parent: str = ""
) -> auto.EngineEvent:
    the_urn = urn(name, kind, parent)
    state = events.StepEventStateMetadata(
        type=kind, urn=the_urn, id="x", parent="", provider="", outputs=outputs
    )
    meta = events.StepEventMetadata(
        op=events.OpType(op), urn=the_urn, type=kind, new=state, provider=""
    )
    return auto.EngineEvent(sequence=1, timestamp=0, res_outputs_event=events.ResOutputsEvent(meta))


def error_event(the_urn: str, message: str) -> auto.EngineEvent:
    diag = events.DiagnosticEvent(message=message, color="never", severity="error", urn=the_urn)
    return auto.EngineEvent(sequence=2, timestamp=0, diagnostic_event=diag)


def watch(cuts: bool, posted: list) -> cli_ops.Watch:
    rollout = RolloutSettings(
        ppcs=(Ppc("acme-internal", 1), Ppc("globex", 2), Ppc("initech", 2), Ppc("hooli", 3))
    )
    return cli_ops.Watch(
        env="production",
        release=RELEASE,
        cuts=cuts,
        rollout=rollout,
        rollback_to=None,
        post=posted.append,
        by="oncall-ana",
    )


PR_URL = "https://forge.example/acme/app/pull/7"


def merged_outputs(commit: str, release: str = RELEASE) -> dict:
    """The train's resources in the state (name -> outputs) after `release` merged."""
    return {
        "release-branch": {"branch": release},
        "pull-request": {"head": release, "url": PR_URL, "number": 7},
        "merge": {"merged": True, "merge_commit": commit},
    }


def test_a_merge_then_a_failed_ppc_wave():
    posted: list = []
    w = watch(cuts=False, posted=posted)
    w.on_event(outputs_event("release-branch", BRANCH, "create", {"branch": RELEASE}))
    w.on_event(outputs_event("merge", MERGE, "create", {"merged": True, "merge_commit": "ab" * 20}))
    w.on_event(outputs_event("ppc-wave-1", WAVE, "create", outcomes("acme-internal"), ROLLOUT))
    w.on_event(
        error_event(
            urn("ppc-wave-2", WAVE, ROLLOUT),
            wave_error(
                2,
                {
                    "globex": "exit status 1: error: PPC globex: update to release/2026-11-26 "
                    "failed: fail lists this PPC"
                },
            ),
        )
    )
    w.on_event(error_event(urn("production", "pulumi:pulumi:Stack"), "update failed"))
    # the state keeps the merge even though the up failed later on
    w.finish(ok=False, before={}, after=merged_outputs("ab" * 20))
    kinds = [e.kind for e in posted]
    assert kinds == [
        "merged",
        "ppc_wave_started",
        "ppc_wave_started",
        "ppc_wave_failed",
        "ppc_wave_done",
    ]
    assert posted[0].detail == "merge commit " + ("ab" * 20)[:12] and posted[0].pr_url == PR_URL
    failed = posted[3]
    assert failed.detail.startswith("wave 2: globex: ") and "fail lists this PPC" in failed.detail
    assert "Later waves did not start" in failed.detail
    assert posted[4].detail == "wave 1"  # the wave before the failure completed
    assert all(e.actor == "oncall-ana" and e.environment == "production" for e in posted)
    # the run that continues after the fix: the merge is in the state already, not repeated
    posted.clear()
    w = watch(cuts=False, posted=posted)
    # wave 2 runs again, both its PPCs (initech's job finds it done and does nothing)
    w.on_event(outputs_event("ppc-wave-2", WAVE, "create", outcomes("globex", "initech"), ROLLOUT))
    w.finish(ok=True, before=merged_outputs("ab" * 20), after=merged_outputs("ab" * 20))
    assert [(e.kind, e.detail) for e in posted] == [
        ("ppc_wave_started", "wave 2: globex, initech"),
        ("ppc_wave_done", "wave 2"),
    ]


def test_every_promotion_is_merged_once_and_a_rerun_posts_nothing():
    posted: list = []
    first = merged_outputs("a" * 40)
    w = watch(cuts=False, posted=posted)
    w.finish(ok=True, before={}, after=first)
    second = merged_outputs("b" * 40, "release/2026-12-03")
    w = watch(cuts=False, posted=posted)  # the merge resource replaced: a new merge commit
    w.on_event(outputs_event("merge", MERGE, "replace", {"merged": True}))
    w.finish(ok=True, before=first, after=second)
    w = watch(cuts=False, posted=posted)  # a no-op re-run
    w.on_event(outputs_event("merge", MERGE, "same", {"merged": True}))
    w.finish(ok=True, before=second, after=second)
    assert [(e.kind, e.release) for e in posted] == [
        ("merged", RELEASE),
        ("merged", "release/2026-12-03"),
    ]
    assert posted[1].pr_url == PR_URL and posted[1].detail == "merge commit " + "b" * 12
    assert "promote the next environment" in posted[1].next_step


def test_a_merge_waiting_at_its_gate_is_blocked_never_merged_and_merges_on_a_later_update():
    posted: list = []
    w = watch(cuts=True, posted=posted)
    reasons = ["needs 1 more approval(s) of 333333333333 from oncall-partner"]
    waiting = {
        "number": 3,
        "merged": False,
        "merge_commit": None,
        "gate_state": "waiting",
        "waiting": reasons,
    }
    w.on_event(outputs_event("merge", MERGE, "create", waiting))
    cut = {
        "release-branch": {"branch": RELEASE},
        "pull-request": {"head": RELEASE, "url": PR_URL},
        "merge": waiting,
    }
    w.finish(ok=True, before={}, after=cut)  # a gate wait is a successful up
    assert [e.kind for e in posted] == ["cut", "blocked"]
    assert posted[1].pr_url == PR_URL
    assert posted[1].detail == (
        "pull request #3 waits at the merge gate: "
        "needs 1 more approval(s) of 333333333333 from oncall-partner"
    )
    assert "`release promote production` again" in posted[1].next_step

    posted.clear()
    later = watch(cuts=True, posted=posted)
    done = {"merged": True, "merge_commit": "5" * 40, "gate_state": "merged", "waiting": []}
    later.on_event(outputs_event("merge", MERGE, "update", done))
    later.finish(ok=True, before=cut, after={**cut, "merge": {**waiting, **done}})
    assert [e.kind for e in posted] == ["merged"] and "555555555555" in posted[0].detail


def test_an_idle_up_sends_nothing():
    posted: list = []
    w = watch(cuts=True, posted=posted)
    w.on_event(outputs_event("release-branch", BRANCH, "same", {"branch": RELEASE}))
    w.on_event(outputs_event("merge", MERGE, "same", {"merged": True}))
    w.finish(ok=True, before=merged_outputs("c" * 40), after=merged_outputs("c" * 40))
    assert posted == []


def test_lost_fix_and_smoke_test_failures_are_blocks():
    posted: list = []
    w = watch(cuts=True, posted=posted)
    w.on_event(
        error_event(
            urn("production", "pulumi:pulumi:Stack"),
            "error: 1 fix on release/2026-11-19 would be lost by promoting release/2026-11-26",
        )
    )
    w.finish(ok=False)
    w = watch(cuts=False, posted=posted)
    w.on_event(error_event(urn("verify", COMMAND), "error: exit status 1"))
    w.finish(ok=False)
    assert [e.kind for e in posted] == ["blocked", "blocked"]
    assert "would be lost" in posted[0].detail and "smoke test" in posted[1].detail


def test_a_broken_receiver_never_fails_the_promotion(capsys):
    def post(_event):
        raise ConnectionError("receiver down")

    w = watch(cuts=True, posted=[])
    w.post = post
    w.finish(ok=True, before={}, after=merged_outputs("d" * 40))
    assert "notifications not sent" in capsys.readouterr().err


def test_without_a_webhook_a_failed_wave_is_still_explained(capsys):
    w = watch(cuts=False, posted=[])
    w.post = None
    w.on_event(error_event(urn("ppc-wave-3", WAVE, ROLLOUT), wave_error(3, {"hooli": "boom"})))
    w.finish(ok=False)
    err = " ".join(capsys.readouterr().err.split())
    assert f"PPC rollout of {RELEASE} stopped: wave 3: hooli: boom" in err
    assert "release promote production` again: PPCs already updated are not run again" in err


def test_day_two_commands_post_their_rollback_and_abandon_once():
    from release.cli.day_two import day_two_events
    from release.engine.day_two import FlowResult

    abandoned = FlowResult(abandoned=(RELEASE, PR_URL), after=merged_outputs("e" * 40))
    [event] = day_two_events("staging", "abandon", abandoned, "ana", "a bad build")
    assert (event.kind, event.release, event.pr_url, event.detail, event.actor) == (
        "abandoned",
        RELEASE,
        PR_URL,
        "a bad build",
        "ana",
    )
    assert day_two_events("staging", "abandon", FlowResult(), "ana") == []  # PR already closed
    assert "staging is back on " + RELEASE in event.next_step
    assert day_two_events("staging", "rollback", FlowResult(), "ana") == []  # no up ran
    picked = FlowResult(before=merged_outputs("e" * 40), after=merged_outputs("f" * 40))
    assert [e.kind for e in day_two_events("staging", "cherry-pick", picked, "ana")] == ["merged"]


def test_status_shows_this_and_next_weeks_pair_and_what_each_owes(tmp_path, monkeypatch):
    rotation = {
        "start": "2026-11-23",
        "people": ["dana", "oncall-partner", "erin"],
        "swaps": [{"week": "2026-11-30", "swap": ["oncall-partner", "dana"]}],
    }
    proj = project_with(tmp_path, {"production": {"oncall": rotation}})
    outputs = {
        "staging": {"releaseBranch": "release/2026-11-19", "state": "open", "prNumber": 12},
        "production": {"state": "merged", "prNumber": 9},
    }
    monkeypatch.setattr(cli_ops.automation, "outputs", lambda _proj, env: outputs.get(env, {}))
    monkeypatch.setattr(cli_ops, "running_release", lambda _proj, _env: (None, None))
    monkeypatch.setattr(cli_ops, "_ppc_line", lambda _proj, env: f"PPCs ({env})")
    lines = cli_ops.schedule_lines(proj, dt.date(2026, 11, 26))  # Thursday of week 0
    assert (
        "oncall this week (2026-11-23 to 2026-11-29): primary dana (production, Tuesday), "
        "secondary oncall-partner (staging, Thursday)"
    ) in lines
    # Next week oncall-partner would be primary; the swap hands the week to dana.
    assert (
        "oncall next week (2026-11-30 to 2026-12-06) (swapped): primary dana (production, "
        "Tuesday), secondary erin (staging, Thursday)"
    ) in lines
    assert "owes today: secondary oncall-partner: cut staging today (Thursday)" in lines
    assert "owes today: partner dana: approve PR #12" in lines
    lines = cli_ops.schedule_lines(proj, dt.date(2026, 11, 20))
    assert any(
        "oncall: oncall.start" in line and "move oncall.start back" in line for line in lines
    )


def test_a_day_two_command_held_at_its_gate_posts_blocked():
    from release.cli.day_two import day_two_events
    from release.engine.day_two import FlowResult

    held = {
        **merged_outputs("e" * 40),
        "rollback-commit": {"to_release": "release/2026-11-19"},
        "rollback-pull-request": {"url": "https://forge.example/acme/app/pull/9", "number": 9},
        "rollback-merge": {"merged": False, "gate_state": "waiting", "waiting": ["needs 1"]},
    }
    result = FlowResult(before=merged_outputs("e" * 40), after=held)
    [event] = day_two_events("staging", "rollback", result, "ana")
    assert (event.kind, event.release, event.pr_url, event.actor) == (
        "blocked",
        "release/2026-11-19",
        "https://forge.example/acme/app/pull/9",
        "ana",
    )
    assert event.detail == "rollback: pull request #9 waits at the merge gate: needs 1"
    picked = {**merged_outputs("e" * 40)}
    picked["merge"] = {"number": 7, "merged": False, "gate_state": "waiting", "waiting": ["x"]}
    result = FlowResult(before=merged_outputs("e" * 40), after=picked)
    assert [e.kind for e in day_two_events("staging", "cherry-pick", result, "ana")] == ["blocked"]


def test_status_date_shows_another_days_duties(tmp_path, monkeypatch):
    proj = project_with(tmp_path, {})
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    # staging runs last Thursday's release; production the one before
    monkeypatch.setattr(automation, "outputs", lambda _proj, _env: {"releaseBranch": RELEASE})
    monkeypatch.setattr(
        cli_ops, "running_release", lambda _proj, _env: ("release/2026-11-19", None)
    )
    monkeypatch.setattr(clock, "today", lambda: dt.date(2026, 11, 29))  # a Sunday
    sunday = cli_ops.schedule_lines(proj)
    assert sunday[0] == "today: Sunday 2026-11-29" and "due today: nothing" in sunday
    tuesday = cli_ops.schedule_lines(proj, TUESDAY)
    assert tuesday[0] == "date: Tuesday 2026-12-01"
    due = [line for line in tuesday if line.startswith("due on 2026-12-01: ")]
    # the example rotation's week of 2026-11-30: oncall-partner primary, dana secondary
    assert due and "oncall-partner (primary oncall): promote" in due[0], tuesday
    thursday = cli_ops.schedule_lines(proj, dt.date(2026, 12, 3))
    assert any(
        line.startswith("due on 2026-12-03: ") and "dana (secondary oncall)" in line
        for line in thursday
    ), thursday


def test_status_date_refuses_a_bad_day_with_the_format():
    from typer.testing import CliRunner

    from release.cli import app

    result = CliRunner().invoke(app, ["status", "--date", "2026-13-01"])
    assert result.exit_code == 1
    assert "--date '2026-13-01': give a day as YYYY-MM-DD" in " ".join(result.output.split())
    assert "Traceback" not in result.output
