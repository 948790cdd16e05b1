"""First use as the README tells it: the "Using it" block run line by line on a fresh backend
against the sandbox, with the `release` console script of an editable install; and `release
init` refusing a token that lacks permissions, before it creates anything."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from devtools.demo import act_as_ci_and_partner, prepare_project
from release.cli.common import GATE_WAIT_EXIT_CODE
from release.engine import automation
from tests.e2e.harness import ROOT, base_env, run_release

pytestmark = pytest.mark.e2e
GATE = "needs 1 more approval"


def using_it_block() -> list[str]:
    """The commands of the README's "Using it" block, in order."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Using it\n") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the README's Using it section has a bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def fresh_checkout(tmp_path: Path, api_url: str) -> Path:
    """A copy of the project as a user has it: stack files pointed at the sandbox (the static
    settings a user edits), and a virtualenv where `pip install -e .` put `release`."""
    folder = prepare_project(automation.PROJECT_DIR, tmp_path / "checkout")
    (folder / ".venv").unlink()
    for name in ("scripts", "tools"):
        (folder / name).symlink_to(ROOT / name)
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy2(ROOT / name, folder / name)
    for path in folder.glob("Pulumi.*.yaml"):
        data = yaml.safe_load(path.read_text())
        data["config"]["release-train:apiUrl"] = api_url
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    # The virtualenv: the test's packages (a .pth line), and this checkout installed editable,
    # which writes the `release` console script as `make venv` does.
    venv = folder / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    (site / "shared.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    build = tmp_path / "build"
    shutil.copytree(
        ROOT / "release", build / "release", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy2(ROOT / "pyproject.toml", build / "pyproject.toml")
    shutil.copy2(ROOT / "README.md", build / "README.md")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--quiet", "--no-deps", str(build)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    assert (venv / "bin" / "release").exists()
    return folder


def run_line(
    folder: Path, exports: list[str], line: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    script = "\n".join(["set -euo pipefail", *exports, line])
    return subprocess.run(
        ["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )


def test_the_readme_using_it_block_runs_verbatim_on_a_fresh_backend(
    engine, pulumi_home, seeded_sandbox, tmp_path
):
    sb = seeded_sandbox
    folder = fresh_checkout(tmp_path, sb.base_url)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # `make venv pulumi` is what `make test` itself ran before this test: here it only
    # checks it is asked for those two targets.
    (bin_dir / "make").write_text('#!/bin/sh\n[ "$*" = "venv pulumi" ] || exit 9\n')
    (bin_dir / "make").chmod(0o755)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PULUMI_", "RELEASE_TRAIN_")) and k != "VIRTUAL_ENV"
    }
    env.update(base_env(pulumi_home))
    env["PATH"] = f"{bin_dir}:/usr/bin:/bin"
    env["GITHUB_TOKEN"] = sb.token
    env["COLUMNS"] = "200"
    exports: list[str] = []
    transcript: list[str] = []
    for line in using_it_block():
        command = line.split("#")[0].strip() if not line.startswith("export") else line
        if line.startswith("export"):
            exports.append(line)
            continue
        out = run_line(folder, exports, command, env)
        transcript.append(f"$ {command} -> {out.returncode}\n{out.stdout}{out.stderr}")
        if command == "release promote staging" and out.returncode == GATE_WAIT_EXIT_CODE:
            assert GATE in out.stdout + out.stderr, "\n".join(transcript)
            act_as_ci_and_partner(sb, sb.reviewer_token, "staging", ["ci/travis", "test"])
            out = run_line(folder, exports, command, env)  # "run it again once ... approved"
            transcript.append(f"$ {command} -> {out.returncode}\n{out.stdout}{out.stderr}")
        assert out.returncode == 0, "\n".join(transcript)
    text = "\n".join(transcript)
    assert "token stored as a secret" in text and "next: `release promote testing`" in text
    assert "staging is up to date" in text
    assert (folder / ".state" / ".pulumi" / "stacks" / "release-train" / "staging.json").exists()
    staging = (folder / "Pulumi.staging.yaml").read_text()
    assert "release-train:token:" in staging and "secure:" in staging
    assert sb.token not in staging and sb.token not in text


def test_init_names_the_missing_permissions_and_creates_nothing(
    engine, pulumi_home, seeded_sandbox, tmp_path, monkeypatch
):
    sb = seeded_sandbox
    folder = prepare_project(automation.PROJECT_DIR, tmp_path / "checkout")
    for path in folder.glob("Pulumi.*.yaml"):
        data = yaml.safe_load(path.read_text())
        data["config"]["release-train:apiUrl"] = sb.base_url
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    before = {p.name: p.read_text() for p in folder.glob("Pulumi.*.yaml")}
    env = {
        **os.environ,
        **base_env(pulumi_home),
        "PATH": f"{engine.bin_dir}:{os.environ['PATH']}",
        "RELEASE_TRAIN_PROJECT_DIR": str(folder),
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
        "COLUMNS": "200",
    }

    def init(token: str) -> subprocess.CompletedProcess[str]:
        return run_release({**env, "GITHUB_TOKEN": token}, "init", timeout=300)

    sb.reset_counters()
    read_only = init(sb.read_only_token)
    text = " ".join((read_only.stdout + read_only.stderr).split())
    assert read_only.returncode == 1, text
    assert (
        "acme/service: the token lacks Contents: read and write, Pull requests: read and write"
        in text
    )
    assert "nothing was created" in text and "Traceback" not in text
    unknown = init("not-a-token")
    assert unknown.returncode == 1
    assert "the token is not valid (401 Bad credentials)" in " ".join(unknown.stderr.split())
    assert "not-a-token" not in unknown.stdout + unknown.stderr
    assert sb.writes() == 0
    assert {p.name: p.read_text() for p in folder.glob("Pulumi.*.yaml")} == before
    assert not (tmp_path / "state" / ".pulumi" / "stacks").exists()

    ok = init(sb.token)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "stack staging: ready" in ok.stdout
    assert sorted(p.stem for p in (tmp_path / "state" / ".pulumi" / "stacks" / "release-train").glob("*.json")) == [
        "production", "staging", "testing",
    ]  # fmt: skip
