"""The forge memo (release/rules/memo.py): kept answers by full SHAs only, hits and misses,
the bounds of what a run writes back, and a missing or corrupt memo read as empty."""

from __future__ import annotations

import json

import pytest

from release.rules import memo as memos
from release.rules.memo import Memo, is_bool, is_count, memo_in, memo_key, scope_of

A, B, C = "a" * 40, "b" * 40, "c" * 40
SCOPE = scope_of("http://forge/api/v3/", "Acme/Service")


def test_keys_name_full_shas_only():
    assert memo_key("ancestor", A, B) == f"ancestor:{A}:{B}"
    assert memo_key("pin", A, extra="x1") == f"pin:{A}:x1"
    # a branch, a short SHA or an upper-case one can name something that moves: never kept
    for name in ("staging", "release/2026-11-26", A[:12], A.upper(), "", None):
        assert memo_key("ancestor", A, name) is None  # type: ignore[arg-type]
    kept = Memo(SCOPE)
    kept.put(None, True)
    assert json.loads(kept.dump())["e"] == {}


def test_a_miss_reads_once_then_a_hit_reads_nothing_and_survives_a_round_trip():
    reads: list[str] = []

    def read() -> bool:
        reads.append("x")
        return True

    first = Memo(SCOPE)
    name = memo_key("ancestor", A, B)
    assert first.recall(name, read, is_bool) is True
    assert first.recall(name, read, is_bool) is True
    assert reads == ["x"] and (first.hits, first.misses) == (1, 1)
    second = Memo.load(first.dump(), SCOPE)
    assert second.recall(name, read, is_bool) is True and reads == ["x"]
    # a None value (a pin file missing at that commit) is an answer too
    second.put(memo_key("pin", A, extra="p"), None)
    third = Memo.load(second.dump(), SCOPE)
    assert third.get(memo_key("pin", A, extra="p"), lambda v: v is None) == (True, None)


def test_an_entry_of_the_wrong_shape_is_a_miss_and_is_replaced():
    name = memo_key("ahead", A, B)
    kept = Memo(SCOPE, {name: "three"})
    assert kept.get(name, is_count) == (False, None)
    assert kept.recall(name, lambda: 3, is_count) == 3
    assert Memo.load(kept.dump(), SCOPE).get(name, is_count) == (True, 3)
    # a validator that raises is a miss, not an error
    assert kept.get(name, lambda v: v["no"]) == (False, None)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "{",
        "[]",
        '"text"',
        json.dumps({"v": 99, "scope": SCOPE, "e": {"k": 1}}),  # another format
        json.dumps({"v": memos.VERSION, "scope": "http://other/repos/x/y", "e": {"k": 1}}),
        json.dumps({"v": memos.VERSION, "scope": SCOPE, "e": ["k"]}),
        12,
        {"v": 1},
    ],
)
def test_a_missing_corrupt_or_foreign_memo_is_empty(text):
    kept = Memo.load(text, SCOPE)
    assert kept.get("k", lambda _v: True) == (False, None)
    assert json.loads(kept.dump()) == {"v": memos.VERSION, "scope": SCOPE, "e": {}}


def test_only_the_entries_this_run_used_are_written_back():
    old = {memo_key("ancestor", A, B): True, memo_key("ancestor", B, C): False}
    kept = Memo.load(json.dumps({"v": memos.VERSION, "scope": SCOPE, "e": old}), SCOPE)
    assert kept.get(memo_key("ancestor", A, B), is_bool) == (True, True)
    kept.put(memo_key("ahead", A, C), 2)
    assert json.loads(kept.dump())["e"] == {
        memo_key("ahead", A, C): 2,
        memo_key("ancestor", A, B): True,
    }


def test_the_dump_is_bounded_and_keeps_the_smallest_entries(monkeypatch):
    monkeypatch.setattr(memos, "MAX_ENTRIES", 3)
    kept = Memo(SCOPE)
    for i in range(10):
        kept.put(memo_key("ahead", f"{i:040x}", A), i)
    assert len(json.loads(kept.dump())["e"]) == 3
    monkeypatch.setattr(memos, "MAX_ENTRIES", 1000)
    big = "t" * 2000
    for i in range(100):
        kept.put(memo_key("payload", f"{i:040x}", B), {"u": None, "c": [[A, big, "x", None]]})
    huge = memo_key("payload", C, A)
    kept.put(huge, {"u": None, "c": [[A, "t" * (memos.MAX_ENTRY_BYTES + 1), "x", None]]})
    text = kept.dump()
    entries = json.loads(text)["e"]
    assert len(text) <= memos.MAX_BYTES + 200
    assert huge not in entries  # one entry bigger than allowed is never kept
    assert all(memo_key("ahead", f"{i:040x}", A) in entries for i in range(10))  # small first
    assert 0 < sum(k.startswith("payload:") for k in entries) < 100


def test_the_same_entries_give_the_same_text():
    one, two = Memo(SCOPE), Memo(SCOPE)
    for name, value in [(memo_key("ahead", A, B), 1), (memo_key("ancestor", B, C), True)]:
        one.put(name, value)
    for name, value in [(memo_key("ancestor", B, C), True), (memo_key("ahead", A, B), 1)]:
        two.put(name, value)
    assert one.dump() == two.dump()


def test_the_memo_is_found_among_the_checkpoint_s_resources():
    kept = Memo(SCOPE)
    kept.put(memo_key("ahead", A, B), 4)
    stack = "urn:pulumi:staging::release-train::pulumi:pulumi:Stack::release-train-staging"
    resources = {
        "urn:pulumi:staging::release-train::x:y:Z::other": {"type": "x:y:Z", "outputs": {}},
        stack: {"type": memos.STACK_TYPE, "outputs": {memos.MEMO_OUTPUT: kept.dump()}},
    }
    assert memo_in(resources, SCOPE).get(memo_key("ahead", A, B), is_count) == (True, 4)
    assert memo_in(resources, scope_of("http://forge/api/v3", "acme/other")).hits == 0
    assert memo_in({}, SCOPE).get(memo_key("ahead", A, B), is_count) == (False, None)
    assert memo_in({stack: {"type": memos.STACK_TYPE, "outputs": None}}, SCOPE).misses == 0
