"""The bad-input table: each case is a stack file or an option a careless author (or a token
short of a permission) gives `release`, with the message it must answer.

Every case runs the `release` command line in this process against one seeded sandbox forge
and asserts: a non-zero exit, the expected message on stderr (naming the file, key or
option, the value and the fix), no traceback, and ZERO forge writes (the sandbox counts every
write it is sent, refused or not). No case reaches the engine, so the table stays fast; the
number of cases is printed at the end of the run (the reliability figures).
"""

from __future__ import annotations

import json
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import github
import pytest
import yaml

import release.cli
from release.cli import promotion
from release.engine import automation, lifetime
from release.providers import train_record
from sandbox.seed import REPO, seed
from tests.conftest import READ_ONLY_TOKEN, TOKEN, start_sandbox
from tests.reliability import summary

DATE = "2026-11-26"
UNKNOWN = "f" * 40  # a well-formed SHA that is no commit of the repository
WEBHOOK = "https://hooks.example.test/services/T000/B000/plaintextsecret"
DELETE = object()  # an edit that removes the key


@dataclass(frozen=True)
class Case:
    """`release ARGS` after `edits` to the stack files; stderr must match `expect`."""

    id: str
    args: tuple[str, ...]
    expect: str
    edits: dict[str, dict[str, Any]] = field(default_factory=dict)  # stack -> key -> value
    text: dict[str, str] = field(default_factory=dict)  # stack -> the whole file's text
    token: str = TOKEN
    hidden: tuple[str, ...] = ()  # text that must never show (secrets)


PROMOTE = ("promote", "staging")
QUEUED = "c" * 40  # the one pick queued in production's record (the `bench` fixture)
LEGACY = (
    r"^error: Pulumi\.{stack}\.yaml: sets release-train:{keys}: operational intent is no "
    r"longer kept in the stack file but in the stack's state, shared by every operator and CI "
    r"runner; remove it \("
)
PIN = ("--commit", "{green}", "--date", DATE)  # {green}: the seed's newest green commit
PROD = ("promote", "production")
PPCS = [{"name": "acme", "wave": 1}]
CMD = "python -m release.ppc_deploy --ppc {ppc} --release {release} --commit {commit}"


def stg(**edits: Any) -> dict[str, dict[str, Any]]:
    return {"staging": edits}


