"""What the forge accepts from a client: names, refs, paths, JSON and field lengths.

Every check is pure (no git, no disk) so it runs before anything reaches `git` or the data
folder. The rules follow GitHub's:

- a login (owner) is 1-39 letters, digits or single inner hyphens;
- a repository name is 1-100 letters, digits, `.`, `_` or `-`, and never `.` or `..`;
- a ref name follows `git check-ref-format` (no `..`, no control characters, no component
  starting with `.` or ending with `.lock`, none of `~^:?*[\\` or space, no `@{`, ...);
- a path inside a repository has no empty, `.`, `..` or `.git` component and no control
  character;
- a JSON body nests at most `MAX_JSON_DEPTH` levels and carries no NUL character and no
  unpaired surrogate (`\ud800`), which neither git nor UTF-8 can store;
- text fields stay within GitHub's documented lengths (`LIMITS`).
"""

from __future__ import annotations

import re
from typing import Any

LOGIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
REPO_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")  # NUL, or half of a UTF-16 pair
_REF_FORBIDDEN_RE = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
MAX_REF_BYTES = 1024
MAX_PATH_BYTES = 4096
MAX_JSON_DEPTH = 32

# GitHub's documented or answered limits, in characters (field -> maximum).
STATUS_DESCRIPTION = 140  # "description is too long (maximum is 140 characters)"
PULL_TITLE = 256  # "title is too long (maximum is 256 characters)"
ISSUE_BODY = 65536  # PR body, issue comment body, review body
CHECK_RUN_TEXT = 65535  # check run output.summary and output.text (OpenAPI maxLength)
DISPATCH_EVENT_TYPE = 100  # repository dispatch event_type (OpenAPI maxLength)
DISPATCH_PAYLOAD_KEYS = 10  # repository dispatch client_payload (OpenAPI maxProperties)
DISPATCH_PAYLOAD_BYTES = 65536  # "the total size of the JSON payload must be less than 64KB"
WORKFLOW_INPUTS = 25  # workflow dispatch inputs (OpenAPI maxProperties)


def has_control(text: str) -> bool:
    """True when `text` holds an ASCII control character (NUL, CR, LF, TAB, DEL ...)."""
    return _CONTROL_RE.search(text) is not None


def valid_login(name: str) -> bool:
    return bool(LOGIN_RE.match(name))


def valid_repo_name(name: str) -> bool:
    return bool(REPO_NAME_RE.match(name)) and name not in (".", "..")


def valid_full_name(full_name: str) -> bool:
    owner, sep, name = full_name.partition("/")
    return bool(sep) and valid_login(owner) and valid_repo_name(name)


def valid_ref_name(ref: str) -> bool:
    """`git check-ref-format` without needing git: a branch name or a full `refs/...` name."""
    if not ref or len(ref.encode("utf-8", "surrogatepass")) > MAX_REF_BYTES:
        return False
    if ref == "@" or ".." in ref or "@{" in ref or "//" in ref:
        return False
    if _REF_FORBIDDEN_RE.search(ref):
        return False
    if ref.startswith("/") or ref.endswith(("/", ".")):
        return False
    return all(
        part and not part.startswith(".") and not part.endswith(".lock") for part in ref.split("/")
    )


def valid_branch_name(name: str) -> bool:
    """A branch name GitHub would accept: a valid ref once under refs/heads/, not `-x`."""
    return not name.startswith("-") and valid_ref_name(f"refs/heads/{name}")


def valid_repo_path(path: str) -> bool:
    """A path inside a repository (contents, trees): no `.`, `..`, `.git` or empty part."""
    if not path or has_control(path) or len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return False
    return all(
        part and part not in (".", "..") and part.lower() != ".git" for part in path.split("/")
    )


def valid_revision(rev: str) -> bool:
    """A SHA, branch, tag or full ref as a URL names it: no control character, not `-x`."""
    return (
        bool(rev) and not has_control(rev) and not rev.startswith("-") and len(rev) <= MAX_REF_BYTES
    )


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when `value` nests arrays/objects deeper than `limit` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def unstorable(text: str) -> bool:
    """True when `text` holds a NUL or an unpaired surrogate: neither git nor UTF-8 keeps it."""
    return _UNSTORABLE_RE.search(text) is not None


def find_unstorable(value: Any, where: str = "") -> str | None:
    """The JSON path of the first string (key or value) that `unstorable` refuses, else None."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if unstorable(node):
                return path or "body"
        elif isinstance(node, dict):
            for key, child in node.items():
                child_path = f"{path}.{key}" if path else str(key)
                if unstorable(key):
                    return _UNSTORABLE_RE.sub("?", child_path)
                stack.append((child, child_path))
        elif isinstance(node, list):
            stack.extend((child, f"{path}.{i}" if path else str(i)) for i, child in enumerate(node))
    return None


def valid_identity(text: str) -> bool:
    """A commit author's or committer's name or e-mail as git records it: something left once
    git strips its separators, and nothing that could break the commit header."""
    if has_control(text) or "<" in text or ">" in text:
        return False
    return bool(text.strip(" .,:;\"'\\"))


def too_long(value: Any, limit: int) -> bool:
    return isinstance(value, str) and len(value) > limit
