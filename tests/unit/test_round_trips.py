"""Fewer and overlapping round trips: reads sent together stay within the pacing policy's
reads in flight, a shared client answers each thread its own request, the green lookup reads
the next candidates together, and a repository handed over by the command line is not read
again."""

from __future__ import annotations

import json
import threading
import time

import pytest

from release import forge
from release.rules.green import newest_green
from release.rules.pacing import Pacing

REPO = "acme/service"


def test_together_keeps_order_and_raises_the_first_failure_after_all_ended():
    ended: list[int] = []

    def ok(n: int):
        def call() -> int:
            time.sleep(0.05)
            ended.append(n)
            return n

        return call

    assert forge.together(4, [ok(1), ok(2), ok(3)]) == [1, 2, 3]

    def boom() -> int:
        raise ValueError("first")

    ended.clear()
    with pytest.raises(ValueError, match="first"):
        forge.together(4, [boom, ok(5), ok(6)])
    assert sorted(ended) == [5, 6]  # nothing left running behind the caller


def test_newest_green_reads_the_tip_alone_then_candidates_together():
    states = {"a": "failure", "b": "failure", "c": "failure", "d": "success", "e": "success"}
    batches: list[list[str]] = []

    def many(shas: list[str]) -> list[dict[str, str]]:
        batches.append(list(shas))
        return [{"ci": states[s]} for s in shas]

    found = newest_green(iter("abcde"), lambda s: {}, ["ci"], ahead=2, checks_of_many=many)
    assert found.sha == "d"
    assert [s.sha for s in found.skipped] == ["a", "b", "c"]
    assert batches == [["a"], ["b", "c"], ["d", "e"]]
    green_tip = newest_green(iter("da"), lambda s: {}, ["ci"], ahead=2, checks_of_many=many)
    assert green_tip.sha == "d" and batches[-1] == ["d"]  # a green tip costs one commit


def test_reads_sent_together_stay_within_the_policy_and_each_gets_its_answer(
    seeded_sandbox,
):
    sb = seeded_sandbox
    forge._clients.clear()
    session = forge.ForgeSession(sb.base_url, REPO, sb.token, pacing=Pacing("t", 0.0, 3))
    repo = session.repo
    branches = ["master", "staging", "production"] * 4
    expected = [forge.branch_head(repo, b) for b in branches]
    sb.set_latency(150)
    sb.reset_counters()
    started = time.monotonic()

    # 12 reads in 12 threads, nested in another call of `together`: never more than 3 out
    def nested(branch: str):
        return lambda: forge.together(12, [lambda: forge.branch_head(repo, branch)])

    got = forge.together(12, [nested(b) for b in branches])
    took = time.monotonic() - started
    assert [g[0] for g in got] == expected  # each thread read its own branch
    assert sb.max_in_flight() <= 3
    assert sb.sequential_steps() >= 4  # 12 reads, 3 at a time
    assert took < 12 * 0.15  # yet they overlapped
    sb.set_latency(0)


def test_a_repository_handed_over_is_not_read_again(seeded_sandbox):
    sb = seeded_sandbox
    forge._clients.clear()
    read = forge.ForgeSession(sb.base_url, REPO, sb.token).repo
    handover = {forge.REPOSITORY_HANDOVER: forge.repository_json(read)}
    sb.reset_counters()
    session = forge.session(sb.base_url, REPO, sb.token, handover)
    repo = forge.check_repository(session, write=True)
    assert repo.full_name == REPO and repo.allow_merge_commit is not None
    assert sb.reads() == 0
    # another repository, or another forge, is read as usual
    other = {forge.REPOSITORY_HANDOVER: json.dumps({**read.raw_data, "full_name": "x/y"})}
    assert forge.adopted_repository(other, sb.base_url, REPO, session.client) is None
    elsewhere = "http://127.0.0.1:1/api/v3"
    assert forge.adopted_repository(handover, elsewhere, REPO, session.client) is None
    assert forge.adopted_repository({}, sb.base_url, REPO, session.client) is None


def test_a_provider_process_never_reads_the_repository(seeded_sandbox):
    sb = seeded_sandbox
    forge._repos.clear()
    sb.reset_counters()
    repos = [forge.repository(sb.base_url, sb.token, REPO) for _ in range(3)]
    assert repos[0] is repos[1] is repos[2]
    threads = [threading.Thread(target=forge.repository, args=(sb.base_url, sb.token, REPO))]
    for t in threads:
        t.start()
        t.join()
    assert sb.reads() == 0
    # what the providers use of it is known without the read, and calls through it work
    repo = repos[0]
    assert repo.full_name == REPO and repo.url == f"{sb.base_url}/repos/{REPO}"
    assert forge.branch_head(repo, "master")
    assert [s.path for s in sb.served()] == [f"/api/v3/repos/{REPO}/git/ref/heads/master"]
