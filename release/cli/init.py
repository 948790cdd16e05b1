"""`release init`: the train's first use on a fresh state backend, in one command.

It checks every stack file, checks that the forge token reaches each repository with the
permissions the process needs (naming any that are missing; nothing is created then),
creates every stack (`Pulumi.<stack>.yaml`) on the backend, stores the token in each as a
Pulumi secret (encrypted with the passphrase), and says what to run next. Run again, it
changes nothing but the stored token.

The token comes from GITHUB_TOKEN, else it is asked for (hidden) on a terminal; it is never
printed, and never put on a command line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import typer

from release.cli.common import check_env, console, fail, project
from release.engine import automation

app = typer.Typer()


@dataclass
class Access:
    """What a token may do on one repository, as the forge reports it."""

    repository: str
    reached: bool = True
    problem: str | None = None
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reached and not self.missing


def _status(err: Exception) -> int | None:
    return getattr(err, "status", None)


def check_access(api_url: str, repository: str, token: str, admin: bool = False) -> Access:
    """Whether `token` reaches `repository` with what the process needs; reads only.

    Contents and pull requests read/write (the repository's `permissions.push`; a classic
    token also needs the `repo` scope), commit statuses and checks read (read here), and
    with `manageProtection` Administration read/write (`permissions.admin`).
    """
    from release import forge  # PyGithub's client: for `init` only

    access = Access(repository)
    client = forge.connect(api_url, token, timeout=20)
    try:
        repo = client.get_repo(repository)
        permissions = repo.permissions
    except Exception as err:  # noqa: BLE001 - any failure to read is reported, not raised
        access.reached = False
        status = _status(err)
        if status == 401:
            access.problem = "the token is not valid (401 Bad credentials)"
        elif status == 404:
            access.problem = (
                f"the token does not reach {repository} (404: no such repository, or no access)"
            )
        else:
            access.problem = f"{repository} could not be read: {forge.redact(str(err), [token])}"
        return access
    if not (permissions and permissions.push):
        access.missing += ["Contents: read and write", "Pull requests: read and write"]
    if admin and not (permissions and permissions.admin):
        access.missing.append("Administration: read and write (manageProtection)")
    scopes = client.oauth_scopes  # a classic token's scopes; None for a fine-grained one
    if scopes is not None and "repo" not in scopes:
        if not ("public_repo" in scopes and not repo.private):
            access.missing.append("the `repo` scope (classic token)")
    reads: list[tuple[str, Callable[[], Any]]] = [
        ("Pull requests: read", lambda: repo.get_pulls(state="open").get_page(0)),
        ("Commit statuses: read", lambda: head.get_combined_status().state),
        ("Checks: read", lambda: head.get_check_runs().totalCount),
    ]
    try:
        head = repo.get_commit(repo.default_branch)
    except Exception as err:  # noqa: BLE001
        access.missing.append(f"Contents: read ({_status(err) or 'error'} on the default branch)")
        return access
    for name, read in reads:
        try:
            read()
        except Exception as err:  # noqa: BLE001
            if _status(err) in (403, 404):
                access.missing.append(name)
            else:
                raise
    return access


def read_token() -> str:
    """GITHUB_TOKEN, else asked for on a terminal (not echoed)."""
    token = os.environ.get("GITHUB_TOKEN", "").strip()
    if token:
        return token
    if not sys.stdin.isatty():
        fail(
            "no token: export GITHUB_TOKEN (see README, Token permissions), then run `release init`"
        )
    return str(typer.prompt("Forge token (not shown)", hide_input=True)).strip()


@app.command()
def init() -> None:
    """First use: check the token's access, create every stack, store the token as a secret."""
    proj = project()
    names = proj.stack_names()
    if not names:
        fail(f"no Pulumi.<stack>.yaml in {proj.directory}: run `release` from the project folder")
    settings = {name: check_env(proj, name) for name in names}
    token = read_token()
    if not token:
        fail("the token is empty: export GITHUB_TOKEN, then run `release init`")
    manages = {
        (settings[n].api_url, settings[n].repository)
        for n in names
        if str(proj.stack_file(n).get("manageProtection", "false")).lower() == "true"
    }
    refused = []
    for api_url, repository in sorted({(s.api_url, s.repository) for s in settings.values()}):
        access = check_access(api_url, repository, token, (api_url, repository) in manages)
        if access.ok:
            console.print(
                f"token: reaches {repository} with the permissions needed", highlight=False
            )
        else:
            refused.append(access)
    if refused:
        lines = [
            f"{a.repository}: {a.problem}"
            if not a.reached
            else f"{a.repository}: the token lacks {', '.join(a.missing)}"
            for a in refused
        ]
        fail(
            "\n".join(lines) + "\nGive the token these permissions (README: Token permissions) "
            "and run `release init` again; nothing was created."
        )
    backend = proj.backend()
    for name in names:
        automation.set_secret(proj, name, "token", token)
        console.print(f"stack {name}: ready on {_shown(backend)}, token stored as a secret")
    first = names[0]
    nxt = next((n for n in names if proj.stack_file(n).get("promotesFrom") == first), None)
    steps = [f"release promote {first}"] + (
        [f"release plan {nxt}", f"release promote {nxt}"] if nxt else []
    )
    console.print("next: " + ", then ".join(f"`{s}`" for s in steps), highlight=False)


def _shown(url: str) -> str:
    """The backend URL without credentials."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        rest = "****@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"