CASES = [
    # Unknown keys: a typo must not silently weaken the gate.
    Case(
        "typo requiredApproval",
        PROMOTE,
        r"Pulumi\.staging\.yaml: config release-train:requiredApproval = 2: no such key; "
        r"did you mean release-train:requiredApprovals\?",
        stg(requiredApproval=2),
    ),
    Case(
        "typo reviewer",
        PROMOTE,
        r"release-train:reviewer = \['oncall-partner'\]: .*did you mean release-train:reviewers",
        stg(reviewer=["oncall-partner"]),
    ),
    Case(
        "key without any near name",
        PROMOTE,
        r"release-train:colour = 'blue': no such key; the keys are declared in Pulumi\.yaml",
        stg(colour="blue"),
    ),
    Case(
        "typo of a secret key hides its value",
        PROMOTE,
        r"release-train:tokn = '<hidden>': .*did you mean release-train:token\?",
        stg(tokn="ghp_notshown"),
        hidden=("ghp_notshown",),
    ),
    # Types, ranges and the rules between keys.
    Case(
        "requiredApprovals not a number",
        PROMOTE,
        r"requiredApprovals = 'two': give a whole number >= 0",
        stg(requiredApprovals="two"),
    ),
    Case(
        "requiredApprovals negative",
        PROMOTE,
        r"requiredApprovals = -1: give a whole number >= 0",
        stg(requiredApprovals=-1),
    ),
    Case(
        "requiredApprovals a list",
        PROMOTE,
        r"requiredApprovals = \[2\]: give a whole number",
        stg(requiredApprovals=[2]),
    ),
    Case(
        "more approvals than reviewers",
        PROMOTE,
        r"requiredApprovals = 3: only 1 reviewer\(s\) are listed; lower it or add reviewers",
        stg(requiredApprovals=3),
    ),
    Case(
        "greenLookback zero",
        ("promote", "testing"),
        r"Pulumi\.testing\.yaml: .*greenLookback = 0: give a whole number >= 1",
        {"testing": {"greenLookback": 0}},
    ),
    Case(
        "reviewers a mapping",
        PROMOTE,
        r"reviewers = \{'lead': 'dana'\}: give a list",
        stg(reviewers={"lead": "dana"}),
    ),
    Case(
        "reviewers bad login",
        PROMOTE,
        r"reviewers = 'not a login': give GitHub logins",
        stg(reviewers=["not a login"]),
    ),
    Case(
        "reviewers twice",
        PROMOTE,
        r"reviewers = .*list each reviewer once",
        stg(reviewers=["oncall-partner", "Oncall-Partner"]),
    ),
    Case(
        "requiredChecks twice",
        PROMOTE,
        r"requiredChecks = .*list each check once",
        stg(requiredChecks=["test", "test"]),
    ),
    Case(
        "environment a list",
        PROMOTE,
        r"environment = \['staging'\]: give a string",
        stg(environment=["staging"]),
    ),
    Case(
        "environment not a branch name",
        PROMOTE,
        r"environment = 'stag ing': give a valid git branch name",
        stg(environment="stag ing"),
    ),
    Case(
        "repository without owner",
        PROMOTE,
        r"repository = 'service': give the repository as owner/name",
        stg(repository="service"),
    ),
    Case(
        "mergeMethod squash",
        PROMOTE,
        r"mergeMethod = 'squash': only 'merge' is allowed",
        stg(mergeMethod="squash"),
    ),
    # Intent left in a stack file (the old place of commit, releaseDate, picks, reverts,
    # rollback, carry): refused as a whole, naming the keys, how to remove them and the
    # command that records the same intent in the stack's record.
    Case(
        "releaseDate left in the stack file",
        PROMOTE,
        LEGACY.format(stack="staging", keys="releaseDate")
        + r".*pulumi config rm release-train:releaseDate -s staging\), then record it with: "
        rf"release promote staging --commit <sha> --date {DATE}$",
        stg(releaseDate=DATE),
    ),
    Case(
        "commit and releaseDate left in the stack file",
        PROMOTE,
        LEGACY.format(stack="staging", keys="commit, release-train:releaseDate")
        + rf".*release promote staging --commit {UNKNOWN} --date {DATE}$",
        stg(commit=UNKNOWN, releaseDate=DATE),
    ),
    Case(
        "picks left in the stack file",
        PROMOTE,
        LEGACY.format(stack="staging", keys="picks")
        + rf".*then record it with: release cherry-pick staging {UNKNOWN} {UNKNOWN}$",
        stg(picks=[UNKNOWN, UNKNOWN]),
    ),
    Case(
        "picks and allowOffMaster left in the stack file",
        PROMOTE,
        LEGACY.format(stack="staging", keys="picks, release-train:allowOffMaster")
        + rf".*release cherry-pick staging {UNKNOWN} --allow-off-master$",
        stg(picks=[UNKNOWN], allowOffMaster=True),
    ),
    Case(
        "allowOffMaster left in the stack file",
        PROMOTE,
        LEGACY.format(stack="staging", keys="allowOffMaster")
        + r"pulumi config rm release-train:allowOffMaster -s staging\)$",
        stg(allowOffMaster="yes"),
    ),
    Case(
        "picks left in the source stack's file",
        ("promote", "testing"),
        LEGACY.format(stack="testing", keys="picks"),
        {"testing": {"picks": [UNKNOWN]}},
    ),
    Case(
        "cherry-pick into the source stack",
        ("cherry-pick", "testing", "{green}"),
        r"error: testing tracks its source branch; it has no release to change",
    ),
    Case(
        "revert on the source stack",
        ("revert", "testing", "{green}"),
        r"error: testing tracks its source branch; it has no release to change",
    ),
    Case(
        "pins twice",
        PROMOTE,
        r"pins\[1\]\.name = 'ppc': pin names must be unique",
        stg(pins=[{"name": "ppc", "path": "a", "pattern": "(x)"}] * 2),
    ),
    Case(
        "pins bad regex",
        PROMOTE,
        r"pins\[0\]\.pattern = '\(x': fix the regular expression",
        stg(pins=[{"name": "ppc", "path": "a", "pattern": "(x"}]),
    ),
    Case(
        "rollback left in the stack file",
        PROMOTE,
        LEGACY.format(stack="staging", keys="rollback")
        + r".*then record it with: release rollback staging --to <release>$",
        stg(rollback={"to": "master", "date": DATE}),
    ),
    Case(
        "rollback to a non-release",
        ("rollback", "production", "--to", "master"),
        r"error: --to 'master': name a release branch, e\.g\. release/",
    ),
    Case(
        "rollbackApprovals two",
        PROMOTE,
        r"rollbackApprovals = 2: give 0 or 1",
        stg(rollbackApprovals=2),
    ),
    Case(
        "ppcs names twice",
        PROD,
        r"Pulumi\.production\.yaml: .*ppcs = .*acme.*(twice|unique|once|duplicate)",
        {"production": {"ppcs": [{"name": "acme", "wave": 1}, {"name": "acme", "wave": 2}]}},
    ),
    Case(
        "ppcs bad wave",
        PROD,
        r"Pulumi\.production\.yaml: .*ppcs = .*wave",
        {"production": {"ppcs": [{"name": "acme", "wave": "first"}]}},
    ),
    Case(
        "ppcs without ppcCommand",
        PROD,
        r"ppcCommand = \(not set\): the stack lists ppcs",
        {"production": {"ppcs": PPCS, "ppcCommand": DELETE}},
    ),
    Case(
        "ppcCommand unknown placeholder",
        PROD,
        r"ppcCommand = .*\{region\}.*placeholders",
        {"production": {"ppcs": PPCS, "ppcCommand": CMD + " {region}"}},
    ),
    Case(
        "ppcExecutor unknown",
        PROD,
        r"ppcExecutor = 'jenkins': give command .* or actions",
        {"production": {"ppcExecutor": "jenkins"}},
    ),
    Case(
        "ppcExecutor actions without ppcWorkflow",
        PROD,
        r"ppcWorkflow = \(not set\): ppcExecutor is actions: give the file name",
        {"production": {"ppcs": PPCS, "ppcExecutor": "actions"}},
    ),
    Case(
        "ppcTimeout not a number",
        PROD,
        r"ppcTimeout = 'an hour': give a whole number >= 1",
        {"production": {"ppcExecutor": "actions", "ppcWorkflow": "x.yml", "ppcTimeout": "an hour"}},
    ),
    Case(
        "notifyWebhook in plain text",
        PROMOTE,
        r"notifyWebhook = '<hidden>': the webhook URL is stored in plain text.*--secret",
        stg(notifyWebhook=WEBHOOK),
        hidden=("plaintextsecret",),
    ),
    Case(
        "cadence unknown weekday",
        PROD,
        r"cadence.* = 'funday'",
        {"production": {"cadence": {"stagingWeekday": "funday"}}},
    ),
    Case(
        "freezes bad date",
        PROD,
        r"freezes\[0\].*'soon'.*YYYY-MM-DD",
        {"production": {"freezes": [{"date": "soon", "reason": "holiday"}]}},
    ),
    Case(
        "manageProtection on the source stack",
        ("promote", "testing"),
        r"manageProtection = True: set it on a promotion stack",
        {"testing": {"manageProtection": True}},
    ),
    # Stacks: the ones that exist are named.
    Case(
        "promotesFrom an unknown stack",
        PROMOTE,
        r"promotesFrom = 'qa': no such stack \(no Pulumi\.qa\.yaml\); "
        r"the stacks are: testing, production",
        stg(promotesFrom="qa"),
    ),
    Case(
        "promotesFrom itself",
        PROMOTE,
        r"promotesFrom = 'staging': a stack cannot promote from itself",
        stg(promotesFrom="staging"),
    ),
    Case(
        "unknown environment",
        ("promote", "qa"),
        r"unknown environment 'qa' \(no Pulumi\.qa\.yaml\): choose one of testing, staging, "
        r"production",
    ),
    # The stack file itself.
    Case(
        "YAML syntax error",
        PROMOTE,
        r"Pulumi\.staging\.yaml line 4: not valid YAML .*fix the YAML at that line",
        text={
            "staging": "config:\n  release-train:repository: acme/service\n"
            "  release-train:environment: staging\n\t release-train:promotesFrom: testing\n"
        },
    ),
    Case(
        "YAML key twice",
        PROMOTE,
        r"Pulumi\.staging\.yaml line 4: the key 'release-train:environment' is given twice; "
        "keep one",
        text={
            "staging": "config:\n  release-train:repository: acme/service\n"
            "  release-train:environment: staging\n  release-train:environment: prod\n"
        },
    ),
    Case(
        "empty stack file",
        PROMOTE,
        r"Pulumi\.staging\.yaml: the stack file is empty; give its config, e\.g\. "
        r"`release-train:repository: acme/service`",
        text={"staging": "# nothing yet\n"},
    ),
    Case(
        "stack file of other namespaces only",
        PROMOTE,
        r"Pulumi\.staging\.yaml: the stack file sets no release-train: key",
        text={"staging": "config:\n  pulumi:tags: {team: release}\n  github:owner: acme\n"},
    ),
    # Options.
    Case("--commit short", (*PROMOTE, "--commit", "6b7d8cb"), r"option --commit .*40-character"),
    Case(
        "--date impossible",
        (*PROMOTE, "--date", "2026-02-30"),
        r"option --date = '2026-02-30': give a date as YYYY-MM-DD",
    ),
    # The forge: reads only, before the engine runs.
    Case(
        "apiUrl without /api/v3",
        PROMOTE,
        r"apiUrl = 'http://127\.0\.0\.1:\d+': a GitHub Enterprise \(or sandbox\) API root "
        r"ends in /api/v3: give http://127\.0\.0\.1:\d+/api/v3",
        stg(apiUrl="{root}"),
    ),
    Case(
        "apiUrl the github.com website",
        PROMOTE,
        r"apiUrl = 'https://github\.com': the API of github\.com is https://api\.github\.com",
        stg(apiUrl="https://github.com"),
    ),
    Case(
        "apiUrl not http",
        PROMOTE,
        r"apiUrl = 'ftp://forge': give an http\(s\) URL",
        stg(apiUrl="ftp://forge"),
    ),
    Case(
        "apiUrl unreachable",
        (*PROMOTE, *PIN),
        r"apiUrl = 'http://127\.0\.0\.1:9/api/v3': cannot reach 127\.0\.0\.1:9 "
        r"\(connection refused\); check the URL",
        stg(apiUrl="http://127.0.0.1:9/api/v3"),
    ),
    Case(
        "token read-only",
        (*PROMOTE, *PIN),
        r"error: GITHUB_TOKEN \(Pulumi\.staging\.yaml sets no token\): the token can read "
        r"acme/service but not write to it; give it Contents: write, Pull requests: write",
        token=READ_ONLY_TOKEN,
        hidden=(READ_ONLY_TOKEN,),
    ),
    Case(
        "token unknown",
        (*PROMOTE, *PIN),
        r"GITHUB_TOKEN \(Pulumi\.staging\.yaml sets no token\): 127\.0\.0\.1:\d+ refused the "
        r"token \(401 Bad credentials\)",
        token="sandbox-token-nobody",
        hidden=("sandbox-token-nobody",),
    ),
    Case(
        "repository unknown",
        (*PROMOTE, *PIN),
        r"repository = 'acme/nothere': no such repository, or the token cannot read it",
        stg(repository="acme/nothere"),
    ),
    Case(
        "reverts left in the stack file",
        (*PROMOTE, *PIN),
        LEGACY.format(stack="staging", keys="reverts")
        + rf".*then record it with: release revert staging {UNKNOWN}$",
        stg(reverts=[UNKNOWN]),
    ),
    Case(
        "drop a pick that is not queued",
        ("cherry-pick", "production", "{green}", "--drop"),
        r"error: op 1 \(drop-pick\) on production: sha = '{green}': it is not a queued pick "
        rf"\(queued: {QUEUED[:12]}\); nothing to drop",
    ),
    Case(
        "--commit unknown SHA",
        (*PROMOTE, "--commit", UNKNOWN, "--date", DATE),
        rf"option --commit = '{UNKNOWN}': no such commit in acme/service",
    ),
    Case(
        "plan --commit unknown SHA",
        ("plan", "staging", "--commit", UNKNOWN, "--date", DATE),
        rf"option --commit = '{UNKNOWN}': no such commit in acme/service",
    ),
    Case(
        "cherry-pick an unknown SHA",
        ("cherry-pick", "staging", UNKNOWN),
        rf"error: argument SHA = '{UNKNOWN}': no such commit in acme/service",
    ),
    Case(
        "cherry-pick a second unknown SHA",
        ("cherry-pick", "staging", "{green}", UNKNOWN),
        rf"argument SHA 2 = '{UNKNOWN}': no such commit in acme/service",
    ),
    Case(
        "cherry-pick a short SHA",
        ("cherry-pick", "staging", "abc123"),
        r"error: argument SHA = 'abc123': give the full 40-character",
    ),
    Case(
        "revert a malformed SHA",
        ("revert", "staging", "HEAD~1"),
        r"error: argument SHA = 'head~1': give the full 40-character",
    ),
    Case(
        "revert an unknown SHA",
        ("revert", "staging", UNKNOWN),
        rf"argument SHA = '{UNKNOWN}': no such commit in acme/service",
    ),
    Case(
        "cherry-pick with a read-only token",
        ("cherry-pick", "staging", "{green}"),
        r"GITHUB_TOKEN .*: the token can read acme/service but not write to it",
        token=READ_ONLY_TOKEN,
    ),
    Case(
        "plan with picks left in the stack file",
        ("plan", "staging", *PIN),
        LEGACY.format(stack="staging", keys="picks")
        + rf".*then record it with: release cherry-pick staging {UNKNOWN}$",
        stg(picks=[UNKNOWN]),
    ),
]


