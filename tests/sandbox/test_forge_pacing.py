"""The forge session's client follows its pacing policy, measured at the sandbox: writes are
never served closer together than the policy allows, and reads are not spaced at all
(PyGithub's github.com default spaced every request 0.25 s apart)."""

from __future__ import annotations

import time

from release import forge
from release.rules.pacing import Pacing

REPO = "acme/service"


def _session(sb, pacing: Pacing) -> forge.ForgeSession:
    forge._clients.clear()  # one client per process and policy: start from a fresh one
    return forge.ForgeSession(sb.base_url, REPO, sb.token, pacing=pacing)


def test_github_pacing_spaces_writes_at_least_a_second_apart(seeded_sandbox) -> None:
    sb = seeded_sandbox
    sb.set_latency(30)
    repo = _session(sb, Pacing.github()).repo
    sha = repo.get_branch("master").commit.sha
    sb.reset_counters()
    for n in range(3):
        repo.get_branch("master")  # a read between writes does not reset the write spacing
        repo.create_git_ref(f"refs/heads/paced-{n}", sha)
    served = sb.writes_at()
    assert len(served) == 3
    gaps = [b - a for a, b in zip(served, served[1:], strict=False)]
    assert min(gaps) >= Pacing.github().write_spacing, gaps


def test_github_pacing_does_not_space_reads(seeded_sandbox) -> None:
    sb = seeded_sandbox
    sb.set_latency(20)
    repo = _session(sb, Pacing.github()).repo
    sb.reset_counters()
    started = time.monotonic()
    for _ in range(10):
        repo.get_branch("master")
    elapsed = time.monotonic() - started
    assert sb.reads() == 10
    # spaced 0.25 s apart, ten reads would take at least 2.25 s; unspaced, about 0.2 s
    assert elapsed < 1.5, elapsed


def test_local_pacing_does_not_space_writes(seeded_sandbox) -> None:
    sb = seeded_sandbox
    repo = _session(sb, Pacing.local()).repo
    sha = repo.get_branch("master").commit.sha
    started = time.monotonic()
    for n in range(3):
        repo.create_git_ref(f"refs/heads/local-{n}", sha)
    assert time.monotonic() - started < 1.0


def test_the_session_picks_the_policy_from_the_api_url(seeded_sandbox) -> None:
    sb = seeded_sandbox
    assert forge.ForgeSession(sb.base_url, REPO, sb.token).pacing == Pacing.local()
    env = {"GITHUB_TOKEN": sb.token, "RELEASE_TRAIN_PACING": "github"}
    assert forge.session(sb.base_url, REPO, None, env).pacing == Pacing.github()
