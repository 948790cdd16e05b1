"""Production promotes only the release staging merged, after its soak counted from that
merge; --force names every rule it overrides (release/rules/production.py, plain data)."""

from __future__ import annotations

import datetime as dt

from release.rules.cadence import Freeze
from release.rules.production import Staged, force_text, promotion_refusals

HEAD = "a" * 40
RELEASE = "release/2026-11-26"
MERGED = dt.date(2026, 11, 27)  # staging's PR merged the day after the cut


def staged(state: str | None = "merged", merged_on: dt.date | None = MERGED) -> Staged:
    return Staged(RELEASE, HEAD, state, merged_on)


def rules(branch=RELEASE, commit=HEAD, today=dt.date(2026, 12, 1), stage=None, freezes=()):
    stage = staged() if stage is None else stage
    found = promotion_refusals(branch, commit, today, list(freezes), stage, 4)
    return [r.rule for r in found], found


def test_the_staged_release_after_its_soak_goes():
    assert rules() == ([], [])


def test_soak_counts_from_the_staging_merge_not_the_branch_date():
    # 4 days after the cut's date but only 3 after the merge
    names, found = rules(today=dt.date(2026, 11, 30))
    assert names == ["soak"]
    assert "2026-11-27" in found[0].message and "ready on 2026-12-01" in found[0].message


def test_a_date_staging_never_merged_is_refused_as_unstaged_and_unsoaked():
    # `--date 2026-11-01`: a release of its own name, old enough by its name, never staged
    names, found = rules(branch="release/2026-11-01", today=dt.date(2026, 11, 29))
    assert names == ["staged", "soak"]
    assert "release/2026-11-01 is not the release staging runs" in found[0].message


def test_another_commit_than_staging_merged_is_unstaged():
    names, found = rules(commit="b" * 40)
    assert names == ["staged", "soak"] and "bbbbbbbbbbbb" in found[0].message


def test_a_release_still_waiting_at_staging_is_unstaged():
    names, found = rules(stage=staged(state="open", merged_on=None))
    assert names == ["staged", "soak"] and "is open" in found[0].message
    names, _ = rules(stage=Staged(None, None, None, None))
    assert names == ["staged", "soak"]


def test_an_unknown_merge_day_cannot_pass_the_soak():
    names, found = rules(stage=staged(merged_on=None))
    assert names == ["soak"] and "no staging merge" in found[0].message


def test_every_rule_is_named_and_only_production_checks_staging():
    freeze = Freeze(dt.date(2026, 11, 29), "incident review")
    names, found = rules(branch="release/2026-11-01", today=freeze.date, freezes=[freeze])
    assert names == ["freeze", "staged", "soak"]
    text = force_text(found, "hotfix for incident | 42\n")
    assert text == "--force overrides freeze, staged, soak: hotfix for incident / 42"
    other = promotion_refusals("release/2026-11-01", HEAD, freeze.date, [freeze], None, 4)
    assert [r.rule for r in other] == ["freeze"]
