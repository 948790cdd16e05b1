"""Gates never broken: over generated combinations of commit statuses and check runs
(success, failure, error, pending, missing, stale on an older head), reviews (approved,
changes requested, dismissed, by a non-reviewer, on an older head) and head moves, the merge
gate opens exactly when a plainly written oracle says the rules allow the merge, and every
refusal names its reasons."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from release.rules.gates import merge_gate

HEAD = "1" * 40  # the pull request's head now
OLD = "2" * 40  # an earlier head of the same pull request
REVIEWERS = ("Oncall-Partner", "second")
PEOPLE = ("oncall-partner", "ONCALL-PARTNER", "second", "outsider")
NAMES = ("ci/travis", "test", "lint")
STATUS_OUTCOMES = ("success", "failure", "error", "pending")
RUN_OUTCOMES = ("success", "failure", "neutral", "skipped", "cancelled", "queued", "in_progress")
PASSING = {"status": {"success"}, "run": {"success", "neutral", "skipped"}}


@dataclass(frozen=True)
class Report:
    name: str
    kind: str  # "status" or "run"
    on_head: bool  # False: reported on the older head OLD
    outcome: str


@dataclass(frozen=True)
class Review:
    login: str
    state: str
    on_head: bool


@dataclass(frozen=True)
class World:
    required: tuple[str, ...]
    reports: tuple[Report, ...]  # in the order they were made
    reviews: tuple[Review, ...]  # in the order they were submitted
    required_approvals: int
    expected_head: str | None
    state: str
    mergeable: bool | None
    shuffle_reports: tuple[int, ...]
    shuffle_reviews: tuple[int, ...]


# -- the oracle: the rules, written out once more without the module's helpers -----------------


def oracle(world: World) -> dict[str, object]:
    """What must stop this merge: checks not green, blocking reviewers, missing approvals..."""
    problems: dict[str, object] = {}
    if world.state != "open":
        problems["closed"] = True
    if world.mergeable is False:
        problems["conflict"] = True
    if world.expected_head is not None and world.expected_head != HEAD:
        problems["moved"] = True

    on_head = [r for r in world.reports if r.on_head]
    names = list(world.required) or sorted({r.name for r in on_head})
    if not names:
        problems["no checks"] = True
    bad_checks = []
    for name in names:
        newest: dict[str, str] = {}
        for report in on_head:
            if report.name == name:
                newest[report.kind] = report.outcome  # a later report replaces an earlier one
        if not newest or any(out not in PASSING[kind] for kind, out in newest.items()):
            bad_checks.append(name)
    if bad_checks:
        problems["checks"] = bad_checks

    approving, blocking = 0, []
    for reviewer in REVIEWERS:
        latest = None
        for review in world.reviews:
            if review.login.lower() == reviewer.lower() and review.state != "COMMENTED":
                latest = review
        if latest is None:
            continue
        if latest.state == "CHANGES_REQUESTED":
            blocking.append(reviewer.lower())
        if latest.state == "APPROVED" and latest.on_head:
            approving += 1
    if blocking:
        problems["blocked"] = blocking
    if approving < world.required_approvals:
        problems["approvals"] = world.required_approvals - approving
    return problems


# -- generated worlds ------------------------------------------------------------------------------

status_reports = st.builds(
    Report,
    name=st.sampled_from(NAMES),
    kind=st.just("status"),
    on_head=st.sampled_from((True, True, False)),
    outcome=st.sampled_from(STATUS_OUTCOMES),
)
run_reports = st.builds(
    Report,
    name=st.sampled_from(NAMES),
    kind=st.just("run"),
    on_head=st.sampled_from((True, True, False)),
    outcome=st.sampled_from(RUN_OUTCOMES),
)
green_reports = st.builds(
    Report,
    name=st.sampled_from(NAMES),
    kind=st.sampled_from(("status", "run")),
    on_head=st.just(True),
    outcome=st.just("success"),
)
noise_reviews = st.builds(
    Review,
    login=st.sampled_from(PEOPLE),
    state=st.sampled_from(
        ("APPROVED", "APPROVED", "CHANGES_REQUESTED", "DISMISSED", "DISMISSED", "COMMENTED")
    ),
    on_head=st.booleans(),
)
final_approvals = st.builds(
    Review,
    login=st.sampled_from(PEOPLE[:3]),
    state=st.just("APPROVED"),
    on_head=st.sampled_from((True, True, True, False)),
)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    # Random history first, then (often) a run of green reports and approvals, so that both
    # outcomes of the gate are common.
    noise = draw(st.lists(st.one_of(status_reports, run_reports), max_size=5))
    greens = draw(st.lists(green_reports, max_size=4))
    reviews = draw(st.lists(noise_reviews, max_size=5)) + draw(
        st.lists(final_approvals, max_size=2)
    )
    if draw(st.booleans()):
        # Aim for a mergeable pull request: each check then reports green on the head (as a
        # status, a check run or both) and each reviewer approves it; the earlier history and
        # the other fields can still spoil it.
        for name in NAMES:
            for kind in draw(st.sampled_from((("status",), ("run",), ("status", "run")))):
                greens.append(Report(name, kind, True, "success"))
        reviews += [Review(login.lower(), "APPROVED", True) for login in REVIEWERS]
    reports = tuple(noise + greens)
    return World(
        required=draw(
            st.sampled_from((("ci/travis", "test"), ("ci/travis", "test"), ("test",), ()))
        ),
        reports=reports,
        reviews=tuple(reviews),
        required_approvals=draw(st.integers(0, 2)),
        expected_head=draw(st.sampled_from((HEAD, HEAD, HEAD, None, OLD))),
        state=draw(st.sampled_from(("open",) * 12 + ("closed",))),
        mergeable=draw(st.sampled_from((True,) * 10 + (None, None, False))),
        shuffle_reports=tuple(draw(st.permutations(range(len(reports))))),
        shuffle_reviews=tuple(draw(st.permutations(range(len(reviews))))),
    )


def stamp(index: int) -> str:
    # Two events share each second, so ties are broken by id as on the forge.
    second = index // 2
    return f"2026-11-26T09:{second // 60:02d}:{second % 60:02d}Z"


def forge_view(world: World) -> dict[str, object]:
    """The world as the merge provider reads it: statuses of the head (the API lists them per
    commit), check runs with their head_sha, the pull request's reviews, in the forge's order."""
    statuses, runs = [], []
    for index, report in enumerate(world.reports):
        ident = 5000 + index
        if report.kind == "status":
            if report.on_head:
                statuses.append(
                    {
                        "id": ident,
                        "context": report.name,
                        "state": report.outcome,
                        "created_at": stamp(index),
                        "updated_at": stamp(index),
                    }
                )
            continue
        done = report.outcome not in ("queued", "in_progress")
        runs.append(
            {
                "id": ident,
                "name": report.name,
                "head_sha": HEAD if report.on_head else OLD,
                "status": "completed" if done else report.outcome,
                "conclusion": report.outcome if done else None,
                "started_at": stamp(index),
                "completed_at": stamp(index + 7) if done else None,
            }
        )
    reviews = [
        {
            "id": 9000 + index,
            "user": {"login": review.login},
            "state": review.state,
            "commit_id": HEAD if review.on_head else OLD,
            "submitted_at": stamp(index),
        }
        for index, review in enumerate(world.reviews)
    ]
    # Hand them over in a drawn order: the gate must not rely on the listing's order.
    position = {index: place for place, index in enumerate(world.shuffle_reports)}
    statuses.sort(key=lambda s: position[s["id"] - 5000])
    runs.sort(key=lambda r: position[r["id"] - 5000])
    shuffled_reviews = [reviews[i] for i in world.shuffle_reviews]
    return {"statuses": statuses, "check_runs": runs, "reviews": shuffled_reviews}


TALLY: Counter[str] = Counter()


# 300 fixed cases by default, so the shares asserted below are stable; a longer random search
# (e.g. RELEASE_TRAIN_GATE_EXAMPLES=20000 in the reliability run) draws new cases each time.
EXAMPLES = int(os.environ.get("RELEASE_TRAIN_GATE_EXAMPLES", "0")) or 300


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize="RELEASE_TRAIN_GATE_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(worlds())
def check_gate_against_oracle(world: World) -> None:
    view = forge_view(world)
    result = merge_gate(
        head_sha=HEAD,
        expected_head=world.expected_head,
        required_checks=list(world.required),
        statuses=view["statuses"],
        check_runs=view["check_runs"],
        reviews=view["reviews"],
        reviewers=list(REVIEWERS),
        required_approvals=world.required_approvals,
        state=world.state,
        mergeable=world.mergeable,
    )
    problems = oracle(world)

    # Safety: the gate never opens where the rules forbid a merge ...
    if result.ok:
        assert not problems, (problems, world)
    # ... and, so that the gate is not simply shut, it opens wherever they allow one.
    else:
        assert problems, (result.reasons, world)

    # Every refusal names its reasons: the check, the reviewer, the moved head.
    assert result.ok == (not result.reasons)
    text = "\n".join(result.reasons)
    for name in problems.get("checks", []):  # type: ignore[union-attr]
        assert f"check {name} is " in text, (name, text)
    for login in problems.get("blocked", []):  # type: ignore[union-attr]
        assert f"{login} requested changes" in text, (login, text)
    if "approvals" in problems:
        assert f"needs {problems['approvals']} more approval(s) of {HEAD[:12]}" in text, text
    if "moved" in problems:
        assert f"head moved from {OLD[:12]} to {HEAD[:12]}" in text, text
    if "closed" in problems:
        assert "closed" in text
    if "conflict" in problems:
        assert "conflict" in text
    if "no checks" in problems:
        assert "no checks reported" in text

    outcome = "merge" if result.ok else "refuse"
    TALLY[outcome] += 1
    event(outcome)
    for problem in problems:
        TALLY[f"refused for {problem}"] += 1
        event(f"refused for {problem}")


def test_the_gate_opens_only_when_the_rules_allow_and_refusals_say_why() -> None:
    TALLY.clear()
    check_gate_against_oracle()
    total = TALLY["merge"] + TALLY["refuse"]
    print(f"\ngate property: {total} cases, {TALLY['merge']} merges, {TALLY['refuse']} refusals")
    for key in sorted(k for k in TALLY if k.startswith("refused for")):
        print(f"  {key}: {TALLY[key]}")
    assert total >= 200
    # Neither outcome is rare, so the property is not vacuous on either side.
    assert TALLY["merge"] >= total * 0.15, TALLY
    assert TALLY["refuse"] >= total * 0.3, TALLY
    # Each kind of reason occurred.
    for kind in ("checks", "blocked", "approvals", "moved", "closed", "conflict"):
        assert TALLY[f"refused for {kind}"] >= 3, (kind, TALLY)
