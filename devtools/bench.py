"""`make bench`: the figures of the README's "Performance" section, each beside its goal.

    python -m devtools.bench [--only NAME ...] [--ppcs N]

Everything runs on this machine against a local sandbox forge and the real Pulumi engine
(the one `make pulumi` installs, found on PATH or under RELEASE_TRAIN_PULUMI_ROOT):

- requests (sandbox counters) to find the newest green commit with k red or pending
  commits at the tip of a long history, for k = 0, 2, 5, 10;
- requests of a whole staging promotion, a production promotion and a re-run with
  nothing to do (all through the engine, as `release promote` runs them);
- at 0 and 150 ms of sandbox latency, the client paced as on github.com: wall time,
  requests per route and sequential request steps (the critical path: the sandbox's log of
  requests served, `sandbox.faults.sequential_steps`) of `release plan staging` and of a
  staging promotion held at the gate, approved and merged;
- requests to build the payload of a release of 2,000 commits;
- wall time of `release plan staging` against `pulumi preview` of an empty program;
- wall time of `release plan staging` and of a staging promotion on PostgreSQL (the team's
  shared backend; RELEASE_TRAIN_POSTGRES_URL, else scripts/postgres.sh starts one) beside
  `file://`;
- the PPC rollout's overhead beyond its jobs at 100, 400 and 2,000 PPCs (4 waves of 0.5 s
  jobs), on file:// and on PostgreSQL, and the fitted growth (constant + b x N^k);
- seconds to construct the production program under Pulumi mocks with 500 PPCs and
  20 picks;
- requests per PPC of the GitHub Actions PPC executor for a wave of N PPCs (runs of a few
  seconds, listed a moment after their dispatch), and of a second run with nothing to do.

Nothing here asserts: the figures are printed for people to read (and copy).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

RELEASE_DATE = "2026-11-26"
CHECK = "ci/travis"
BOT = "release-bot"
PARTNER = "oncall-partner"


@dataclass(frozen=True)
class Figure:
    name: str
    value: str
    goal: str
    note: str = ""


FIGURES: list[Figure] = []


def report(name: str, value: str, goal: str, note: str = "") -> None:
    figure = Figure(name, value, goal, note)
    FIGURES.append(figure)
    print(f"  {name}: {value}   (goal: {goal}){'  ' + note if note else ''}", flush=True)


# -- the machine, the engine, a sandbox -----------------------------------------------------


def machine() -> str:
    cores = os.cpu_count() or 0
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f"{pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        memory = "? GiB"
    return (
        f"{cores} cores, {memory}, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, pulumi {engine_version()}"
    )


def pulumi_bin() -> Path:
    root = os.environ.get("RELEASE_TRAIN_PULUMI_ROOT")
    if root:
        return Path(root) / "bin"
    found = shutil.which("pulumi")
    if not found:
        raise SystemExit("the Pulumi CLI is not on PATH: run `make bench` (it installs it)")
    return Path(found).resolve().parent


def engine_version() -> str:
    try:
        out = subprocess.run(
            [str(pulumi_bin() / "pulumi"), "version"], capture_output=True, text=True, timeout=60
        )
        return out.stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError, SystemExit):
        return "?"


def pulumi_home(work: Path) -> Path:
    """A PULUMI_HOME holding the command plugin beside the CLI (no download)."""
    home = work / "pulumi-home"
    home.mkdir(parents=True, exist_ok=True)
    plugin = pulumi_bin() / "pulumi-resource-command"
    if plugin.exists():
        subprocess.run(
            [
                str(pulumi_bin() / "pulumi"),
                "plugin",
                "install",
                "resource",
                "command",
                metadata.version("pulumi-command"),
                "--file",
                str(plugin),
            ],
            env={**os.environ, **engine_env(home)},
            capture_output=True,
            check=True,
            timeout=120,
        )
    return home


def engine_env(home: Path) -> dict[str, str]:
    return {
        "PULUMI_HOME": str(home),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PATH": os.pathsep.join([str(pulumi_bin()), os.environ.get("PATH", "")]),
    }


@contextmanager
def sandbox(data: Path, seeded: bool) -> Iterator[Any]:
    from sandbox import Sandbox
    from sandbox.seed import seed

    data.mkdir(parents=True, exist_ok=True)
    if seeded:
        seed(data)
    tokens = {secrets.token_hex(20): BOT, secrets.token_hex(20): PARTNER}
    sb = Sandbox(data, tokens=tokens)
    sb.start()
    sb.token, sb.partner_token = list(tokens)  # type: ignore[attr-defined]
    try:
        yield sb
    finally:
        sb.stop()


def client(sb: Any, token: str | None = None) -> Any:
    from github import Auth, Github

    return Github(
        base_url=sb.base_url,
        auth=Auth.Token(token or sb.token),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )


def fast_import(repo_dir: Path, count: int, branch: str = "master") -> list[str]:
    """`count` linear commits on `branch` (newest last), made at once by git fast-import."""
    subprocess.run(["git", "init", "-q", "-b", branch, str(repo_dir)], check=True)
    lines: list[bytes] = []
    for i in range(1, count + 1):
        message = f"Change {i}\n".encode()
        content = f"line {i}\n".encode()
        lines += [
            f"commit refs/heads/{branch}".encode(),
            f"mark :{i}".encode(),
            f"committer Bench <bench@example.invalid> {1_700_000_000 + i * 60} +0000".encode(),
            f"data {len(message)}".encode(),
            message,
        ]
        if i > 1:
            lines.append(f"from :{i - 1}".encode())
        lines += [f"M 644 inline file-{i % 50}.txt".encode(), f"data {len(content)}".encode()]
        lines += [content, b""]
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=repo_dir,
        input=b"\n".join(lines) + b"\n",
        check=True,
    )
    out = subprocess.run(
        ["git", "rev-list", "--reverse", branch], cwd=repo_dir, capture_output=True, check=True
    )
    return out.stdout.decode().split()


def push(sb: Any, repo_dir: Path, full_name: str, refspecs: list[str]) -> None:
    sb.create_repo(full_name)
    subprocess.run(
        ["git", "push", "-q", sb.git_url(full_name, sb.token), *refspecs],
        cwd=repo_dir,
        check=True,
        capture_output=True,
    )


def run(cmd: list[str], env: dict[str, str], timeout: float = 1800) -> str:
    """Run a command; on failure raise with the tail of its output (never just the code)."""
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-4000:]
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({done.returncode}):\n{tail}")
    return done.stdout


# -- requests per operation -----------------------------------------------------------------


def bench_green(work: Path) -> None:
    """Requests to find the newest green commit with k red/pending commits at the tip."""
    from release import forge
    from release.program.planning import find_green, open_repo
    from release.rules.config import parse_settings

    history = 300
    print(f"\nnewest green commit ({history}-commit history, required check {CHECK})")
    with sandbox(work / "green-forge", seeded=False) as sb:
        shas = fast_import(work / "green-repo", history)
        ks = (0, 2, 5, 10)
        refspecs = ["master"] + [f"{shas[-1 - (10 - k)]}:refs/heads/tip-{k}" for k in ks]
        push(sb, work / "green-repo", "bench/green", refspecs)
        repo = client(sb).get_repo("bench/green")
        for depth, sha in enumerate(reversed(shas[-40:])):
            state = ("failure" if depth % 2 else "pending") if depth < 10 else "success"
            repo.get_commit(sha).create_status(state, context=CHECK)
        for k in ks:
            settings = parse_settings(
                "testing",
                {
                    "repository": "bench/green",
                    "apiUrl": sb.base_url,
                    "sourceBranch": f"tip-{k}",
                    "environment": f"tip-{k}",
                    "requiredChecks": [CHECK],
                },
            )
            program_repo = open_repo(
                settings, forge.ForgeSession(sb.base_url, settings.repository, sb.token)
            )
            sb.reset_counters()
            result = find_green(settings, program_repo)
            reads = sb.reads()
            assert result.sha == shas[-1 - (10 - k) - k], "the bench history is not as built"
            report(
                f"green commit, k={k:>2}",
                f"{reads} requests, {len(result.skipped) + 1} commits examined",
                f"commits examined = 1 + k = {1 + k}; requests independent of the "
                f"{history}-commit history",
            )


@dataclass
class EngineProject:
    """A copy of the project, its own file backend and passphrase, pointed at a sandbox
    (devtools/train.py, the set-up the tests share)."""

    setup: Any  # devtools.train.TrainProject

    @property
    def project(self) -> Any:
        return self.setup.project

    @property
    def sb(self) -> Any:
        return self.setup.sandbox

    @classmethod
    def create(
        cls, sb: Any, work: Path, home: Path, backend_url: str | None = None
    ) -> EngineProject:
        from devtools.train import TrainProject

        os.environ["RELEASE_TRAIN_PULUMI_ROOT"] = str(pulumi_bin().parent)
        env = {
            **engine_env(home),
            "PULUMI_BACKEND_URL": backend_url or f"file://{work / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(24),
        }
        return cls(TrainProject.create(sb, work, env))

    def cli_env(self) -> dict[str, str]:
        return self.setup.cli_env()

    def promote(self, env: str) -> tuple[bool, str]:
        """`up` of `env` as `release promote` runs it; (done, output): not done while its
        merge waits at the gate."""
        from pulumi import automation as auto

        from release.engine import automation
        from release.engine.day_two import intent_env

        ops = self.setup.pin(env, RELEASE_DATE)
        lines: list[str] = []
        try:
            result = automation.stack(self.project, env, intent_env(ops)).up(on_output=lines.append)
        except auto.CommandError as err:
            return False, str(err)
        # A closed gate is a recorded state, not a failed `up`: not done until it merged.
        gate = result.outputs.get("gate")
        waiting = gate is not None and (gate.value or {}).get("state") == "waiting"
        return not waiting, "".join(lines)

    def approve(self, env: str) -> None:
        checks = list(self.project.stack_file("staging").get("requiredChecks") or [])
        with open(os.devnull, "w") as quiet, _stdout_to(quiet):
            self.setup.approve(env, self.sb.partner_token, checks)

    def promote_until_merged(self, env: str) -> tuple[int, int, int]:
        """(reads, writes, Deployments API requests among them) of the promotion's own runs,
        approving when the gate asks."""
        reads = writes = deployments = 0
        for _ in range(4):
            self.sb.reset_counters()
            ok, output = self.promote(env)
            reads, writes = reads + self.sb.reads(), writes + self.sb.writes()
            deployments += deployment_requests(self.sb.counters())
            if ok:
                return reads, writes, deployments
            if "approval" not in output:
                raise RuntimeError(f"promote {env} failed:\n{output[-3000:]}")
            self.approve(env)
        raise RuntimeError(f"promote {env} did not merge")


def deployment_requests(routes: dict[str, dict[str, int]]) -> int:
    """The requests of the Deployments API among `routes` (sb.counters()): the bookkeeping
    #17 added after #15's request goals were set, counted apart so both can be read."""
    return sum(
        counts["reads"] + counts["writes"]
        for route, counts in routes.items()
        if "/deployments" in route
    )


