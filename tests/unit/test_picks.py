"""release.rules.picks: the pick and revert decisions on plain data."""

from __future__ import annotations

import pytest

from release.rules.config import ConfigError, DayTwo, day_two_settings
from release.rules.picks import (
    PickConflict,
    PickRefused,
    applied_by,
    conflict_files,
    is_temp_ref,
    merge_picks,
    pick_message,
    refusal,
    removed,
    revert_message,
    revert_origins,
    revert_refusal,
    reverted_by,
    temp_branch,
)

PICK = "c" * 40
OTHER = "d" * 40


def commit(sha, message, parents=1):
    return {"sha": sha, "parents": [{"sha": "0" * 40}] * parents, "commit": {"message": message}}


def no_fingerprints(_sha=None):
    raise AssertionError("a trailer should have settled it without reading patches")


def test_messages_match_git():
    assert (
        pick_message("fix: x\n\nbody\n\n", PICK)
        == f"fix: x\n\nbody\n\n(cherry picked from commit {PICK})"
    )
    assert (
        revert_message("fix: x\n\nbody", PICK) == f'Revert "fix: x"\n\nThis reverts commit {PICK}.'
    )
    assert revert_origins(revert_message("t", PICK)) == [PICK]


def test_refusals():
    assert refusal(PICK, ["1" * 40], on_source=True, allow_off_source=False) is None
    merge = refusal(
        PICK, ["1" * 40, "2" * 40], on_source=True, allow_off_source=True, key="picks[2]"
    )
    assert isinstance(merge, PickRefused) and isinstance(merge, ConfigError)
    assert "merge commit" in str(merge) and "picks[2]" in str(merge)
    off = refusal(PICK, ["1" * 40], on_source=False, allow_off_source=False)
    assert off is not None and "upstream first" in str(off) and "--allow-off-master" in str(off)
    assert "release-train:allowOffMaster" not in str(off)  # no stack-file key: the option
    assert refusal(PICK, ["1" * 40], on_source=False, allow_off_source=True) is None
    assert "root commit" in str(refusal(PICK, [], True, False))
    assert revert_refusal(PICK, ["1" * 40], on_branch=True, branch="release/x") is None
    assert "not on release/x" in str(revert_refusal(PICK, ["1" * 40], False, "release/x"))
    assert "merge commit" in str(revert_refusal(PICK, ["1", "2"], True, "release/x"))


def test_applied_by_trailer_first_then_patch():
    by_trailer = [commit(OTHER, pick_message("fix", PICK[:10]))]
    assert applied_by(PICK, by_trailer, no_fingerprints, no_fingerprints) == OTHER
    same_patch = [commit("e" * 40, "unrelated"), commit(OTHER, "manual pick, no trailer")]
    prints = {"e" * 40: "p-other", OTHER: "p-pick"}
    assert applied_by(PICK, same_patch, lambda: "p-pick", prints.__getitem__) == OTHER
    assert applied_by(PICK, same_patch, lambda: "p-none", prints.__getitem__) is None
    merges_only = [commit(OTHER, pick_message("fix", PICK), parents=2)]
    assert applied_by(PICK, merges_only, no_fingerprints, no_fingerprints) is None
    assert applied_by(PICK, [], no_fingerprints, no_fingerprints) is None


def test_a_revert_with_the_same_files_is_not_taken_for_the_pick():
    revert = [commit(OTHER, revert_message("fix", "f" * 40))]
    assert applied_by(PICK, revert, lambda: "same", lambda _s: "same") is None


def test_reverted_by():
    assert reverted_by(PICK, [commit(OTHER, revert_message("x", PICK))]) == OTHER
    assert reverted_by(PICK, [commit(OTHER, revert_message("x", OTHER))]) is None


def test_conflict_files_and_message():
    assert conflict_files(["a.py", "b.py"], ["b.py", "c.py"]) == ["b.py"]
    assert conflict_files(["a.py"], []) == ["a.py"]
    err = PickConflict("pick", PICK, "release/2026-11-19", ["b.py"])
    assert "b.py" in str(err) and "Nothing was pushed" in str(err) and err.files == ["b.py"]


def test_temp_refs_are_the_only_deletable_refs():
    name = temp_branch("pick", "release/2026-11-19", PICK)
    assert name == f"release-train/tmp/pick-release-2026-11-19-{PICK}"
    assert is_temp_ref(name) and is_temp_ref(f"refs/heads/{name}")
    for ref in (
        "release/2026-11-19",
        "refs/heads/staging",
        "release-train/tmp/",
        "master",
        "refs/heads/release-train/tmpx",
        "release-train/tmp/../staging",
    ):
        assert not is_temp_ref(ref), ref


def test_removed_picks_are_reported_not_reverted():
    previous = [{"sha": PICK, "commit": OTHER}, {"sha": OTHER, "commit": None}]
    gone = removed("pick", previous, [OTHER])
    assert [g.sha for g in gone] == [PICK]
    assert "already applied as dddddddddddd, not reverted" in gone[0].describe()
    assert merge_picks([PICK], [OTHER, PICK]) == [PICK, OTHER]


def test_day_two_settings():
    assert day_two_settings({}) == DayTwo()
    got = day_two_settings(
        {
            "reverts": f'["{PICK}"]',
            "rollback": '{"to": "release/2026-11-12", "date": "2026-11-27"}',
            "rolledBack": ["release/2026-11-19"],
            "rollbackApprovals": "0",
        }
    )
    assert got == DayTwo((PICK,), "release/2026-11-12", "2026-11-27", ("release/2026-11-19",), 0)
    for raw, key in (
        ({"reverts": ["abc"]}, "reverts[0]"),
        ({"rollback": {"to": "staging", "date": "2026-11-27"}}, "rollback.to"),
        ({"rollback": {"to": "release/2026-11-12", "date": "soon"}}, "rollback.date"),
        ({"rolledBack": ["staging"]}, "rolledBack"),
        ({"rollbackApprovals": 2}, "rollbackApprovals"),
    ):
        with pytest.raises(ConfigError) as caught:
            day_two_settings(raw)
        assert caught.value.key == key
