"""How a run ended, over plain data: the gate-wait block and the expected refusals."""

from __future__ import annotations

from rich.console import Console

from release.rules.gates import opened_gate
from release.rules.outcomes import (
    expected_refusal,
    gate_block,
    gate_of,
    promotion_summary,
    split_reasons,
)
from release.rules.text import term

REASONS = [
    "check ci/travis is missing on 333333333333",
    "needs 1 more approval(s) of 333333333333 from oncall-partner",
    "the pull request cannot be merged cleanly (conflict)",
]
WAITING = {
    "releaseBranch": "release/2026-11-26",
    "releaseHead": "3" * 40,
    "prNumber": 7,
    "prUrl": "http://forge.invalid/acme/app/pull/7",
    "state": "open",
    "gate": {"state": "waiting", "reasons": REASONS},
}


def test_gate_block_names_pr_head_each_reason_and_the_next_command():
    block = "\n".join(gate_block("staging", WAITING) or [])
    assert "release/2026-11-26 waits at the merge gate" in block
    assert "#7 http://forge.invalid/acme/app/pull/7" in block
    assert "head: " + "3" * 40 in block
    assert "missing check: check ci/travis is missing" in block
    assert "missing approval: needs 1 more approval(s) of 333333333333 from oncall-partner" in block
    assert "also: the pull request cannot be merged cleanly" in block
    assert "`release promote staging`" in block


def test_the_block_of_a_pull_request_just_opened_says_so_escaped_with_the_next_command():
    reasons = list(
        opened_gate(
            head_sha="3" * 40,
            expected_head="3" * 40,
            required_checks=["ci/travis", "[bold]lint"],
            reviewers=["oncall-partner"],
            required_approvals=1,
            must_approve=["oncall-partner"],
        ).reasons
    )
    values = {**WAITING, "gate": {"state": "waiting", "reasons": reasons}}
    block = gate_block("staging", values) or []
    kinds = split_reasons(reasons)
    assert len(kinds["checks"]) == 2 and len(kinds["approvals"]) == 1 and not kinds["other"]
    text = "\n".join(block)
    assert (
        "missing approval: needs the approval of 333333333333 by oncall-partner, the oncall "
        "partner (no other approval counts instead): the pull request was just opened by this "
        "run, nobody has reviewed it yet"
    ) in text
    assert (
        "missing check: check ci/travis must pass on 333333333333 (not read yet: the pull "
        "request was just opened)"
    ) in text
    assert block[-1].startswith("  next: once the checks are green and the approvals given")
    assert "`release promote staging`" in block[-1]
    # A check's name is data: printed as typed, never read as markup.
    printed = Console(record=True, width=300, color_system=None)
    for line in block:
        printed.print(term(line), highlight=False, soft_wrap=True)
    assert "check [bold]lint must pass on 333333333333" in printed.export_text()


def test_nothing_waits_when_merged_or_never_run():
    assert gate_block("staging", {**WAITING, "gate": {"state": "merged", "reasons": []}}) is None
    assert gate_block("staging", {}) is None
    assert gate_of({"gate": {"state": "merged"}}) is None


def test_a_waiting_rollback_is_named():
    values = {
        "releaseBranch": "release/2026-11-26",
        "gate": {"state": "merged", "reasons": []},
        "dayTwo": {
            "rollback": {
                "to": "release/2026-11-19",
                "commit": "9" * 40,
                "prNumber": 9,
                "prUrl": None,
                "gate": {"state": "waiting", "reasons": REASONS[1:2]},
            }
        },
    }
    block = "\n".join(gate_block("staging", values) or [])
    assert "rollback to release/2026-11-19 waits" in block and "#9" in block
    assert "head: " + "9" * 40 in block


def test_split_reasons():
    kinds = split_reasons(REASONS)
    assert kinds == {"checks": REASONS[:1], "approvals": REASONS[1:2], "other": REASONS[2:]}


ENGINE_TEXT = """\
    Traceback (most recent call last):
      File "/x/pulumi/dynamic/__main__.py", line 170, in Create
        result = provider.create(props)
    release.rules.picks.PickConflict: cherry-pick of 0123456789ab onto release/2026-11-26 conflicts in:
      - README.md
      - app/main.py
    Nothing was pushed and the branch is unchanged. Make a fix on master.

Resources:
    5 unchanged
"""


def test_an_expected_refusal_is_found_with_its_files():
    found = expected_refusal(ENGINE_TEXT)
    assert found is not None
    kind, message = found
    assert kind == "PickConflict"
    assert message.startswith("cherry-pick of 0123456789ab onto release/2026-11-26 conflicts in:")
    assert "- README.md" in message and "- app/main.py" in message
    assert "Nothing was pushed" in message and "Resources" not in message


def test_an_unexpected_error_is_not_a_refusal():
    text = ENGINE_TEXT.replace("release.rules.picks.PickConflict", "KeyError")
    assert expected_refusal(text) is None
    assert expected_refusal("error: Exception: boom") is None


def test_moved_branch_and_merges_not_allowed_are_expected():
    moved = "release.providers.grafting.BranchMoved: release/x is at 1, not at 2 as planned"
    assert expected_refusal(moved) == ("BranchMoved", "release/x is at 1, not at 2 as planned")
    merges = "    release.providers.merge.MergesNotAllowed: acme/app does not allow merge commits"
    assert expected_refusal(merges)[0] == "MergesNotAllowed"


def test_promotion_summary_is_short_and_names_release_pr_gate_size_and_pins():
    values = {
        **WAITING,
        "payload": {
            "commits": [{"sha": str(i) * 40} for i in range(14)],
            "pins": [{"name": "sdk", "before": "v3.44.0", "after": "v3.44.1"}],
        },
    }
    lines = promotion_summary(values)
    assert lines == [
        "  release: release/2026-11-26 at " + "3" * 40,
        "  pull request: #7 http://forge.invalid/acme/app/pull/7",
        "  gate: waiting",
        "  payload: 14 commit(s); pins: sdk v3.44.0 -> v3.44.1",
    ]
    assert promotion_summary({"greenCommit": "a" * 40}) == ["  green commit: " + "a" * 40]
    brief = {**WAITING, "payloadSummary": {"commits": 3, "pins": []}}
    assert promotion_summary(brief)[-1] == "  payload: 3 commit(s); pins: none"