@contextmanager
def _stdout_to(stream: Any) -> Iterator[None]:
    saved = sys.stdout
    sys.stdout = stream
    try:
        yield
    finally:
        sys.stdout = saved


def bench_promotions(work: Path, home: Path) -> None:
    """Requests of whole promotions through the engine, and of a re-run with nothing to do."""
    print("\npromotions through the engine (the seeded acme/service)")
    with sandbox(work / "promo-forge", seeded=True) as sb:
        train = EngineProject.create(sb, work / "promo", home)
        sb.reset_counters()
        ok, output = train.promote("testing")
        if not ok:
            raise RuntimeError(output[-3000:])
        report(
            "testing (find the green commit)",
            f"{sb.reads()} reads, {sb.writes()} writes",
            "0 writes",
        )
        reads, writes, deployments = train.promote_until_merged("staging")
        report(
            "staging promotion (cut, ours-merge, PR, merge)",
            f"{reads + writes} requests: {reads} reads, {writes} writes; "
            f"{reads + writes - deployments} without its Deployment's {deployments}",
            "≤ 35 requests; writes: 1 ref + 1 commit + 1 ref update + 1 PR + 1 review "
            "request + 1 merge",
            "(over the gate-held run and the merging run; approvals not counted)",
        )
        sb.reset_counters()
        ok, _ = train.promote("staging")
        report(
            "staging re-run, nothing to do",
            f"{sb.reads()} reads, {sb.writes()} writes",
            "≤ 10 reads, 0 writes",
        )
        reads, writes, deployments = train.promote_until_merged("production")
        report(
            "production promotion",
            f"{reads + writes} requests: {reads} reads, {writes} writes; "
            f"{reads + writes - deployments} without the Deployments' {deployments} "
            "(its own and one per PPC)",
            "≤ 30 requests; writes: PR + review request + merge (the release branch exists)",
            "(over the gate-held run and the merging run; approvals not counted)",
        )
        sb.reset_counters()
        train.promote("production")
        report(
            "production re-run, nothing to do",
            f"{sb.reads()} reads, {sb.writes()} writes",
            "≤ 10 reads, 0 writes",
        )


