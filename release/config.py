"""Stack configuration: read, validate, and turn into plain settings.

Every key lives in the `release-train:` namespace of `Pulumi.<stack>.yaml`; `Pulumi.yaml`
documents each with a type, a description and a default. Validation is pure and runs before
any resource is registered, so a typo stops the run with an error that names the key, the
value and the fix, and nothing is written to the forge.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

NAMESPACE = "release-train"
DEFAULT_API_URL = "https://api.github.com"
RELEASE_PREFIX = "release/"
# Per-run overrides of the pinned `commit` and `releaseDate` (`release plan` sets them, so a
# dry run shows the next promotion without touching the stack's files).
COMMIT_OVERRIDE = "RELEASE_TRAIN_COMMIT"
DATE_OVERRIDE = "RELEASE_TRAIN_RELEASE_DATE"

_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_BRANCH_BAD = re.compile(r"(\.\.|[\s~^:?*\[\\]|@\{|//|^/|/$|\.lock$|^-)")
_LOGIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_PIN_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key, the value and the fix."""

    def __init__(self, key: str, value: object, fix: str) -> None:
        self.key = key
        self.value = value
        self.fix = fix
        shown = "(not set)" if value is None else repr(value)
        super().__init__(f"config {NAMESPACE}:{key} = {shown}: {fix}")


