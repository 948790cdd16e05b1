"""The oncall rotation at the merge gate, under the real engine against the sandbox: the
staging merge takes the approval of this week's partner (the primary, who reviews the
secondary's cut) and refuses last week's partner's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from devtools.demo import act_as_ci_and_partner
from release.cli.promotion import collect_status
from release.rules.rotation import parse_rotation, partner
from sandbox import Sandbox
from tests.conftest import REVIEWER_TOKEN, TOKEN
from tests.e2e.train import CHECKS, RELEASE_DATE, Train

pytestmark = pytest.mark.e2e
RELEASE = f"release/{RELEASE_DATE}"
LAST_WEEK_TOKEN = "sandbox-token-dana"


@pytest.fixture
def forge_with_dana(tmp_path: Path, seed_cache: Path) -> Iterator[Sandbox]:
    """The seeded sandbox with one more collaborator, dana (last week's partner)."""
    from sandbox.seed import seed

    data_dir = tmp_path / "forge"
    data_dir.mkdir(parents=True)
    seed(data_dir, cache_dir=seed_cache)
    sb = Sandbox(
        data_dir,
        tokens={TOKEN: "release-bot", REVIEWER_TOKEN: "oncall-partner", LAST_WEEK_TOKEN: "dana"},
    )
    sb.start()
    sb.token = TOKEN  # type: ignore[attr-defined]
    sb.reviewer_token = REVIEWER_TOKEN  # type: ignore[attr-defined]
    try:
        yield sb
    finally:
        sb.stop()


def set_stack_config(train: Train, env: str, values: dict) -> None:
    """Change keys of a stack file, as a person edits Pulumi.<env>.yaml."""
    path = train.project.directory / f"Pulumi.{env}.yaml"
    data = yaml.safe_load(path.read_text())
    data["config"].update({f"release-train:{k}": v for k, v in values.items()})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    tmp.replace(path)


def test_the_gate_takes_this_weeks_partner_and_refuses_last_weeks(
    harness, forge_with_dana, monkeypatch
):
    train = Train.start(harness, forge_with_dana, monkeypatch)
    repo = train.repo()
    train.promote("testing")
    # The engine decides with the real date: the rotation began last week, so dana was
    # last week's primary (her partner's cuts went to her) and oncall-partner is this week's.
    today = dt.datetime.now(dt.UTC).date()
    rotation = {
        "start": (today - dt.timedelta(days=7)).isoformat(),
        "people": ["dana", "oncall-partner", "erin"],
    }
    parsed = parse_rotation(rotation)
    assert partner(parsed, today - dt.timedelta(days=7), "cut") == "dana"
    assert partner(parsed, today, "cut") == "oncall-partner"
    set_stack_config(train, "staging", {"oncall": rotation, "reviewers": []})

    waiting = train.promote("staging")
    assert "waits at the merge gate" in waiting.stdout
    gate = train.outputs("staging")["gate"]
    assert gate["state"] == "waiting"
    assert any("by oncall-partner, the oncall partner" in r for r in gate["reasons"]), gate
    pull = next(p for p in repo.get_pulls(state="open", base="staging") if p.head.ref == RELEASE)
    users, _teams = pull.get_review_requests()
    assert [u.login for u in users] == ["oncall-partner"]  # the partner is asked, nobody else
    staging_before = repo.get_branch("staging").commit.sha

    # CI green and last week's partner approves: the gate stays closed and says whose
    # approval it waits for.
    act_as_ci_and_partner(forge_with_dana, LAST_WEEK_TOKEN, "staging", CHECKS)
    assert [r.user.login for r in repo.get_pull(pull.number).get_reviews()] == ["dana"]
    train.promote("staging")
    gate = train.outputs("staging")["gate"]
    head = repo.get_pull(pull.number).head.sha
    assert gate["state"] == "waiting", gate
    assert gate["reasons"] == [
        f"needs the approval of {head[:12]} "
        "by oncall-partner, the oncall partner (no other approval counts instead)"
    ]
    assert repo.get_branch("staging").commit.sha == staging_before
    assert not repo.get_pull(pull.number).merged
    # `release status` reads the same gate live: still waiting for this week's partner.
    row = {r["environment"]: r for r in collect_status(train.project)}["staging"]
    assert f"#{pull.number} waits" in row["waiting"] and "by oncall-partner" in row["waiting"]

    # This week's partner approves: the next up merges.
    train.approve("staging")
    train.promote("staging")
    values = train.outputs("staging")
    assert values["state"] == "merged" and values["gate"] == {"state": "merged", "reasons": []}
    assert repo.get_pull(pull.number).merged
