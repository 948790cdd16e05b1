"""A bare git repository driven through the git command line.

Every call runs `git` with a fixed identity and no user or system configuration, so
the sandbox behaves the same on every machine and never touches global git settings.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

FORGE_NAME = "Sandbox Forge"
FORGE_EMAIL = "forge@sandbox.invalid"
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_SEP = "\x1f"
_END = "\x1e"


class GitError(RuntimeError):
    """A git command failed."""

    def __init__(self, args: list[str], code: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(args[:3])} failed ({code}): {stderr.strip()[:500]}")
        self.code = code
        self.stderr = stderr


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    date: str  # ISO-8601 UTC with Z


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: list[str]
    author: Person
    committer: Person
    message: str


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    type: str
    sha: str
    size: int | None
    path: str


@dataclass(frozen=True)
class FileChange:
    filename: str
    status: str  # added, removed, modified, renamed
    additions: int
    deletions: int
    previous_filename: str | None
    patch: str | None
    sha: str | None


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for every git child: no user/system config, fixed forge identity."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in ("GIT_EXEC_PATH",)
    }
    env.update(
        {
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": FORGE_NAME,
            "GIT_AUTHOR_EMAIL": FORGE_EMAIL,
            "GIT_COMMITTER_NAME": FORGE_NAME,
            "GIT_COMMITTER_EMAIL": FORGE_EMAIL,
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
        }
    )
    if extra:
        env.update(extra)
    return env


def iso_utc(raw: str) -> str:
    """Turn git's strict ISO date (with offset) into GitHub's UTC `...Z` form."""
    dt = datetime.fromisoformat(raw)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_date(iso: str) -> str:
    """Turn an ISO-8601 date from a request into a date git accepts."""
    text = iso.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.isoformat()


class GitRepo:
    """One bare repository on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # -- plumbing -------------------------------------------------------------------
    def run(
        self,
        *args: str,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
        cwd: Path | None = None,
        git_dir: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        cmd = ["git", "-c", "core.quotePath=false", "-c", "gc.auto=0"]
        if git_dir:
            cmd += ["--git-dir", str(self.path)]
        cmd += list(args)
        proc = subprocess.run(
            cmd,
            input=input,
            capture_output=True,
            env=git_env(env),
            cwd=cwd,
            check=False,
        )
        if check and proc.returncode != 0:
            raise GitError(list(args), proc.returncode, proc.stderr.decode(errors="replace"))
        return proc

    def out(self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> str:
        return self.run(*args, input=input, env=env).stdout.decode(errors="replace")

    @staticmethod
    def init_bare(path: Path, default_branch: str) -> GitRepo:
        path.parent.mkdir(parents=True, exist_ok=True)
        repo = GitRepo(path)
        repo.run(
            "init",
            "--bare",
            "--quiet",
            f"--initial-branch={default_branch}",
            str(path),
            git_dir=False,
        )
        repo.run("config", "http.receivepack", "true")
        repo.run("config", "receive.denyNonFastForwards", "false")
        return repo

    # -- objects --------------------------------------------------------------------
    def resolve(self, rev: str, kind: str = "commit") -> str | None:
        """Full SHA of `rev` peeled to `kind`, or None when it does not exist."""
        if not rev or rev.startswith("-") or "\n" in rev:
            return None
        proc = self.run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{{kind}}}", check=False
        )
        if proc.returncode != 0:
            return None
        return proc.stdout.decode().strip()

    def object_type(self, sha: str) -> str | None:
        if not sha or sha.startswith("-"):
            return None
        proc = self.run("cat-file", "-t", sha, check=False)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def commit_info(self, sha: str) -> CommitInfo:
        fmt = _SEP.join(["%H", "%T", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%B"])
        raw = self.out("show", "-s", f"--format={fmt}", sha, "--")
        return _parse_commit(raw)

    def commit_infos(self, shas: list[str]) -> list[CommitInfo]:
        if not shas:
            return []
        fmt = _SEP.join(["%H", "%T", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%B"]) + _END
        raw = self.out(
            "show",
            "-s",
            "--no-walk=unsorted",
            f"--format={fmt}",
            "--stdin",
            input="\n".join(shas).encode(),
        )
        return [_parse_commit(chunk.lstrip("\n")) for chunk in raw.split(_END) if chunk.strip()]

    def read_blob(self, sha: str) -> bytes:
        return self.run("cat-file", "blob", sha).stdout

    def write_blob(self, data: bytes) -> str:
        return self.out("hash-object", "-w", "--stdin", input=data).strip()

    def ls_tree(
        self, treeish: str, recursive: bool = False, path: str | None = None
    ) -> list[TreeEntry]:
        args = ["ls-tree", "-l", "-z"]
        if recursive:
            args += ["-r", "-t"]
        args.append(treeish)
        if path is not None:
            args += ["--", path]
        raw = self.out(*args)
        entries = []
        for rec in raw.split("\0"):
            if not rec:
                continue
            meta, name = rec.split("\t", 1)
            mode, typ, sha, size = meta.split()
            entries.append(TreeEntry(mode, typ, sha, None if size == "-" else int(size), name))
        return entries

    def entry_at(self, commit: str, path: str) -> TreeEntry | None:
        path = path.strip("/")
        if not path:
            tree = self.resolve(commit, "tree")
            return TreeEntry("040000", "tree", tree, None, "") if tree else None
        found = self.ls_tree(commit, path=path)
        for entry in found:
            if entry.path == path:
                return entry
        return None

    def write_tree(self, base_tree: str | None, changes: list[dict]) -> str:
        """Build a tree from `base_tree` plus changes (path, mode, type, sha|None)."""
        with tempfile.TemporaryDirectory(prefix="sandbox-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if base_tree:
                self.run("read-tree", base_tree, env=env)
            else:
                self.run("read-tree", "--empty", env=env)
            for change in changes:
                path = change["path"].strip("/")
                if change["sha"] is None or change["type"] == "tree":
                    self.run("rm", "--cached", "-r", "-q", "--ignore-unmatch", "--", path, env=env)
                    if change["sha"] is None:
                        continue
                if change["type"] == "tree":
                    self.run("read-tree", f"--prefix={path}/", change["sha"], env=env)
                else:
                    self.run("rm", "--cached", "-r", "-q", "--ignore-unmatch", "--", path, env=env)
                    self.run(
                        "update-index",
                        "--add",
                        "--cacheinfo",
                        f"{change['mode']},{change['sha']},{path}",
                        env=env,
                    )
            return self.out("write-tree", env=env).strip()

    def commit_tree(
        self,
        tree: str,
        parents: list[str],
        message: str,
        author: Person | None = None,
        committer: Person | None = None,
    ) -> str:
        env: dict[str, str] = {}
        if author is not None:
            env.update(GIT_AUTHOR_NAME=author.name, GIT_AUTHOR_EMAIL=author.email)
            if author.date:
                env["GIT_AUTHOR_DATE"] = git_date(author.date)
        if committer is not None:
            env.update(GIT_COMMITTER_NAME=committer.name, GIT_COMMITTER_EMAIL=committer.email)
            if committer.date:
                env["GIT_COMMITTER_DATE"] = git_date(committer.date)
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.out(*args, input=message.encode(), env=env).strip()

    # -- refs -----------------------------------------------------------------------
    def refs(self, prefix: str = "refs/") -> dict[str, tuple[str, str]]:
        """ref name -> (object sha, object type), in ref-name order."""
        raw = self.out("for-each-ref", "--format=%(refname) %(objectname) %(objecttype)", prefix)
        result: dict[str, tuple[str, str]] = {}
        for line in raw.splitlines():
            name, sha, typ = line.split(" ")
            result[name] = (sha, typ)
        return result

    def ref_sha(self, ref: str) -> str | None:
        proc = self.run("rev-parse", "--verify", "--quiet", ref, check=False)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def valid_ref_name(self, ref: str) -> bool:
        return self.run("check-ref-format", ref, check=False, git_dir=False).returncode == 0

    def update_ref(self, ref: str, new: str, old: str | None) -> None:
        """Atomically move `ref` to `new` if it still points at `old` ("" = must not exist)."""
        self.run("update-ref", ref, new, old if old is not None else "0" * 40)

    def delete_ref(self, ref: str, old: str) -> None:
        self.run("update-ref", "-d", ref, old)

    def head_branch(self) -> str:
        return self.out("symbolic-ref", "--short", "HEAD").strip()

    def set_head_branch(self, branch: str) -> None:
        self.run("symbolic-ref", "HEAD", f"refs/heads/{branch}")

    # -- history --------------------------------------------------------------------
    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return (
            self.run("merge-base", "--is-ancestor", ancestor, descendant, check=False).returncode
            == 0
        )

    def merge_base(self, a: str, b: str) -> str | None:
        proc = self.run("merge-base", a, b, check=False)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def rev_list(self, *args: str) -> list[str]:
        return self.out("rev-list", *args).split()

    def count(self, spec: str) -> int:
        return int(self.out("rev-list", "--count", spec).strip())

    def merge_tree(self, ours: str, theirs: str) -> tuple[str | None, list[str]]:
        """Real three-way merge without a work tree: (tree sha or None on conflict, conflicted paths)."""
        proc = self.run(
            "merge-tree",
            "--write-tree",
            "--name-only",
            "-z",
            "--no-messages",
            ours,
            theirs,
            check=False,
        )
        if proc.returncode not in (0, 1):
            raise GitError(["merge-tree"], proc.returncode, proc.stderr.decode(errors="replace"))
        parts = proc.stdout.decode(errors="replace").split("\0")
        tree = parts[0].strip()
        if proc.returncode == 0:
            return tree, []
        return None, sorted({p for p in parts[1:] if p})

    def diff_files(self, base: str | None, head: str, with_patch: bool = True) -> list[FileChange]:
        """Files changed from `base` (None = empty tree) to `head`, GitHub style."""
        old = base if base else EMPTY_TREE
        numstat = self.out("diff-tree", "-r", "-M", "--numstat", "-z", old, head)
        status_raw = self.out("diff-tree", "-r", "-M", "--name-status", "-z", old, head)
        stats = _parse_numstat(numstat)
        changes: list[FileChange] = []
        tokens = [t for t in status_raw.split("\0")]
        i = 0
        while i < len(tokens) and tokens[i]:
            code = tokens[i]
            if code.startswith("R") or code.startswith("C"):
                prev, name = tokens[i + 1], tokens[i + 2]
                i += 3
            else:
                prev, name = None, tokens[i + 1]
                i += 2
            status = {
                "A": "added",
                "D": "removed",
                "M": "modified",
                "R": "renamed",
                "C": "copied",
                "T": "changed",
            }.get(code[0], "modified")
            add, dele = stats.get(name, (0, 0))
            patch = None
            if with_patch:
                paths = [prev, name] if prev else [name]
                text = self.out("diff", "--no-color", "-M", old, head, "--", *paths)
                marker = text.find("\n@@")
                patch = text[marker + 1 :] if marker >= 0 else ""
                patch = patch.rstrip("\n")
            sha = None
            if status != "removed":
                entry = self.entry_at(head, name)
                sha = entry.sha if entry else None
            changes.append(FileChange(name, status, add, dele, prev, patch, sha))
        return changes

    # -- work trees for replaying commits -----------------------------------------
    def cherry_pick_onto(self, onto: str, commits: list[str], committer: Person) -> str | None:
        """Replay `commits` on `onto` (rebase merge). None when a commit does not apply."""
        with tempfile.TemporaryDirectory(prefix="sandbox-rebase-") as tmp:
            work = Path(tmp) / "wt"
            self.run("worktree", "add", "--detach", "--quiet", str(work), onto)
            try:
                env = {
                    "GIT_COMMITTER_NAME": committer.name,
                    "GIT_COMMITTER_EMAIL": committer.email,
                    "GIT_COMMITTER_DATE": git_date(committer.date),
                }
                for sha in commits:
                    proc = self.run(
                        "-C",
                        str(work),
                        "cherry-pick",
                        "--allow-empty",
                        "--keep-redundant-commits",
                        sha,
                        env=env,
                        check=False,
                        git_dir=False,
                    )
                    if proc.returncode != 0:
                        self.run(
                            "-C", str(work), "cherry-pick", "--abort", check=False, git_dir=False
                        )
                        return None
                return (
                    self.run("-C", str(work), "rev-parse", "HEAD", git_dir=False)
                    .stdout.decode()
                    .strip()
                )
            finally:
                self.run("worktree", "remove", "--force", str(work), check=False)
                self.run("worktree", "prune", check=False)


def _parse_commit(raw: str) -> CommitInfo:
    fields = raw.split(_SEP, 9)
    sha, tree, parents, an, ae, ad, cn, ce, cd, body = fields
    return CommitInfo(
        sha=sha.strip(),
        tree=tree,
        parents=parents.split(),
        author=Person(an, ae, iso_utc(ad)),
        committer=Person(cn, ce, iso_utc(cd)),
        message=body.rstrip("\n"),
    )


def _parse_numstat(raw: str) -> dict[str, tuple[int, int]]:
    stats: dict[str, tuple[int, int]] = {}
    tokens = raw.split("\0")
    i = 0
    while i < len(tokens) and tokens[i]:
        head = tokens[i]
        add, dele, path = head.split("\t", 2)
        if path == "":  # rename: next two tokens are old and new path
            path = tokens[i + 2]
            i += 3
        else:
            i += 1
        stats[path] = (int(add) if add != "-" else 0, int(dele) if dele != "-" else 0)
    return stats