@dataclass(frozen=True)
class Pin:
    """A component version read from a file of the repository (name, path, regex)."""

    name: str
    path: str
    pattern: str


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one stack."""

    stack: str
    repository: str
    environment: str
    api_url: str = DEFAULT_API_URL
    promotes_from: str | None = None
    required_checks: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    required_approvals: int = 1
    release_date: dt.date | None = None
    commit: str | None = None
    merge_method: str = "merge"
    picks: tuple[str, ...] = ()
    allow_off_master: bool = False
    pins: tuple[Pin, ...] = ()
    source_branch: str = "master"
    green_lookback: int = 30
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def tracks_source(self) -> bool:
        """True for the stack that follows the source branch (testing): it promotes nothing."""
        return self.promotes_from is None


def release_name(day: dt.date) -> str:
    """The release branch for a cut on `day`: `release/YYYY-MM-DD`."""
    return f"{RELEASE_PREFIX}{day.isoformat()}"


def release_date_of(branch: str) -> dt.date | None:
    """The date in a `release/YYYY-MM-DD` branch name, or None for any other name."""
    if not branch.startswith(RELEASE_PREFIX):
        return None
    text = branch[len(RELEASE_PREFIX) :]
    if not _DATE_RE.match(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _text(raw: Mapping[str, Any], key: str, default: str | None = None) -> str | None:
    value = raw.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(key, value, "give a string")
    value = value.strip()
    return value or default


def _list(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        # Pulumi passes structured config as JSON text; a bare string is one item.
        import json

        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = [value]
    if not isinstance(value, list):
        raise ConfigError(key, value, "give a list (YAML sequence)")
    return value


def _names(raw: Mapping[str, Any], key: str, fix: str) -> list[str]:
    """A list of names; an item that is not text (null, a mapping, a list) is refused."""
    names = []
    for index, item in enumerate(_list(raw, key)):
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise ConfigError(f"{key}[{index}]", item, fix)
        names.append(str(item).strip())
    return names


def _int(raw: Mapping[str, Any], key: str, default: int, minimum: int) -> int:
    value = raw.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(key, value, f"give a whole number >= {minimum}") from None
    if isinstance(value, bool) or number < minimum or str(value).strip() != str(number):
        raise ConfigError(key, value, f"give a whole number >= {minimum}")
    return number


def _bool(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ConfigError(key, value, "give true or false")


def check_branch_name(key: str, value: str | None) -> str:
    """A git branch name, or a ConfigError naming `key`."""
    if not value or _BRANCH_BAD.search(value):
        raise ConfigError(key, value, "give a valid git branch name, e.g. staging")
    return value


def check_sha(key: str, value: str) -> str:
    """A full 40-character lowercase commit SHA, or a ConfigError naming `key`."""
    if not _SHA_RE.match(value):
        raise ConfigError(
            key, value, "give the full 40-character lowercase hex SHA of a commit (git rev-parse)"
        )
    return value


def check_date(key: str, value: object) -> dt.date:
    """A YYYY-MM-DD date, or a ConfigError naming `key`."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        # fromisoformat alone also takes 20261126 and week dates (2026-W48-4).
        if not _DATE_RE.match(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(key, value, "give a date as YYYY-MM-DD, e.g. 2026-11-26") from None


def _pins(raw: Mapping[str, Any]) -> tuple[Pin, ...]:
    pins: list[Pin] = []
    seen: set[str] = set()
    for index, item in enumerate(_list(raw, "pins")):
        key = f"pins[{index}]"
        if not isinstance(item, Mapping):
            raise ConfigError(key, item, "give a mapping with name, path and pattern")
        name, path, pattern = item.get("name"), item.get("path"), item.get("pattern")
        if not isinstance(name, str) or not _PIN_NAME_RE.match(name):
            raise ConfigError(f"{key}.name", name, "give a lowercase name such as ppc or sdk")
        if name in seen:
            raise ConfigError(f"{key}.name", name, "pin names must be unique; rename one")
        if not isinstance(path, str) or not path or path.startswith("/"):
            raise ConfigError(f"{key}.path", path, "give a file path relative to the repo root")
        if not isinstance(pattern, str):
            raise ConfigError(f"{key}.pattern", pattern, "give a regular expression")
        try:
            compiled = re.compile(pattern)
        except re.error as err:
            raise ConfigError(
                f"{key}.pattern", pattern, f"fix the regular expression: {err}"
            ) from None
        if compiled.groups < 1:
            raise ConfigError(f"{key}.pattern", pattern, "add one capture group around the version")
        seen.add(name)
        pins.append(Pin(name, path, pattern))
    return tuple(pins)


def parse_settings(
    stack: str, raw: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> Settings:
    """Validate the raw `release-train:*` config of `stack` (keys without the namespace).

    `env` may carry the per-run overrides of `commit` and `releaseDate`.
    """
    env = env or {}
    if env.get(COMMIT_OVERRIDE):
        raw = {**raw, "commit": env[COMMIT_OVERRIDE]}
    if env.get(DATE_OVERRIDE):
        raw = {**raw, "releaseDate": env[DATE_OVERRIDE]}
    repository = _text(raw, "repository")
    if not repository or not _REPO_RE.match(repository):
        raise ConfigError("repository", repository, "give the repository as owner/name")
    api_url = _text(raw, "apiUrl", DEFAULT_API_URL) or DEFAULT_API_URL
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", api_url):
        raise ConfigError("apiUrl", api_url, "give an http(s) URL such as https://api.github.com")
    api_url = api_url.rstrip("/")
    environment = check_branch_name("environment", _text(raw, "environment"))
    if environment.startswith(RELEASE_PREFIX):
        raise ConfigError(
            "environment", environment, "name the environment branch (staging, production)"
        )
    promotes_from = _text(raw, "promotesFrom")
    if promotes_from is not None and not re.match(r"^[A-Za-z0-9_.-]+$", promotes_from):
        raise ConfigError("promotesFrom", promotes_from, "give the name of a stack, e.g. testing")
    if promotes_from == stack:
        raise ConfigError("promotesFrom", promotes_from, "a stack cannot promote from itself")
    source_branch = check_branch_name("sourceBranch", _text(raw, "sourceBranch", "master"))
    if promotes_from is not None and environment == source_branch:
        raise ConfigError(
            "environment",
            environment,
            f"it is also the sourceBranch, so promoting from {promotes_from} would merge "
            "releases back into it; name the environment branch (staging, production)",
        )

    checks = _names(raw, "requiredChecks", "give each check name as text, e.g. ci/travis")
    if any(not c for c in checks):
        raise ConfigError("requiredChecks", checks, "remove the empty check name")
    if len(set(checks)) != len(checks):
        raise ConfigError("requiredChecks", checks, "list each check once")

    logins = _names(raw, "reviewers", "give GitHub logins, e.g. [oncall-partner]")
    reviewers = [login.lstrip("@") for login in logins]
    for login in reviewers:
        if not _LOGIN_RE.match(login):
            raise ConfigError("reviewers", login, "give GitHub logins, e.g. [oncall-partner]")
    if len({login.lower() for login in reviewers}) != len(reviewers):
        raise ConfigError("reviewers", reviewers, "list each reviewer once (logins ignore case)")
    approvals = _int(raw, "requiredApprovals", 1, 0)
    if not tracks(promotes_from) and approvals > 0 and not reviewers:
        raise ConfigError(
            "reviewers",
            reviewers,
            f"requiredApprovals is {approvals}: list the oncall partner(s) who approve, "
            "or set requiredApprovals to 0",
        )
    if approvals > len(reviewers) and reviewers:
        raise ConfigError(
            "requiredApprovals",
            approvals,
            f"only {len(reviewers)} reviewer(s) are listed; lower it or add reviewers",
        )

    merge_method = _text(raw, "mergeMethod", "merge")
    if merge_method != "merge":
        raise ConfigError(
            "mergeMethod",
            merge_method,
            "only 'merge' is allowed: releases are merged with a merge commit, "
            "never squashed or rebased",
        )
    release_date = raw.get("releaseDate")
    commit = _text(raw, "commit")
    picks = [str(p).strip() for p in _list(raw, "picks")]
    for index, pick in enumerate(picks):
        check_sha(f"picks[{index}]", pick)
    if len(set(picks)) != len(picks):
        raise ConfigError("picks", picks, "list each commit once")
    if picks and tracks(promotes_from):
        raise ConfigError(
            "picks",
            picks,
            "only a stack with promotesFrom has a release branch to pick into; "
            "move the picks to that stack (staging or production)",
        )

    known = {
        "repository",
        "apiUrl",
        "token",
        "environment",
        "promotesFrom",
        "sourceBranch",
        "requiredChecks",
        "reviewers",
        "requiredApprovals",
        "releaseDate",
        "commit",
        "mergeMethod",
        "picks",
        "allowOffMaster",
        "pins",
        "greenLookback",
    }
    return Settings(
        stack=stack,
        repository=repository,
        api_url=api_url,
        environment=environment,
        promotes_from=promotes_from,
        source_branch=source_branch,
        required_checks=tuple(checks),
        reviewers=tuple(reviewers),
        required_approvals=approvals,
        release_date=check_date("releaseDate", release_date) if release_date else None,
        commit=check_sha("commit", commit) if commit else None,
        merge_method=merge_method,
        picks=tuple(picks),
        allow_off_master=_bool(raw, "allowOffMaster", False),
        pins=_pins(raw),
        green_lookback=_int(raw, "greenLookback", 30, 1),
        extra={k: v for k, v in raw.items() if k not in known},
    )


def tracks(promotes_from: str | None) -> bool:
    """True when a stack with this `promotesFrom` tracks the source branch itself."""
    return promotes_from is None


def token_from(raw_token: str | None, env: Mapping[str, str] | None = None) -> str:
    """The forge token: the `token` secret, else GITHUB_TOKEN; an error says how to give one."""
    env = os.environ if env is None else env
    token = (raw_token or "").strip() or env.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise ConfigError(
            "token",
            None,
            "set it with `pulumi config set --secret release-train:token ...` "
            "or export GITHUB_TOKEN",
        )
    return token


def read_pulumi_config(getter: Callable[[str], Any]) -> dict[str, Any]:
    """Collect the raw keys through `getter(key)` (a pulumi.Config or stack config reader)."""
    keys = (
        "repository apiUrl environment promotesFrom sourceBranch requiredChecks reviewers "
        "requiredApprovals releaseDate commit mergeMethod picks allowOffMaster pins "
        "greenLookback"
        " reverts rollback rolledBack rollbackApprovals"  # day two: release.picks.day_two_settings
    ).split()
    raw: dict[str, Any] = {}
    for key in keys:
        value = getter(key)
        if value is not None:
            raw[key] = value
    return raw