@dataclass
class Bench:
    """One seeded sandbox and a project folder whose stack files each case rewrites."""

    sandbox: Any
    directory: Path
    originals: dict[str, dict[str, Any]]
    green: str


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory, seed_cache: Path) -> Iterator[Bench]:
    work = tmp_path_factory.mktemp("bad-input-table")
    seed(work / "forge", cache_dir=seed_cache)
    sandbox = start_sandbox(work / "forge")
    directory = work / "project"
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text((automation.PROJECT_DIR / "Pulumi.yaml").read_text())
    originals = {}
    for path in automation.PROJECT_DIR.glob("Pulumi.*.yaml"):
        data = yaml.safe_load(path.read_text())
        data["config"]["release-train:apiUrl"] = sandbox.base_url
        originals[path.name[len("Pulumi.") : -len(".yaml")]] = data
    client = github.Github(base_url=sandbox.base_url, auth=github.Auth.Token(TOKEN))
    green = client.get_repo(REPO).get_branch("master").commit.sha
    client.close()
    # testing has run: its checkpoint records the green commit staging promotes.
    backend = work / "state"
    stacks = backend / ".pulumi" / "stacks" / "release-train"
    stacks.mkdir(parents=True)
    outputs = {"role": "source", "greenCommit": green, "sourceBranch": "master"}
    stack = {"type": "pulumi:pulumi:Stack", "urn": "urn:stack", "outputs": outputs}
    (stacks / "testing.json").write_text(
        json.dumps({"version": 3, "checkpoint": {"latest": {"resources": [stack]}}})
    )
    # production runs release/2026-11-19, and its record (the TrainRecord's outputs) queues
    # one pick: the day-two commands read both from the state, without the engine.
    outputs = {"role": "promotion", "releaseBranch": "release/2026-11-19"}
    stack = {"type": "pulumi:pulumi:Stack", "urn": "urn:stack", "outputs": outputs}
    record = {"version": 1, "commit": green, "releaseDate": "2026-11-19", "picks": [QUEUED]}
    urn = f"urn:pulumi:production::release-train::{train_record.TYPE}::{train_record.RESOURCE_NAME}"
    held = {"type": train_record.TYPE, "urn": urn, "outputs": {"record": record}}
    (stacks / "production.json").write_text(
        json.dumps({"version": 3, "checkpoint": {"latest": {"resources": [stack, held]}}})
    )
    try:
        yield Bench(sandbox, directory, originals, green)
    finally:
        sandbox.stop()