def bench_payload(work: Path) -> None:
    """Requests to build the payload of a 2,000-commit release."""
    from release import forge
    from release.program.planning import build_payload, open_repo
    from release.rules.config import parse_settings

    count = 2000
    print(f"\npayload of a {count}-commit release")
    with sandbox(work / "payload-forge", seeded=False) as sb:
        shas = fast_import(work / "payload-repo", count + 1)
        push(sb, work / "payload-repo", "bench/payload", ["master"])
        settings = parse_settings(
            "staging",
            {
                "repository": "bench/payload",
                "apiUrl": sb.base_url,
                "environment": "staging",
                "promotesFrom": "testing",
                "reviewers": [PARTNER],
            },
        )
        repo = open_repo(settings, forge.ForgeSession(sb.base_url, settings.repository, sb.token))
        sb.reset_counters()
        payload = build_payload(settings, repo, None, shas[0], "release/x", shas[-1])
        pages = -(-count // 250)
        report(
            f"payload, {count} commits",
            f"{sb.reads()} requests for {len(payload.commits)} commits",
            f"grows with compare pages (250 commits a page: {pages}), not with commits",
        )


def bench_plan_vs_preview(work: Path, home: Path, rounds: int = 5) -> None:
    """`release plan staging` against `pulumi preview` of an empty program, same machine."""
    print(f"\n`release plan staging` against `pulumi preview` of an empty program ({rounds} runs)")
    empty = work / "empty"
    empty.mkdir(parents=True)
    (empty / "Pulumi.yaml").write_text(
        "name: empty\nruntime:\n  name: python\n  options:\n"
        f"    virtualenv: {Path(sys.prefix).resolve()}\n"
    )
    (empty / "__main__.py").write_text("import pulumi  # noqa: F401 - an empty program\n")
    env = {
        **os.environ,
        **engine_env(home),
        "PULUMI_BACKEND_URL": f"file://{work / 'empty-state'}",
        "PULUMI_CONFIG_PASSPHRASE": "bench",
    }
    (work / "empty-state").mkdir()
    pulumi = str(pulumi_bin() / "pulumi")
    run([pulumi, "stack", "init", "dev", "--cwd", str(empty)], env)
    # A stack with no config at all reaches the Python host as `null` (its set_all_config
    # then fails); one value avoids that.
    run([pulumi, "config", "set", "note", "bench", "--cwd", str(empty), "--stack", "dev"], env)

    def preview() -> None:
        run([pulumi, "preview", "--non-interactive", "--cwd", str(empty), "--stack", "dev"], env)

    with sandbox(work / "plan-forge", seeded=True) as sb:
        train = EngineProject.create(sb, work / "plan", home)
        ok, output = train.promote("testing")
        if not ok:
            raise RuntimeError(output[-3000:])
        cli = train.cli_env()

        def plan() -> None:
            run([sys.executable, "-m", "release", "plan", "staging", "--date", RELEASE_DATE], cli)

        # The same preview `release plan` runs, without the command around it: what the
        # program itself (its forge reads, its dynamic provider's start) costs the engine.
        from release.engine import automation
        from release.engine.day_two import intent_env, new_op

        source = automation.outputs(train.project, "testing")
        pin = new_op("pin", commit=str(source["greenCommit"]), date=RELEASE_DATE)
        pinned = {**cli, **intent_env([pin])}
        directory = str(train.project.directory)

        def program_preview() -> None:
            run(
                [pulumi, "preview", "--non-interactive", "--cwd", directory, "-s", "staging"],
                pinned,
            )

        preview_times, program_times, plan_times = interleaved(
            [preview, program_preview, plan], rounds
        )
    p, q = statistics.median(plan_times), statistics.median(preview_times)
    r = statistics.median(program_times)
    # Each round times the three back to back, so a ratio compares runs made at the same
    # machine speed (a small VM's speed drifts between rounds more than the ratio moves).
    ratio = statistics.median(a / b for a, b in zip(plan_times, preview_times, strict=True))
    report("pulumi preview, empty program", f"{q:.1f} s (median)", "the baseline")
    report(
        "pulumi preview, the staging program",
        f"{r:.1f} s (median), {r / q:.2f} x the baseline",
        "the engine's part of a plan",
        "(forge reads, the dynamic provider's start)",
    )
    report(
        "release plan staging",
        f"{p:.1f} s (median), {p - r:.1f} s more than its preview",
        "≤ 2.5 x the baseline",
    )
    report("plan / empty preview", f"{ratio:.2f} (median of {rounds} rounds)", "≤ 2.5")


def interleaved(fns: list[Callable[[], None]], rounds: int) -> list[list[float]]:
    """Wall times of each of `fns`, `rounds` times, one of each per round (after a warm-up)."""
    for fn in fns:
        fn()  # warm caches (bytecode, plugins) first
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, took in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            took.append(time.perf_counter() - start)
    return times


ROLLOUT_PROGRAM = """\
import json, os
import pulumi
from release.program.ppc_rollout import PpcRollout
from release.rules.ppcs import Ppc

spec = json.loads(os.environ["BENCH_ROLLOUT"])
ppcs = [Ppc(f"ppc-{i:04d}", 1 + i % spec["waves"]) for i in range(spec["ppcs"])]
rollout = PpcRollout(
    "ppc-rollout",
    ppcs,
    spec["command"],
    release="release/2026-11-26",
    commit=spec["commit"],
    pins={"sdk": "v3.2.0"},
    state=spec["state"],
)
pulumi.export("ppcs", {"waves": [[p.name for p in w] for w in rollout.waves],
                       "outcomes": rollout.outcomes})
"""

# 4: one PPC a wave, the constant; 4,000: beyond the goal's range, so that the growth stands
# well above the run-to-run noise of the constant (about half a second) when it is fitted.
ROLLOUT_SIZES = (4, 100, 400, 2000, 4000)
ROLLOUT_WAVES = 4
ROLLOUT_JOB_SECONDS = 0.5


def fit_overhead(points: list[tuple[int, float]]) -> tuple[float, float, float]:
    """(a, b, k) of overhead = a + b * N**k, b >= 0, fitted by least squares: for each k on a
    grid of 0.50..2.50 (step 0.01), a and b by linear least squares, keeping the k with the
    smallest squared error. Needs three sizes or more; four (with a near-empty rollout for
    the constant) keep noise at the small sizes from bending k."""
    best: tuple[float, float, float, float] | None = None
    for step in range(50, 251):
        k = step / 100
        xs = [n**k for n, _ in points]
        mean_x = statistics.fmean(xs)
        mean_o = statistics.fmean(o for _, o in points)
        spread = sum((x - mean_x) ** 2 for x in xs)
        pairs = zip(xs, points, strict=True)
        b = max(0.0, sum((x - mean_x) * (o - mean_o) for x, (_, o) in pairs) / spread)
        a = mean_o - b * mean_x
        error = sum((a + b * x - o) ** 2 for x, (_, o) in zip(xs, points, strict=True))
        if best is None or error < best[0]:
            best = (error, a, b, k)
    assert best is not None
    return best[1], best[2], best[3]


def local_exponent(base: float, lower: tuple[int, float], upper: tuple[int, float]) -> str:
    """How the overhead above `base` (a near-empty rollout's) grows from `lower` to `upper`:
    log(ratio of overheads) / log(ratio of sizes); "n/a" when the lower one is within noise."""
    (n1, o1), (n2, o2) = lower, upper
    if o1 - base <= 0.05 or o2 - base <= 0:
        return "n/a (the smaller size is within the noise of the constant)"
    return f"{math.log((o2 - base) / (o1 - base)) / math.log(n2 / n1):.2f}"


def linear_fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """(a, b) of the least-squares line overhead = a + b * N."""
    ns, os_ = [n for n, _ in points], [o for _, o in points]
    mean_n, mean_o = statistics.fmean(ns), statistics.fmean(os_)
    b = sum((n - mean_n) * (o - mean_o) for n, o in points) / sum((n - mean_n) ** 2 for n in ns)
    return mean_o - b * mean_n, b


def rollout_overhead(
    work: Path, home: Path, backend: str, count: int, label: str, job: str = "sleep"
) -> float:
    """Seconds of one `pulumi up` of a fresh rollout of `count` PPCs in ROLLOUT_WAVES waves,
    beyond the jobs themselves (waves x job seconds). `job` "sleep" waits and does nothing
    else (the rollout's own overhead); "deploy" is the sandbox's job, release.ppc_deploy."""
    program = work / f"rollout-{label}-{count}-{job}"
    program.mkdir(parents=True)
    (program / "Pulumi.yaml").write_text(
        "name: rollout\nruntime:\n  name: python\n  options:\n"
        f"    virtualenv: {Path(sys.prefix).resolve()}\n"
    )
    (program / "__main__.py").write_text(ROLLOUT_PROGRAM)
    seconds = ROLLOUT_JOB_SECONDS
    command = (
        f"sleep {seconds:g}"
        if job == "sleep"
        else f"{sys.executable} -m release.ppc_deploy --state {{state}} --ppc {{ppc}} "
        f"--release {{release}} --commit {{commit}} --seconds {seconds:g}"
    )
    spec = {
        "ppcs": count,
        "waves": ROLLOUT_WAVES,
        "command": command,
        "commit": secrets.token_hex(20),
        "state": str(program / "ppcs"),
    }
    env = {
        **os.environ,
        **engine_env(home),
        "PULUMI_BACKEND_URL": backend,
        "PULUMI_CONFIG_PASSPHRASE": "bench",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "BENCH_ROLLOUT": json.dumps(spec),
    }
    pulumi = str(pulumi_bin() / "pulumi")
    stack = f"bench-{label}-{count}-{job}".replace("_", "-")
    base = ["--cwd", str(program), "--stack", stack]
    run([pulumi, "stack", "init", *base], env)
    run([pulumi, "config", "set", "note", "bench", *base], env)  # see bench_plan_vs_preview
    start = time.perf_counter()
    run([pulumi, "up", "--yes", "--skip-preview", "--non-interactive", *base], env)
    took = time.perf_counter() - start
    outputs = json.loads(run([pulumi, "stack", "output", "--json", *base], env))
    done = sum(1 for o in json.loads(outputs["ppcs"]["outcomes"]).values() if o["ok"])
    if done != count:
        raise RuntimeError(f"rollout of {count} PPCs: {done} recorded as updated")
    return took - ROLLOUT_WAVES * seconds


def bench_rollout(
    work: Path, home: Path, sizes: tuple[int, ...] = ROLLOUT_SIZES, rounds: int = 3
) -> None:
    """The PPC rollout's overhead beyond its jobs, at 100, 400 and 2,000 PPCs (4 waves of
    0.5 s jobs), on file:// and on PostgreSQL, with the fitted growth."""
    print(
        f"\nPPC rollout overhead: {ROLLOUT_WAVES} waves of {ROLLOUT_JOB_SECONDS:g} s jobs, "
        "one `pulumi up` each (wall time minus waves x job time)"
    )
    with postgres_url(work) as pg:
        backends = {
            "file://": lambda: f"file://{work / f'rollout-state-{secrets.token_hex(3)}'}",
            "postgres://": lambda: (
                f"{pg}{'&' if '?' in pg else '?'}table=bench_rollout_{secrets.token_hex(4)}"
            ),
        }
        for label, url in backends.items():
            name = label.rstrip(":/")
            points = []
            for count in sizes:
                runs = []
                for round_ in range(rounds):
                    backend = url()
                    if backend.startswith("file://"):
                        Path(backend[len("file://") :]).mkdir(parents=True)
                    label_ = f"{name}{round_}"
                    runs.append(rollout_overhead(work, home, backend, count, label_))
                overhead = statistics.median(runs)
                points.append((count, overhead))
                report(
                    f"PPC rollout overhead, {count} PPCs, {label}",
                    f"{overhead:.1f} s (median of {rounds}: {overhead / count * 1000:.1f} ms "
                    "per PPC, all told)",
                    "≤ 10 ms per PPC plus a constant",
                )
            a, b = linear_fit(points)
            c, d, k = fit_overhead(points)
            by_size = dict(points)
            base = by_size.get(min(by_size), 0.0)
            local = local_exponent(base, (2000, by_size[2000]), (4000, by_size[4000]))
            report(
                f"PPC rollout overhead growth, {label}",
                f"{b * 1000:.2f} ms per PPC + {a:.1f} s (least squares line); fitted "
                f"{c:.1f} s + {d * 1000:.3g} ms x N^{k:.2f}: exponent {k:.2f}; local exponent "
                f"2,000 -> 4,000 above the {min(by_size)}-PPC run: {local}",
                "≤ 10 ms per PPC plus a constant; growth linear, exponent near 1 "
                "(was 1.99: 1.3 s + 89 µs x N²)",
            )
    # The sandbox's own job (a Python process per PPC) beside it, for scale.
    backend = f"file://{work / 'rollout-state-deploy'}"
    Path(backend[len("file://") :]).mkdir(parents=True)
    overhead = rollout_overhead(work, home, backend, 400, "file", job="deploy")
    report(
        "PPC rollout overhead, 400 PPCs, file://, the sandbox job (release.ppc_deploy)",
        f"{overhead:.1f} s ({overhead / 400 * 1000:.1f} ms per PPC)",
        "(for scale: includes starting a Python interpreter per PPC)",
    )


def bench_actions(work: Path, count: int) -> None:
    """Requests per PPC of the Actions executor: one wave of `count` PPCs, then again."""
    from release.actions import ActionsExecutor, ActionsSettings
    from release.forge import ForgeSession
    from release.rules.pacing import Pacing
    from release.rules.ppc_jobs import PpcJob
    from sandbox.seed import REPO

    print(f"\nPPC wave on GitHub Actions: {count} PPCs, runs of 2-6.5 s (the sandbox's runner)")
    with sandbox(work / "actions", seeded=True) as sb:
        sb.actions.configure(queue_seconds=0.5, appear_seconds=1.0)
        jobs = [PpcJob(f"ppc-{i:04d}", "release/2026-11-26", "c" * 40, 1) for i in range(count)]
        for i, job in enumerate(jobs):
            sb.actions.plan(job.ppc, seconds=2 + (i % 10) * 0.5)
        # GitHub's polling timings scaled down with the runs (5 s -> 0.5 s, 30 s -> 2 s); the
        # writes unspaced (on github.com the pacing policy sends them a second apart); the
        # settle wait before dispatching covers the runner's listing delay (10 s on GitHub).
        settings = ActionsSettings(
            "update-ppc.yml",
            "master",
            600,
            poll_first=0.5,
            poll_max=2.0,
            appear_timeout=30,
            settle_seconds=1.5,
        )
        session = ForgeSession(sb.base_url, REPO, sb.token, pacing=Pacing.local())
        sb.reset_counters()
        start = time.perf_counter()
        outcomes = ActionsExecutor(session, settings).run_wave(jobs, lambda _line: None)
        took = time.perf_counter() - start
        reads, writes = sb.reads(), sb.writes()
        listings = sum(
            v["reads"] for k, v in sb.counters().items() if k.endswith("/runs") and "GET" in k
        )
        ok = sum(o.ok for o in outcomes)
        report(
            f"Actions executor, {count}-PPC wave",
            f"{(reads + writes) / count:.2f} requests per PPC ({reads} reads, {writes} writes; "
            f"{listings} run listings; {ok}/{count} updated in {took:.1f} s)",
            "about 1 write + a few reads per 100 PPCs per poll; under 2 per PPC",
        )
        sb.reset_counters()
        again = ActionsExecutor(session, settings).run_wave(jobs, lambda _line: None)
        report(
            f"Actions executor, the {count}-PPC wave again",
            f"{(sb.reads() + sb.writes()) / count:.3f} requests per PPC ({sb.reads()} reads, "
            f"{sb.writes()} writes; {sum(o.ok for o in again)}/{count} already updated)",
            "no write; one listing of the recent runs",
        )


def bench_construction(ppcs: int = 500, picks: int = 20) -> None:
    """Seconds to construct the production program under Pulumi mocks."""
    import pulumi

    from release.program.planning import PromotionPlan, ReleaseChanges
    from release.program.registration import register_release
    from release.rules.config import parse_settings
    from release.rules.payload import Payload

    print(f"\nprogram construction under mocks: {ppcs} PPCs, {picks} picks")

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
            return {}

    pulumi.runtime.set_mocks(Mocks(), project="release-train", stack="production", preview=False)
    pick_shas = [f"{i:040x}" for i in range(1, picks + 1)]
    raw = {
        "repository": "acme/service",
        "apiUrl": "http://127.0.0.1:1/api/v3",
        "environment": "production",
        "promotesFrom": "staging",
        "reviewers": [PARTNER],
        "picks": pick_shas,
        "ppcCommand": "true {ppc} {release} {commit}",
        "ppcs": json.dumps([{"name": f"ppc-{i:04d}", "wave": 1 + i % 5} for i in range(ppcs)]),
    }
    settings = parse_settings("production", raw)
    plan = PromotionPlan(
        release=f"release/{RELEASE_DATE}",
        commit="c" * 40,
        environment="production",
        env_head="e" * 40,
        previous=None,
        previous_head=None,
        needs_ours_merge=False,
        already_contained=False,
        payload=Payload(None, f"release/{RELEASE_DATE}", "b" * 40, "c" * 40, (), ()),
        # The picks' plan-time reads are forge I/O, measured by the request figures above:
        # here they are planned at once ("not applied yet"), to time the program itself.
        changes=ReleaseChanges(picks=tuple((sha, None) for sha in pick_shas)),
    )
    counted: dict[str, int] = {}

    @pulumi.runtime.test
    def construct() -> Any:
        outputs = register_release(settings, plan, {})
        counted["outputs"] = len(outputs)
        return pulumi.Output.from_input(outputs["rollout"]).apply(lambda _v: None)

    start = time.perf_counter()
    construct()
    took = time.perf_counter() - start
    report(
        f"construction, {ppcs} PPCs + {picks} picks",
        f"{took:.1f} s",
        "a few seconds (well under the engine's own time for the same resources)",
    )


BENCHES = (
    "green",
    "promotions",
    "payload",
    "plan",
    "latency",
    "backends",
    "rollout",
    "construction",
    "actions",
)


@contextmanager
def postgres_url(work: Path) -> Iterator[str]:
    """RELEASE_TRAIN_POSTGRES_URL, else a server scripts/postgres.sh starts (and stops)."""
    given = os.environ.get("RELEASE_TRAIN_POSTGRES_URL")
    if given:
        yield given
        return
    script = Path(__file__).resolve().parents[1] / "scripts" / "postgres.sh"
    folder = Path(tempfile.mkdtemp(prefix="release-bench-pg-"))
    env = {**os.environ, "RELEASE_TRAIN_PG_DIR": str(folder)}
    url = run([str(script), "start"], env).strip().splitlines()[-1]
    try:
        yield url
    finally:
        subprocess.run([str(script), "stop"], env=env, capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def bench_backends(work: Path, home: Path, rounds: int = 3) -> None:
    """`release plan staging` and a whole staging promotion on file:// and on PostgreSQL."""
    print(f"\nthe state backend: file:// against postgres:// (plan: median of {rounds} runs)")
    with postgres_url(work) as base:
        backends = {
            "file://": None,
            "postgres://": f"{base}{'&' if '?' in base else '?'}table=bench_{secrets.token_hex(4)}",
        }
        for label, url in backends.items():
            name = label.rstrip(":/")
            with sandbox(work / f"{name}-forge", seeded=True) as sb:
                train = EngineProject.create(sb, work / f"{name}-project", home, url)
                ok, output = train.promote("testing")
                if not ok:
                    raise RuntimeError(output[-3000:])
                cli = train.cli_env()
                times = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    run(
                        [
                            sys.executable,
                            "-m",
                            "release",
                            "plan",
                            "staging",
                            "--date",
                            RELEASE_DATE,
                        ],
                        cli,
                    )
                    times.append(time.perf_counter() - started)
                report(
                    f"release plan staging, {label}",
                    f"{statistics.median(times):.1f} s (median)",
                    "postgres:// close to file://",
                )
                started = time.perf_counter()
                train.promote_until_merged("staging")
                report(
                    f"staging promotion, {label}",
                    f"{time.perf_counter() - started:.1f} s",
                    "postgres:// close to file://",
                    "(the gate-held run, the approval, the merging run)",
                )


def bench_latency(work: Path, home: Path, latencies: tuple[int, ...] = (0, 150)) -> None:
    """`release plan staging` and a staging promotion (held at the gate, approved, merged) at
    each sandbox latency, the client paced as on github.com (`RELEASE_TRAIN_PACING=github`),
    with requests per route.
    One round each: a fresh forge and project per latency, so each promotion starts equal."""
    from release.rules.pacing import PACING_VARIABLE

    print("\nat sandbox latency, the client paced as on github.com (one round each)")
    saved = os.environ.get(PACING_VARIABLE)
    try:
        for ms in latencies:
            with sandbox(work / f"latency-{ms}-forge", seeded=True) as sb:
                train = EngineProject.create(sb, work / f"latency-{ms}", home)
                ok, output = train.promote("testing")
                if not ok:
                    raise RuntimeError(output[-3000:])
                # The program and its providers (children of the engine) and the CLI read it.
                os.environ[PACING_VARIABLE] = "github"
                cli = {**train.cli_env(), PACING_VARIABLE: "github"}
                sb.set_latency(ms)

                sb.reset_counters()
                started = time.perf_counter()
                run(
                    [sys.executable, "-m", "release", "plan", "staging", "--date", RELEASE_DATE],
                    cli,
                )
                took = time.perf_counter() - started
                steps = sb.sequential_steps()
                report(
                    f"release plan staging, {ms} ms",
                    f"{took:.2f} s, {sb.reads()} reads, {sb.writes()} writes, "
                    f"{steps} sequential request steps",
                    "≤ 2.5 s in ≤ 6 sequential request steps at 150 ms" if ms else "(reference)",
                )
                _routes(sb)

                # Thursday as it runs: the first `up` cuts, ours-merges and opens the PR,
                # then waits at the gate; CI and the partner approve (not timed); the second
                # `up` merges. A merge needs checks on the new head, so one `up` cannot merge.
                took, reads, writes, steps, routes = 0.0, 0, 0, 0, {}
                runs: list[float] = []
                for attempt in range(4):
                    sb.reset_counters()
                    started = time.perf_counter()
                    ok, output = train.promote("staging")
                    runs.append(time.perf_counter() - started)
                    took += runs[-1]
                    reads, writes = reads + sb.reads(), writes + sb.writes()
                    steps += sb.sequential_steps()
                    for route, counts in sb.counters().items():
                        routes[route] = routes.get(route, 0) + counts["reads"] + counts["writes"]
                    if ok:
                        break
                    if "approval" not in output or attempt == 3:
                        raise RuntimeError(f"staging promotion failed:\n{output[-3000:]}")
                    sb.set_latency(0)
                    train.approve("staging")
                    sb.set_latency(ms)
                report(
                    f"staging promotion (held, approved, merged), {ms} ms",
                    f"{took:.2f} s over {attempt + 1} runs "
                    f"({' + '.join(f'{t:.2f}' for t in runs)} s), {reads} reads, "
                    f"{writes} writes, {steps} sequential request steps",
                    "≤ 14 s at 150 ms" if ms else "(reference)",
                    "(first run: cut, ours-merge, PR, held at the gate; last: merge, Deployment)",
                )
                _print_routes(routes)
                os.environ.pop(PACING_VARIABLE, None)
    finally:
        if saved is None:
            os.environ.pop(PACING_VARIABLE, None)
        else:
            os.environ[PACING_VARIABLE] = saved


def _routes(sb: Any) -> None:
    """The requests the sandbox served since its last reset, per route."""
    _print_routes({k: v["reads"] + v["writes"] for k, v in sb.counters().items()})


def _print_routes(routes: dict[str, int]) -> None:
    for route, served in sorted(routes.items()):
        print(f"      {served:3d}  {route}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench", description=__doc__)
    parser.add_argument("--only", action="append", choices=BENCHES, help="run only these")
    parser.add_argument(
        "--ppcs", type=int, default=500, help="PPCs in the Actions executor's wave (500)"
    )
    args = parser.parse_args(argv)
    chosen = args.only or list(BENCHES)
    print(f"release-train benchmarks on {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="release-bench-") as tmp:
        work = Path(tmp)
        engine_benches = {"promotions", "plan", "latency", "backends", "rollout"}
        home = pulumi_home(work) if engine_benches & set(chosen) else work
        steps: dict[str, Callable[[], None]] = {
            "green": lambda: bench_green(work),
            "promotions": lambda: bench_promotions(work, home),
            "payload": lambda: bench_payload(work),
            "plan": lambda: bench_plan_vs_preview(work, home),
            "backends": lambda: bench_backends(work, home),
            "latency": lambda: bench_latency(work, home),
            "rollout": lambda: bench_rollout(work, home),
            "construction": lambda: bench_construction(),
            "actions": lambda: bench_actions(work, args.ppcs),
        }
        for name in chosen:
            steps[name]()
    print("\n| figure | measured | goal |\n|---|---|---|")
    for f in FIGURES:
        print(f"| {f.name} | {f.value} {f.note}".rstrip() + f" | {f.goal} |")
    print(f"\n(measured {dt.datetime.now(dt.UTC):%Y-%m-%d} on {machine()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
