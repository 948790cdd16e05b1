"""A small repository for the day-two provider tests, built with git and pushed to the sandbox.

    c1 ─ c2 ─┬─ c3 (fix, Chen) ─ c4 (config) ─ m5 (merge of feature-y) ─ c6   master
             │                 └─ y1 ─────────┘                               feature-y
             ├─ r1 (config, release-only)                                    release/2026-11-19
             └─ x1 (not on master)                                           feature-x
    c1: release/2026-11-12, staging

c4 and r1 change the same line of config.txt, so picking c4 conflicts.
"""

from __future__ import annotations

import base64
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import dill
import pulumi.dynamic
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider

REPO = "acme/service"
RELEASE = "release/2026-11-19"
PREVIOUS = "release/2026-11-12"
ENV = "staging"


@dataclass
class Shas:
    c1: str
    c2: str
    c3: str
    c4: str
    y1: str
    m5: str
    c6: str
    r1: str
    x1: str


def _git(
    work: Path,
    *args: str,
    who: tuple[str, str] = ("Alice Moreau", "alice@acme.example"),
    date: str = "2026-11-20T10:00:00+00:00",
) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": who[0],
        "GIT_AUTHOR_EMAIL": who[1],
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": who[0],
        "GIT_COMMITTER_EMAIL": who[1],
        "GIT_COMMITTER_DATE": date,
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(work.parent),
    }
    out = subprocess.run(
        ["git", *args], cwd=work, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def _commit(work: Path, files: dict[str, str], message: str, **kw: object) -> str:
    for name, text in files.items():
        (work / name).write_text(text)
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", message, **kw)  # type: ignore[arg-type]
    return _git(work, "rev-parse", "HEAD")


def build(sandbox, tmp_path: Path) -> Shas:
    """Create acme/service in the sandbox with the history above; return its SHAs."""
    sandbox.create_repo(REPO)
    work = tmp_path / "work"
    work.mkdir()
    _git(work, "init", "-q", "-b", "master")
    config = "name = service\nlevel = 1\nmode = fast\n"
    c1 = _commit(
        work, {"app.py": "print('v1')\n", "config.txt": config, "README": "svc\n"}, "initial"
    )
    c2 = _commit(work, {"app.py": "print('v2')\n"}, "feature a")
    _git(work, "branch", "release-cut", c2)
    chen = ("Chen Wei", "chen@acme.example")
    c3 = _commit(
        work,
        {"util.py": "def clean(x):\n    return x or ''\n"},
        "fix: handle empty input\n\nEmpty input crashed the parser.",
        who=chen,
        date="2026-11-21T09:30:00+00:00",
    )
    c4 = _commit(
        work, {"config.txt": "name = service\nlevel = 2\nmode = fast\n"}, "config: level 2"
    )
    _git(work, "checkout", "-q", "-b", "feature-y")
    y1 = _commit(work, {"extra.txt": "y\n"}, "feature y")
    _git(work, "checkout", "-q", "master")
    _git(
        work,
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge pull request #7 from acme/feature-y",
        "feature-y",
    )
    m5 = _git(work, "rev-parse", "HEAD")
    c6 = _commit(work, {"docs.txt": "docs\n"}, "docs")
    _git(work, "checkout", "-q", "-b", "feature-x", c2)
    x1 = _commit(work, {"x.txt": "x\n"}, "experiment x")
    _git(work, "checkout", "-q", "-b", "rel", c2)
    r1 = _commit(
        work, {"config.txt": "name = service\nlevel = 9\nmode = fast\n"}, "release-only: level 9"
    )
    url = sandbox.git_url(REPO, sandbox.token)
    _git(
        work,
        "push",
        "-q",
        url,
        "master:refs/heads/master",
        "feature-y:refs/heads/feature-y",
        "feature-x:refs/heads/feature-x",
        f"rel:refs/heads/{RELEASE}",
        f"{c1}:refs/heads/{PREVIOUS}",
        f"{c1}:refs/heads/{ENV}",
    )
    return Shas(c1, c2, c3, c4, y1, m5, c6, r1, x1)


def engine_copy(
    provider: pulumi.dynamic.ResourceProvider, token: str
) -> pulumi.dynamic.ResourceProvider:
    """The provider as the engine gets it: serialized by pulumi.dynamic, restored, configured."""
    restored = dill.loads(base64.b64decode(serialize_provider(provider)))
    restored.configure(ConfigureRequest(Config({"release-train:token": token}, "release-train")))
    return restored


def props(sandbox, **values: object) -> dict[str, object]:
    return {"api_url": sandbox.base_url, "repository": REPO, **values}
