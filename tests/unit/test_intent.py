"""The rules that change a stack's record of intent, on plain data (release/rules/intent.py)."""

from __future__ import annotations

import json

import pytest

from release.rules.intent import (
    EMPTY,
    ENV_VAR,
    LOG_LIMIT,
    IntentError,
    Pin,
    Record,
    Rollback,
    apply_ops,
    describe,
    encode_ops,
    legacy_keys,
    legacy_message,
    ops_from_env,
    record_from_dict,
)

A, B, C, D = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)


def pin(commit: str, date: str, **extra: object) -> dict[str, object]:
    return {"op": "pin", "commit": commit, "date": date, **extra}


def test_pin_on_an_empty_record_sets_commit_and_date() -> None:
    record = apply_ops(EMPTY, [pin(A, "2026-11-26")])
    assert (record.commit, record.release_date, record.release) == (
        A,
        "2026-11-26",
        "release/2026-11-26",
    )
    assert record.previous == ()


def test_pin_of_another_release_keeps_the_old_one_for_abandon_and_drops_its_reverts() -> None:
    start = Record(commit=A, release_date="2026-11-19", reverts=(B,), picks=(C,))
    record = apply_ops(start, [pin(D, "2026-11-26")])
    assert record.previous == (Pin(A, "2026-11-19", (B,)),)
    assert record.reverts == ()
    assert record.picks == (C,)  # picks stay: one already in the new release is a no-op


def test_pin_of_the_same_release_again_changes_no_history() -> None:
    start = Record(commit=A, release_date="2026-11-26", reverts=(B,))
    record = apply_ops(start, [pin(A, "2026-11-26")])
    assert record.previous == () and record.reverts == (B,)


def test_pin_ends_a_rollback() -> None:
    start = Record(
        commit=A, release_date="2026-11-19", rollback=Rollback("release/2026-11-12", "x")
    )
    assert apply_ops(start, [pin(B, "2026-11-26")]).rollback is None


def test_pin_of_a_rolled_back_release_needs_force_and_then_unmarks_it() -> None:
    start = Record(rolled_back=("release/2026-11-26",))
    with pytest.raises(IntentError, match=r"release/2026-11-26 was rolled back.*--force"):
        apply_ops(start, [pin(A, "2026-11-26")])
    forced = apply_ops(start, [pin(A, "2026-11-26", force=True)])
    assert forced.rolled_back == ()


def test_picks_append_in_order_once_and_remember_off_master_per_pick() -> None:
    record = apply_ops(
        EMPTY,
        [
            {"op": "pick", "sha": A},
            {"op": "pick", "sha": B, "allowOffMaster": True},
            {"op": "pick", "sha": A},
        ],
    )
    assert record.picks == (A, B)
    assert record.off_master == (B,)


def test_a_sha_in_capitals_or_with_spaces_is_normalised() -> None:
    record = apply_ops(EMPTY, [{"op": "pick", "sha": f" {A.upper()} "}])
    assert record.picks == (A,)


def test_drop_pick_removes_it_and_its_off_master_mark() -> None:
    start = Record(picks=(A, B), off_master=(B,))
    record = apply_ops(start, [{"op": "drop-pick", "sha": B}])
    assert record.picks == (A,) and record.off_master == ()


def test_drop_of_an_unqueued_pick_names_the_queued_ones() -> None:
    with pytest.raises(IntentError, match=r"not a queued pick \(queued: aaaaaaaaaaaa\)"):
        apply_ops(Record(picks=(A,)), [{"op": "drop-pick", "sha": B}])


def test_revert_needs_a_pinned_release() -> None:
    with pytest.raises(IntentError, match="no release is pinned.*release promote"):
        apply_ops(EMPTY, [{"op": "revert", "sha": A}])
    record = apply_ops(Record(commit=B, release_date="2026-11-26"), [{"op": "revert", "sha": A}])
    assert record.reverts == (A,)
    assert apply_ops(record, [{"op": "drop-revert", "sha": A}]).reverts == ()


