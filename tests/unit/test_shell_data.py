"""Shell metacharacters in forge text and config execute nothing.

What reaches a shell: a PPC's job command (`ppcCommand`, run by pulumi-command as
`/bin/sh -c COMMAND`) and its environment. Its placeholders {ppc}, {release}, {commit},
{wave} and {state} are shell-quoted by `render_command`; a PPC's vars, the component pins
(read from the repository's files) and the release and commit reach it as environment
variables, never as command text. Commit messages, authors and branch names reach the
sandbox forge's git through argv, stdin and the environment, never a shell.

Each test runs the real command the way the engine does, with values that would run
`touch PWNED` if any were interpreted, and checks that the marker does not exist and that
every value arrived as typed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from release.ppc_status import read_ppc_state
from release.rules.ppcs import (
    Ppc,
    PpcConfigError,
    parse_ppcs,
    ppc_environment,
    render_command,
    validate_template,
)
from sandbox.gitrepo import GitRepo, Person
from tests.support import figures

ROOT = Path(__file__).resolve().parents[2]
SHA = "0123456789abcdef0123456789abcdef01234567"


def attacks(marker: Path) -> list[str]:
    """Values that create `marker` if a shell interprets them."""
    m = str(marker)
    return [
        f"$(touch {m})",
        f"`touch {m}`",
        f"x; touch {m}",
        f"x && touch {m} #",
        f"x | touch {m}",
        f"' ; touch {m} ; '",
        f'" ; touch {m} ; "',
        f"x\ntouch {m}",
        f"$(IFS=,;touch${{IFS}}{m})",
        f"> {m}",
        "*",
        "~root",
        "$HOME",
        "-rf",
    ]


def sh(command: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `command` as pulumi-command's local Command does: /bin/sh -c, in `cwd`."""
    base = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["/bin/sh", "-c", command],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode(errors="replace")
    )


ECHO = (
    "printf '%s\\n' {ppc} {release} {commit} {wave} {state} "
    '"$REGION" "$RELEASE_TRAIN_RELEASE" "$RELEASE_TRAIN_COMMIT" "$PIN_SDK"'
)


def test_placeholders_vars_and_pins_reach_the_job_as_typed(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    for value in attacks(marker):
        ppc = Ppc("acme", 1, {"REGION": value})
        command = render_command(ECHO, value, value, value, 1, value)
        env = ppc_environment(ppc, value, value, {"sdk": value})
        done = sh(command, {k: str(v) for k, v in env.items()}, tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout == "\n".join([value] * 3 + ["1"] + [value] * 5) + "\n"
        assert not marker.exists(), value
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@figures.counted(
    settings(
        max_examples=60,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    ),
    st.text(st.characters(exclude_characters="\x00", codec="utf-8"), min_size=1),
)
def test_any_value_reaches_the_job_as_typed(tmp_path: Path, value: str) -> None:
    command = render_command(ECHO, value, value, value, 2, value)
    env = ppc_environment(Ppc("acme", 2, {"REGION": value}), value, value, {"sdk": value})
    done = sh(command, {k: str(v) for k, v in env.items()}, tmp_path)
    assert done.stdout == "\n".join([value] * 3 + ["2"] + [value] * 5) + "\n"
    assert list(tmp_path.iterdir()) == []


def test_the_sandbox_job_of_the_example_stack_keeps_a_hostile_state_folder(tmp_path) -> None:
    marker = tmp_path / "PWNED"
    stack = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())["config"]
    template = stack["release-train:ppcCommand"]
    state = f"state $(touch {marker}); `touch {marker}`"
    ppc = parse_ppcs([{"name": "globex", "wave": 1, "vars": {"REGION": f"eu; touch {marker}"}}])
    command = render_command(template, "globex", "release/2026-11-26", SHA, 1, state)
    env = ppc_environment(ppc[0], "release/2026-11-26", SHA, {"sdk": f"v1$(touch {marker})"})
    done = sh(command, {k: str(v) for k, v in env.items()}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    record = read_ppc_state(tmp_path / state)["globex"]
    assert (record.release, record.commit) == ("release/2026-11-26", SHA)


@pytest.mark.parametrize(
    "template",
    [
        "deploy --release '{release}'",
        'deploy --release "{release}"',
        'deploy --release "v={release}"',
        "deploy --release \\{release}",
        "deploy --ppc {ppc} --release '--{commit}'",
    ],
)
def test_a_placeholder_quoted_again_is_refused(template: str) -> None:
    # Quoted again, the shell-quoting of the value is undone: "'$(touch x)'" runs it.
    with pytest.raises(PpcConfigError, match="inside shell quotes or after a backslash"):
        validate_template(template)


@pytest.mark.parametrize(
    "template",
    [
        "deploy --release {release}",
        "deploy --note 'it''s' --release {release} \"--x\" {commit}",
        'deploy --msg "a \\" b" {ppc}',
        "deploy \\\\{ppc}",
        "deploy {{literal}} {ppc}",
    ],
)
def test_a_bare_placeholder_after_closed_quotes_is_accepted(template: str) -> None:
    validate_template(template)


def test_commit_messages_authors_and_branch_names_reach_git_as_data(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    repo = GitRepo.init_bare(tmp_path / "repo.git", "master")
    blob = repo.write_blob(b"hello\n")
    change = {"path": "README.md", "mode": "100644", "type": "blob", "sha": blob}
    tree = repo.write_tree(None, [change])
    head = None
    for index, value in enumerate(attacks(marker)):
        name = value.replace("\n", " ").replace("<", "").replace(">", "")
        author = Person(name, "a@b.c", "2026-11-26T10:00:00Z")
        sha = repo.commit_tree(tree, [head] if head else [], f"{value}\n\n{value}", author)
        info = repo.commit_info(sha)
        assert info.message.rstrip("\n") == f"{value}\n\n{value}"
        assert info.author.name and info.author.name in name  # git trims ";. '\" ends
        branch = f"refs/heads/release/x{index}$(touch {marker})"
        if repo.valid_ref_name(branch):
            repo.update_ref(branch, sha, None)
            assert repo.ref_sha(branch) == sha
        head = sha
    assert not marker.exists()