def write_files(bench: Bench, case: Case) -> None:
    for old in bench.directory.glob("Pulumi.*.yaml"):
        old.unlink()
    for name, data in bench.originals.items():
        path = bench.directory / f"Pulumi.{name}.yaml"
        if name in case.text:
            path.write_text(case.text[name])
            continue
        config = dict(data["config"])
        for key, value in case.edits.get(name, {}).items():
            if value is DELETE:
                config.pop(f"release-train:{key}", None)
            else:
                value = (
                    value.replace("{root}", bench.sandbox.url) if isinstance(value, str) else value
                )
                config[f"release-train:{key}"] = value
        path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))


def run_release(
    bench: Bench,
    case: Case,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    engine: Callable[..., Any] | None = None,
) -> tuple[int, str]:
    """`release ARGS` in this process: (exit code, stderr); an escaping exception fails."""
    monkeypatch.setenv("RELEASE_TRAIN_PROJECT_DIR", str(bench.directory))
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{bench.directory.parent / 'state'}")
    monkeypatch.setenv("GITHUB_TOKEN", case.token)
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setattr(promotion, "run_engine", engine or _no_engine)
    monkeypatch.setattr(lifetime, "install", lambda: None)  # the test process keeps its signals
    args = [a.replace("{green}", bench.green) for a in case.args]
    monkeypatch.setattr(sys, "argv", ["release", *args])
    code: int | None = None
    try:
        release.cli.main()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: BLE001 - a traceback is what the test is looking for
        out = capsys.readouterr()
        pytest.fail(f"release {' '.join(args)} raised:\n{traceback.format_exc()}\n{out.err}")
    out = capsys.readouterr()
    return code if code is not None else 0, out.err + out.out


