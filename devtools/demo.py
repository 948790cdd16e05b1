"""`make demo`: a whole weekly release against the local sandbox forge.

It seeds the sandbox with `acme/service`, copies the project's stack files into a work
folder (so the pins `promote` writes do not touch the checkout), and runs the commands an
oncall would, printing each one: testing finds the green commit; staging is planned, cut and
refused until the oncall partner approves; production likewise (with --force, as staging's
release has not soaked for days), its PPCs updated in waves in the same `up`; then
`release status` and `release ppc status`.
Where the process has a person act (CI reporting, the partner approving), the demo plays
them through the sandbox's API, with the partner's own token.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from release import forge
from release.cli.common import GATE_WAIT_EXIT_CODE
from release.engine import automation
from sandbox import Sandbox
from sandbox.seed import REPO, seed

PROJECT_FILES = ("Pulumi.yaml", "__main__.py")
LINKS = ("release", ".venv")
PARTNER = "oncall-partner"


def prepare_project(source: Path, target: Path) -> Path:
    """A copy of the program's project folder whose stack files the demo may change."""
    target.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy2(source / name, target / name)
    for path in source.glob("Pulumi.*.yaml"):
        shutil.copy2(path, target / path.name)
    for name in LINKS:
        link = target / name
        if not link.exists():
            link.symlink_to(source / name)
    return target


def point_at(project: automation.Project, api_url: str, token: str) -> None:
    """Point every stack of `project` at the sandbox, the token stored as a secret."""
    for name in project.stack_names():
        automation.pin(project, name, {"apiUrl": api_url})
        automation.set_secret(project, name, "token", token)


def release_cmd(project_dir: Path, *args: str, env: dict[str, str]) -> int:
    """Run `python -m release ARGS` as a user would, showing the command."""
    print(f"\n$ release {' '.join(args)}", flush=True)
    return subprocess.call(
        [sys.executable, "-m", "release", *args], cwd=automation.PROJECT_DIR, env=env
    )


def act_as_ci_and_partner(
    sandbox: Sandbox, partner_token: str, base: str, checks: list[str]
) -> int:
    """Report the required checks green on each open release or rollback PR into `base`,
    and approve it as the oncall partner; returns the newest PR's number (0: none open)."""
    repo = forge.connect(sandbox.base_url, partner_token).get_repo(REPO)
    pulls = [
        p
        for p in repo.get_pulls(state="open", base=base)
        if p.head.ref.startswith(("release/", "rollback/"))
    ]
    if not pulls:
        print(f"(no open release pull request into {base})")
        return 0
    for pull in sorted(pulls, key=lambda p: p.number):
        head = pull.head.sha
        commit = repo.get_commit(head)
        seen = {s.context: s.state for s in commit.get_combined_status().statuses}
        for context in checks:
            if seen.get(context) != "success":
                print(f"[CI] reports {context}=success on {head[:12]}")
                commit.create_status("success", context=context, description="demo CI")
        runs = {r.name: r.conclusion for r in commit.get_check_runs()}
        for name in checks:
            if name in runs and runs[name] != "success":
                print(f"[CI] check run {name} completed: success on {head[:12]}")
                repo.create_check_run(name, head, status="completed", conclusion="success")
        print(f"[{PARTNER}] approves pull request #{pull.number} at {head[:12]}")
        pull.create_review(commit=commit, body="LGTM, oncall partner", event="APPROVE")
    return max(p.number for p in pulls)


def run_demo(port: int = 8750, workdir: str = ".demo") -> int:
    """Run the demo; returns the process exit code."""
    root = automation.PROJECT_DIR
    work = (root / workdir).resolve()
    if work.exists():
        shutil.rmtree(work)
    forge_dir = work / "forge"
    forge_dir.mkdir(parents=True)
    print(f"Seeding the sandbox forge with {REPO} in {forge_dir} ...", flush=True)
    seed(forge_dir)
    bot_token, partner_token = secrets.token_hex(20), secrets.token_hex(20)
    sandbox = Sandbox(forge_dir, tokens={bot_token: "release-bot", partner_token: PARTNER})
    sandbox.start(port=port)
    print(f"Sandbox forge: {sandbox.base_url} (git: {sandbox.git_url(REPO)})", flush=True)
    try:
        project_dir = prepare_project(root, work / "project" / "release-train")
        project = automation.Project(directory=project_dir, backend_url=f"file://{work / 'state'}")
        env = {
            **os.environ,
            "RELEASE_TRAIN_PROJECT_DIR": str(project_dir),
            "PULUMI_BACKEND_URL": project.backend(),
        }
        env.setdefault("PULUMI_CONFIG_PASSPHRASE", automation.SANDBOX_PASSPHRASE)
        project.env = {"PULUMI_CONFIG_PASSPHRASE": env["PULUMI_CONFIG_PASSPHRASE"]}
        point_at(project, sandbox.base_url, bot_token)
        checks = list(project.stack_file("staging").get("requiredChecks") or [])
        steps: list[tuple[str, ...]] = [
            ("promote", "testing"),
            ("plan", "staging"),
        ]
        for step in steps:
            if release_cmd(project_dir, *step, env=env) != 0:
                return 1
        for environment in ("staging", "production"):
            force: tuple[str, ...] = ()
            if environment == "production":
                if release_cmd(project_dir, "plan", environment, env=env) != 0:
                    return 1
                if release_cmd(project_dir, "promote", environment, env=env) != 0:
                    print(
                        "\n(The demo runs a week in minutes: staging's release has not soaked "
                        "the minimum days yet, so production is promoted with --force.)"
                    )
                    force = ("--force", "--reason", "the demo runs a week in minutes")
            code = release_cmd(project_dir, "promote", environment, *force, env=env)
            if code == 0:
                continue
            if code != GATE_WAIT_EXIT_CODE:  # a failure, not a gate wait
                return 1
            print(f"\n(The merge into {environment} waits for its gates, as it should.)")
            act_as_ci_and_partner(sandbox, partner_token, environment, checks)
            if release_cmd(project_dir, "promote", environment, *force, env=env) != 0:
                return 1
        # After production's merge the same `up` ran the smoke test and the PPC waves.
        release_cmd(project_dir, "status", env=env)
        release_cmd(project_dir, "ppc", "status", env=env)
        print(f"\nDone. State: {work / 'state'}; stack files: {project_dir}")
        return 0
    finally:
        sandbox.stop()


def main(argv: list[str] | None = None) -> int:
    """`python -m devtools.demo [--port N] [--workdir DIR]`."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__)
    parser.add_argument("--port", type=int, default=8750, help="port of the sandbox forge")
    parser.add_argument("--workdir", default=".demo", help="where the demo keeps its files")
    args = parser.parse_args(argv)
    return run_demo(port=args.port, workdir=args.workdir)


if __name__ == "__main__":
    sys.exit(main())