def test_rollback_marks_the_current_release_and_keeps_the_first_date_when_continued() -> None:
    op = {"op": "rollback", "to": "release/2026-11-12", "date": "2026-11-27"}
    first = apply_ops(EMPTY, [{**op, "from": "release/2026-11-19"}])
    assert first.rollback == Rollback("release/2026-11-12", "2026-11-27")
    assert first.rolled_back == ("release/2026-11-19",)
    again = apply_ops(first, [{**op, "date": "2026-11-28", "from": "release/2026-11-19"}])
    assert again.rollback == Rollback("release/2026-11-12", "2026-11-27")
    assert again.rolled_back == ("release/2026-11-19",)


def test_rollback_refuses_another_target_in_progress_unless_forced() -> None:
    start = Record(rollback=Rollback("release/2026-11-12", "2026-11-27"))
    other = {"op": "rollback", "to": "release/2026-11-05", "date": "2026-11-28"}
    with pytest.raises(IntentError, match="rollback to release/2026-11-12 is in progress"):
        apply_ops(start, [other])
    assert apply_ops(start, [{**other, "force": True}]).rollback == Rollback(
        "release/2026-11-05", "2026-11-28"
    )


def test_rollback_to_a_rolled_back_release_or_to_the_current_one_is_refused() -> None:
    start = Record(rolled_back=("release/2026-11-12",))
    op = {"op": "rollback", "to": "release/2026-11-12", "date": "2026-11-28"}
    with pytest.raises(IntentError, match="was itself rolled back"):
        apply_ops(start, [op])
    with pytest.raises(IntentError, match="already runs release/2026-11-12"):
        apply_ops(EMPTY, [{**op, "from": "release/2026-11-12"}])


def test_abandon_returns_to_the_release_pinned_before() -> None:
    start = apply_ops(EMPTY, [pin(A, "2026-11-19"), pin(B, "2026-11-26")])
    record = apply_ops(start, [{"op": "abandon", "release": "release/2026-11-26"}])
    assert (record.commit, record.release_date, record.previous) == (A, "2026-11-19", ())


def test_abandon_of_a_first_release_unpins_it() -> None:
    start = apply_ops(EMPTY, [pin(A, "2026-11-26")])
    record = apply_ops(start, [{"op": "abandon", "release": "release/2026-11-26"}])
    assert record.commit is None and record.release_date is None


def test_abandon_of_another_release_than_the_pinned_one_is_refused() -> None:
    start = apply_ops(EMPTY, [pin(A, "2026-11-26")])
    with pytest.raises(IntentError, match="pins release/2026-11-26, not release/2026-11-19"):
        apply_ops(start, [{"op": "abandon", "release": "release/2026-11-19"}])


def test_an_op_id_already_in_the_log_is_not_applied_twice() -> None:
    start = apply_ops(EMPTY, [pin(A, "2026-11-19"), pin(B, "2026-11-26")])
    op = {"op": "abandon", "release": "release/2026-11-26", "id": "op-1"}
    once = apply_ops(start, [op])
    assert apply_ops(once, [op]) == once  # a second abandon would pop 11-19 as well


def test_each_op_is_logged_with_who_and_when_and_the_log_is_bounded() -> None:
    record = apply_ops(
        EMPTY, [{"op": "pick", "sha": A, "id": "x1", "by": "ana", "at": "2026-11-26T10:00Z"}]
    )
    assert record.log == (
        {"op": "pick", "sha": A, "id": "x1", "by": "ana", "at": "2026-11-26T10:00Z"},
    )
    shas = [f"{i:040x}" for i in range(1, LOG_LIMIT + 6)]
    many = apply_ops(EMPTY, [{"op": "pick", "sha": sha} for sha in shas])
    assert len(many.log) == LOG_LIMIT
    assert many.log[-1]["sha"] == shas[-1]


def test_an_op_that_changes_nothing_is_not_logged() -> None:
    start = apply_ops(EMPTY, [pin(A, "2026-11-26"), {"op": "pick", "sha": B}])
    assert apply_ops(start, [pin(A, "2026-11-26"), {"op": "pick", "sha": B}]) == start


