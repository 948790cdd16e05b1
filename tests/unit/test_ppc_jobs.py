"""The PPC job contract's data: a stable correlation id and the failures that stop a rollout."""

from release.rules.ppc_jobs import PpcJob, PpcOutcome, failed


def test_correlation_id_is_stable_per_ppc_and_commit() -> None:
    one = PpcJob("globex", "release/2026-12-01", "a" * 40, 1)
    again = PpcJob("globex", "release/2026-12-01", "a" * 40, 2, {"X": "1"})
    other = PpcJob("globex", "release/2026-12-01", "b" * 40, 1)
    assert one.correlation_id == again.correlation_id == "rt-globex-aaaaaaaaaaaa"
    assert other.correlation_id != one.correlation_id


def test_failed_keeps_only_failed_outcomes_in_order() -> None:
    outcomes = [
        PpcOutcome("a", True, "updated"),
        PpcOutcome("b", False, "failed: exit 1"),
        PpcOutcome("c", False, "timed out"),
    ]
    assert [o.ppc for o in failed(outcomes)] == ["b", "c"]