def _no_engine(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("the bad input reached the engine")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_answers_in_a_line_and_writes_nothing(bench, case, monkeypatch, capsys):
    write_files(bench, case)
    bench.sandbox.reset_counters()
    code, output = run_release(bench, case, monkeypatch, capsys)
    text = " ".join(output.split())
    assert code != 0, output
    assert bench.sandbox.writes() == 0, bench.sandbox.counters()
    assert "Traceback" not in output, output
    assert text.startswith("error: "), output
    assert len(output.strip().splitlines()) <= 4, output  # a line or a short block
    expect = case.expect.replace("{green}", bench.green)
    assert re.search(expect, text), f"{expect!r} not in:\n{output}"
    for secret in case.hidden:
        assert secret not in output, output


def test_the_table_is_counted() -> None:
    ids = [c.id for c in CASES]
    assert len(set(ids)) == len(ids) >= 40
    summary.report(f"bad-input table: {len(CASES)} cases, each with zero forge writes")


# -- a 403 names the permission, on every write route -------------------------------------------

ROUTES: list[tuple[str, str, Callable[[Any, str], Any]]] = [
    ("create a branch", "Contents: write", lambda r, sha: r.create_git_ref("refs/heads/x", sha)),
    ("move a branch", "Contents: write", lambda r, sha: r.get_git_ref("heads/master").edit(sha)),
    ("create a blob", "Contents: write", lambda r, sha: r.create_git_blob("x", "utf-8")),
    ("merge branches", "Contents: write", lambda r, sha: r.merge("master", sha)),
    (
        "open a pull request",
        "Pull requests: write",
        lambda r, sha: r.create_pull(title="t", body="b", head="staging", base="master"),
    ),
    (
        "report a status",
        "Commit statuses: write",
        lambda r, sha: r.get_commit(sha).create_status("success"),
    ),
    ("report a check run", "Checks: write", lambda r, sha: r.create_check_run("ci", sha)),
    ("change the repository", "Administration: write", lambda r, sha: r.edit(has_wiki=False)),
    (
        "dispatch a workflow",
        "Actions: write",
        lambda r, sha: r.get_workflow("update-ppc.yml").create_dispatch(
            "master", {"ppc": "acme", "release": "r"}, throw=True
        ),
    ),
    (
        "cancel a workflow run",
        "Actions: write",
        lambda r, sha: r._requester.requestJsonAndCheck(
            "POST", f"{r.url}/actions/runs/7000000001/cancel"
        ),
    ),
]


@pytest.mark.parametrize(("what", "permission", "write"), ROUTES, ids=[r[0] for r in ROUTES])
def test_a_token_without_the_permission_is_told_which(bench, what, permission, write):
    from release import forge

    client = forge.connect(bench.sandbox.base_url, READ_ONLY_TOKEN)
    repo = client.get_repo(REPO)
    with pytest.raises(github.GithubException) as caught:
        write(repo, bench.green)
    text = forge.ForgeError.from_error(what, caught.value).args[0]
    assert text.startswith(f"{what} failed: HTTP 403"), text
    assert f"the token needs the permission {permission}" in text, text


# -- `release plan` leaves the forge check to the program ---------------------------------------


def test_plan_decrypts_no_token_and_reads_nothing_before_the_engine(bench, monkeypatch, capsys):
    """A dry run's forge check is the program's first read (the same ConfigError): the
    command line decrypts no token (a `pulumi config get` and a key derivation) and sends
    no request before the engine starts; the program's error still ends it in one line."""
    case = Case("plan", ("plan", "staging", "--date", DATE), "")
    write_files(bench, case)
    runs: list[dict[str, Any]] = []

    def engine(action: str, stack: Any, *args: Any, **kwargs: Any) -> Any:
        runs.append({"action": action, **kwargs})
        return type("Preview", (), {"change_summary": {"create": 7}})()

    def no_secret(*_args: Any) -> None:
        raise AssertionError("release plan decrypted the token")

    monkeypatch.setattr(automation, "secret", no_secret)
    bench.sandbox.reset_counters()
    code, output = run_release(bench, case, monkeypatch, capsys, engine=engine)
    assert code == 0, output
    assert bench.sandbox.reads() + bench.sandbox.writes() == 0, bench.sandbox.counters()
    assert [r["action"] for r in runs] == ["preview"]
    # The program's refusal, as the engine reports it, becomes the command's one line.
    engine_text = (
        "  pulumi:pulumi:Stack (release-train-staging):\n"
        "    error: config release-train:repository = 'acme/nothere': no such repository, or "
        "the token cannot read it: check owner/name\n"
        "    error: an unhandled error occurred: program exited with non-zero exit code: 1\n"
    )
    assert runs[0]["user_error"](engine_text) == (
        "Pulumi.staging.yaml: config release-train:repository = 'acme/nothere': no such "
        "repository, or the token cannot read it: check owner/name"
    )
    token_text = (
        "    error: config release-train:token = '<hidden>': 127.0.0.1:1 refused the token "
        "(401 Bad credentials): set a valid one\n"
    )
    assert runs[0]["user_error"](token_text) == (
        "GITHUB_TOKEN (Pulumi.staging.yaml sets no token): 127.0.0.1:1 refused the token "
        "(401 Bad credentials): set a valid one"
    )
    # Any other failure is the engine's to report, as before.
    other = "    error: config release-train:requiredApprovals = 3: only 1 reviewer(s)\n"
    assert runs[0]["user_error"](other) is None
    assert runs[0]["user_error"]("Traceback (most recent call last):\n  ValueError: x") is None