def test_a_refused_op_applies_nothing_of_the_delta() -> None:
    start = Record(picks=(A,))
    with pytest.raises(IntentError):
        apply_ops(start, [{"op": "pick", "sha": B}, {"op": "drop-pick", "sha": C}])
    assert start.picks == (A,)  # records are values: the caller keeps the old one


@pytest.mark.parametrize(
    ("op", "message"),
    [
        ("pick", "op 1: op = 'pick': give a mapping"),
        ({"op": "merge"}, "op = 'merge': give one of: pin, pick"),
        ({"op": "pick"}, "op 1 (pick): sha = (not set): pick needs sha"),
        ({"op": "pick", "sha": "abc123"}, "sha = 'abc123': give the full 40-character"),
        ({"op": "pick", "sha": A, "colour": 1}, "colour = 1: unknown field; pick takes sha"),
        ({"op": "pin", "commit": A, "date": "2026-13-01"}, "date = '2026-13-01': give a date"),
        ({"op": "pin", "commit": A, "date": "20261126"}, "give a date as YYYY-MM-DD"),
        ({"op": "pick", "sha": A, "allowOffMaster": "yes"}, "give true or false"),
        ({"op": "rollback", "to": "main", "date": "2026-11-26"}, "to = 'main': name a release"),
        ({"op": "pick", "sha": A, "id": "a b"}, "id = 'a b': give a short text"),
    ],
)
def test_bad_ops_are_refused_naming_op_field_value_and_fix(op: object, message: str) -> None:
    with pytest.raises(IntentError) as caught:
        apply_ops(EMPTY, [op])  # type: ignore[list-item]
    assert message in str(caught.value)


def test_the_delta_travels_as_json_in_one_variable() -> None:
    ops = [{"op": "pick", "sha": A.upper(), "by": "ana"}]
    text = encode_ops(ops)
    assert ops_from_env({ENV_VAR: text}) == [{"op": "pick", "sha": A, "by": "ana"}]
    assert ops_from_env({}) == []
    with pytest.raises(IntentError, match=f"{ENV_VAR}: value = .*give a JSON list"):
        ops_from_env({ENV_VAR: "{not json"})
    with pytest.raises(IntentError, match="give a JSON list of ops"):
        ops_from_env({ENV_VAR: json.dumps({"op": "pick"})})


def test_the_record_round_trips_through_plain_json() -> None:
    record = apply_ops(
        EMPTY,
        [
            pin(A, "2026-11-19"),
            {"op": "revert", "sha": C},
            pin(B, "2026-11-26"),
            {"op": "pick", "sha": D, "allowOffMaster": True, "id": "p1"},
            {
                "op": "rollback",
                "to": "release/2026-11-19",
                "date": "2026-11-27",
                "from": "release/2026-11-26",
            },
        ],
    )
    data = json.loads(json.dumps(record.to_dict()))
    assert record_from_dict(data) == record
    assert record_from_dict(None) == EMPTY


def test_a_record_of_another_version_or_shape_is_refused() -> None:
    with pytest.raises(IntentError, match="version = 2: .*upgrade"):
        record_from_dict({"version": 2})
    with pytest.raises(IntentError, match="picks = 'aaa'"):
        record_from_dict({"version": 1, "picks": "aaa"})


def test_as_config_gives_the_keys_the_settings_are_parsed_from() -> None:
    record = Record(
        commit=A,
        release_date="2026-11-26",
        picks=(B,),
        reverts=(C,),
        rollback=Rollback("release/2026-11-19", "2026-11-27"),
        rolled_back=("release/2026-11-26",),
    )
    assert record.as_config() == {
        "commit": A,
        "releaseDate": "2026-11-26",
        "picks": [B],
        "reverts": [C],
        "rollback": {"to": "release/2026-11-19", "date": "2026-11-27"},
        "rolledBack": ["release/2026-11-26"],
    }
    assert EMPTY.as_config() == {}


def test_intent_left_in_a_stack_file_is_named_with_the_commands_that_move_it() -> None:
    raw = {"repository": "o/r", "commit": A, "releaseDate": "2026-11-26", "picks": [B]}
    assert legacy_keys(raw) == ["commit", "releaseDate", "picks"]
    assert legacy_keys({"repository": "o/r", "picks": []}) == []
    text = legacy_message("staging", raw)
    assert "Pulumi.staging.yaml sets release-train:commit, release-train:releaseDate" in text
    assert "pulumi config rm release-train:picks -s staging" in text
    assert f"release promote staging --commit {A} --date 2026-11-26" in text
    assert f"release cherry-pick staging {B}" in text


def test_describe_lists_the_pin_queued_changes_and_the_last_op() -> None:
    record = apply_ops(
        EMPTY,
        [pin(A, "2026-11-26"), {"op": "pick", "sha": B, "by": "ana", "at": "t1"}],
    )
    assert describe(record) == [
        "pinned: release/2026-11-26 at aaaaaaaaaaaa",
        "queued pick bbbbbbbbbbbb",
        "last recorded: pick by ana at t1",
    ]


def test_refuse_legacy_raises_only_when_a_stack_file_sets_intent() -> None:
    from release.rules.intent import LegacyIntentError, refuse_legacy

    refuse_legacy("staging", {"repository": "o/r", "reviewers": ["x"]})
    with pytest.raises(LegacyIntentError, match="sets release-train:rollback"):
        refuse_legacy("staging", {"rollback": {"to": "release/2026-11-12", "date": "2026-11-27"}})


def test_as_config_lists_the_picks_allowed_off_master() -> None:
    record = apply_ops(EMPTY, [{"op": "pick", "sha": A, "allowOffMaster": True}])
    assert record.as_config() == {"picks": [A], "offMaster": [A]}


# -- carry: `release promote --carry SHA --reason TEXT` ---------------------------------------


def test_a_new_release_carries_exactly_what_its_promotion_names_and_continuing_adds():
    fix, other = "c" * 40, "d" * 40
    first = apply_ops(
        EMPTY,
        [
            {"op": "pin", "commit": "a" * 40, "date": "2026-11-26"},
            {"op": "carry", "sha": fix, "reason": "customer outage"},
        ],
        "staging",
    )
    assert first.carry == (fix,) and first.as_config()["carry"] == [fix]
    again = apply_ops(
        first,
        [
            {"op": "pin", "commit": "a" * 40, "date": "2026-11-26"},
            {"op": "carry", "sha": other},
            {"op": "carry", "sha": fix},
        ],
        "staging",
    )
    assert again.carry == (fix, other)  # the waiting release: added, each once
    nxt = apply_ops(again, [{"op": "pin", "commit": "b" * 40, "date": "2026-12-03"}], "staging")
    assert nxt.carry == () and "carry" not in nxt.as_config()
    assert record_from_dict(again.to_dict()).carry == (fix, other)


def test_a_carry_with_nothing_pinned_and_a_carry_left_in_the_stack_file_are_refused():
    with pytest.raises(IntentError, match="nothing is pinned"):
        apply_ops(EMPTY, [{"op": "carry", "sha": "c" * 40}], "staging")
    from release.rules.intent import LegacyIntentError, refuse_legacy

    with pytest.raises(LegacyIntentError, match=r"release promote staging --carry c{40}"):
        refuse_legacy("staging", {"carry": ["c" * 40]})


def test_the_legacy_refusal_keeps_its_problem_and_fix_apart_for_the_command_line() -> None:
    from release.rules.intent import LegacyIntentError, refuse_legacy

    raw = {"picks": [B]}
    with pytest.raises(LegacyIntentError) as caught:
        refuse_legacy("staging", raw)
    err = caught.value
    assert err.file == "Pulumi.staging.yaml"
    assert err.problem.startswith("sets release-train:picks: operational intent")
    assert err.fix == (
        "remove it (pulumi config rm release-train:picks -s staging), then record it with: "
        f"release cherry-pick staging {B}"
    )
    assert str(err) == legacy_message("staging", raw)
    assert str(err).startswith(
        "Pulumi.staging.yaml sets release-train:picks"
    ) and ". Remove it (" in str(err)
