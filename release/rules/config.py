"""Stack configuration: one table of keys, parsed once into one frozen `Settings` per stack.

Every key lives in the `release-train:` namespace of `Pulumi.<stack>.yaml`. `KEYS` below is
the one declaration of them (name, type, default); `Pulumi.yaml`'s config schema repeats it
for the engine, and tests/unit/test_config.py fails when the two differ. `parse_settings`
validates a stack's raw values (the promotion's keys, the day-two keys, the rollout, the
calendar and the notification keys) into one `Settings`, which every other part receives:
only the edges (the program's entry, the command line) read `pulumi.Config`, stack files or
the environment, and they call `parse_settings` once per stack.

Validation is pure and runs before any resource is registered, so a typo stops the run with
an error that names the key, the value and the fix, and nothing is written to the forge.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import json
import re
import urllib.parse
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from release.rules.cadence import (
    Cadence,
    CadenceConfigError,
    Freeze,
    parse_cadence,
    parse_freezes,
)
from release.rules.errors import NAMESPACE as NAMESPACE  # the namespace of every key
from release.rules.errors import ConfigError, StackFileError
from release.rules.guardrails import GuardrailsArgs, GuardrailsError
from release.rules.ppcs import Ppc, PpcConfigError, parse_ppcs, validate_template
from release.rules.rotation import EXAMPLE as ROTATION_EXAMPLE
from release.rules.rotation import Rotation, check_handoff, parse_rotation

DEFAULT_API_URL = "https://api.github.com"
RELEASE_PREFIX = "release/"
# Per-run override of the carried commits (`release plan --carry` previews them without
# recording them; `release promote --carry` records them as `carry` ops of the record).
CARRY_OVERRIDE = "RELEASE_TRAIN_CARRY"

_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_BRANCH_BAD = re.compile(r"(\.\.|[\s~^:?*\[\\]|@\{|//|^/|/$|\.lock$|^-)")
_LOGIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_PIN_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DEFAULT_STATE_DIR = ".state/ppcs"
PPC_EXECUTORS = ("command", "actions")
DEFAULT_PPC_TIMEOUT = 3600  # seconds one PPC's update may take on GitHub Actions
_WORKFLOW_FILE = re.compile(r"^(?:[A-Za-z0-9_.-]+\.ya?ml|[0-9]+)$")
HIDDEN = "<hidden>"  # how a webhook value is shown in an error: never its text


@dataclass(frozen=True)
class Key:
    """One config key: its name, its type and default as `Pulumi.yaml` declares them."""

    name: str
    type: str  # string, integer, boolean, array or object
    default: Any = None  # None: no default (a required key, or a secret)
    items: str | None = None  # the type of an array's items
    secret: bool = False  # set with `pulumi config set --secret`; not declared in Pulumi.yaml


KEYS: tuple[Key, ...] = (
    # The promotion (this module).
    Key("repository", "string"),
    Key("apiUrl", "string", DEFAULT_API_URL),
    Key("token", "string", secret=True),
    Key("environment", "string"),
    Key("promotesFrom", "string", ""),
    Key("sourceBranch", "string", "master"),
    Key("requiredChecks", "array", [], "string"),
    Key("reviewers", "array", [], "string"),
    Key("requiredApprovals", "integer", 1),
    Key("mergeMethod", "string", "merge"),
    # Day two (`DayTwo`).
    Key("rollbackApprovals", "integer", -1),
    Key("pins", "array", [], "object"),
    Key("greenLookback", "integer", 30),
    # After production's merge, the calendar and notifications (`RolloutSettings`).
    Key("ppcs", "array", [], "object"),
    Key("ppcCommand", "string", ""),
    Key("ppcStateDir", "string", DEFAULT_STATE_DIR),
    Key("ppcExecutor", "string", "command"),
    Key("ppcWorkflow", "string", ""),
    Key("ppcWorkflowRef", "string", ""),
    Key("ppcTimeout", "integer", DEFAULT_PPC_TIMEOUT),
    Key("verifyCommand", "string", ""),
    Key("cadence", "object", {}),
    Key("oncall", "object", {}),
    Key("freezes", "array", [], "object"),
    Key("notifyWebhook", "string", secret=True),
    Key("manageProtection", "boolean", False),
    Key("reviewerTeam", "string", ""),
)
"""Every key of the `release-train:` namespace, in the order `Pulumi.yaml` declares them."""

INTENT_KEYS: tuple[Key, ...] = (
    Key("commit", "string"),
    Key("releaseDate", "string"),
    Key("picks", "array", items="string"),
    Key("offMaster", "array", items="string"),
    Key("reverts", "array", items="string"),
    Key("rollback", "object"),
    Key("rolledBack", "array", items="string"),
    Key("carry", "array", items="string"),
)
"""Operational intent: kept in the stack's record (release/rules/intent.py), never declared
in `Pulumi.yaml`. The program parses them from the record (`Record.as_config`); a stack file
that still sets one (or `allowOffMaster`) is refused (`intent.refuse_legacy`)."""

KEY_NAMES = frozenset(key.name for key in KEYS)
INTENT_NAMES = frozenset(key.name for key in INTENT_KEYS)
ROLLOUT_KEYS = (
    "ppcs",
    "ppcCommand",
    "ppcStateDir",
    "ppcExecutor",
    "ppcWorkflow",
    "ppcWorkflowRef",
    "ppcTimeout",
    "verifyCommand",
    "cadence",
    "oncall",
    "freezes",
    "notifyWebhook",
    "manageProtection",
    "reviewerTeam",
)
"""The keys around the train, validated into `RolloutSettings`."""


STACK_EXAMPLE = (
    "e.g. `release-train:repository: acme/service` and `release-train:environment: staging`"
)


def stack_config(file: str, data: Any) -> dict[str, Any]:
    """The raw `release-train:*` keys (without the namespace) of a stack file's parsed YAML
    `data`; `file` is the name errors give (Pulumi.<stack>.yaml). Raises StackFileError for
    an empty file, one without `config:`, or one that sets no key of the namespace."""
    example = STACK_EXAMPLE
    if data is None or data == {}:
        raise StackFileError(file, "the stack file is empty", f"give its config, {example}")
    if not isinstance(data, Mapping):
        raise StackFileError(
            file, "the stack file is not a mapping", f"give `config:` with {example}"
        )
    config = data.get("config")
    if config is None or config == {}:
        raise StackFileError(file, "the stack file has no `config:`", f"give it, {example}")
    if not isinstance(config, Mapping):
        raise StackFileError(file, "`config:` is not a mapping", f"give keys, {example}")
    prefix = f"{NAMESPACE}:"
    raw = {str(k)[len(prefix) :]: v for k, v in config.items() if str(k).startswith(prefix)}
    if not raw:
        raise StackFileError(
            file, f"the stack file sets no {NAMESPACE}: key", f"give them, {example}"
        )
    return raw


def check_keys(names: Collection[str]) -> None:
    """Refuse a key of the `release-train:` namespace that `KEYS` does not declare, with the
    nearest declared name as a suggestion (a typo must not silently weaken a gate)."""
    for name in names:
        if name in KEY_NAMES:
            continue
        lowered = {key.lower(): key for key in KEY_NAMES}
        close = difflib.get_close_matches(name, sorted(KEY_NAMES), n=1, cutoff=0.6)
        nearest = lowered.get(name.lower()) or (close[0] if close else None)
        fix = (
            f"no such key; did you mean {NAMESPACE}:{nearest}?"
            if nearest
            else "no such key; the keys are declared in Pulumi.yaml (and KEYS in "
            "release/rules/config.py)"
        )
        raise ConfigError(name, _shown(name, nearest, names), fix)


_SECRET_WORDS = ("token", "webhook", "secret", "password", "key")


def _shown(name: str, nearest: str | None, names: Collection[str]) -> object:
    """An unknown key's value as an error shows it: hidden when it may be a credential."""
    value = names[name] if isinstance(names, Mapping) else None
    secret = any(key.secret and key.name == nearest for key in KEYS)
    if secret or isinstance(value, Mapping) or any(w in name.lower() for w in _SECRET_WORDS):
        return HIDDEN
    return value


_PLAIN = (str, int, float, dt.date)
_SHA_LISTS = frozenset({"picks", "reverts", "carry"})


def check_types(raw: Mapping[str, Any]) -> None:
    """Each present key's value against its declared type (`KEYS`), before any finer check.

    Values may come from a stack file (YAML types) or from the engine (text, JSON text for
    arrays and objects); both forms are taken.
    """
    for key in KEYS:
        if key.name not in raw or raw[key.name] is None:
            continue
        value = structured(raw[key.name])
        if key.secret:
            ok = isinstance(value, str | Mapping)
            shown: object = HIDDEN
            fix = f"give it as a secret: `pulumi config set --secret {NAMESPACE}:{key.name} ...`"
        else:
            shown = value
            ok, fix = _type_ok(key, value)
        if not ok:
            raise ConfigError(key.name, shown, fix)


def _type_ok(key: Key, value: Any) -> tuple[bool, str]:
    if key.type == "string":
        return (isinstance(value, _PLAIN) and not isinstance(value, bool), "give a string")
    if key.type == "integer":  # the range, and text that is no number: the key's own check
        return not isinstance(value, list | Mapping), "give a whole number, e.g. 1"
    if key.type == "boolean":
        ok = isinstance(value, bool) or str(value).strip().lower() in ("true", "false", "")
        return ok, "give true or false"
    if key.type == "array":
        ok = isinstance(value, list) or (isinstance(value, _PLAIN) and not isinstance(value, bool))
        what = "list of full commit SHAs" if key.name in _SHA_LISTS else "list"
        return ok, f"give a {what} (YAML sequence)"
    ok = isinstance(value, Mapping) or value == ""
    return ok, "give a mapping (YAML keys and values)"


def structured(value: Any) -> Any:
    """A list or mapping from config: the engine passes structured values as JSON text.

    The one place that decodes it; text that is not JSON is returned as it is.
    """
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def as_list(value: Any) -> list[Any]:
    """A config list (or its JSON text); None is the empty list, one bare value a list of one."""
    value = structured(value)
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class DayTwo:
    """The day-two keys of a stack's config, validated (picks themselves are in Settings)."""

    reverts: tuple[str, ...] = ()
    rollback_to: str | None = None
    rollback_date: str | None = None
    rolled_back: tuple[str, ...] = ()
    rollback_approvals: int | None = None


@dataclass(frozen=True)
class RolloutSettings:
    """The validated keys around the train for one stack: the smoke test and the PPC
    rollout, the calendar (cadence, oncall, freezes), the webhook and the guardrails."""

    ppcs: tuple[Ppc, ...] = ()
    ppc_command: str | None = None
    ppc_state_dir: str = DEFAULT_STATE_DIR
    ppc_executor: str = "command"
    ppc_workflow: str | None = None
    ppc_workflow_ref: str | None = None  # None: the repository's default branch
    ppc_timeout: int = DEFAULT_PPC_TIMEOUT
    verify_command: str | None = None
    cadence: Cadence = Cadence()
    oncall: Rotation | None = None  # the rotation (or the old fixed pair)
    freezes: tuple[Freeze, ...] = ()
    has_webhook: bool = False
    manage_protection: bool = False
    reviewer_team: str | None = None
    sets_cadence: bool = False  # the stack file names a cadence (not only the default)

    def wave_of(self, ppc: str) -> int | None:
        """The wave a configured PPC is updated in, or None."""
        for item in self.ppcs:
            if item.name == ppc:
                return item.wave
        return None

    def actions_spec(self, api_url: str, repository: str) -> dict[str, Any] | None:
        """The GitHub Actions PPC executor as plain data, for the resources that run the
        waves (`release/actions.py` builds it), or None when ppcCommand updates the PPCs.
        An empty `ref` means the repository's default branch."""
        if self.ppc_executor != "actions":
            return None
        return {
            "kind": "actions",
            "api_url": api_url,
            "repository": repository,
            "workflow": self.ppc_workflow or "",
            "ref": self.ppc_workflow_ref or "",
            "timeout": self.ppc_timeout,
        }


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
    off_master: tuple[str, ...] = ()  # picks allowed off the source branch, one by one
    pins: tuple[Pin, ...] = ()
    source_branch: str = "master"
    green_lookback: int = 30
    day_two: DayTwo = DayTwo()
    carry: tuple[str, ...] = ()  # commits carried from the running release (`--carry`)
    rollout: RolloutSettings = RolloutSettings()

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def tracks_source(self) -> bool:
        """True for the stack that follows the source branch (testing): it promotes nothing."""
        return self.promotes_from is None

    def forge_inputs(self) -> dict[str, str]:
        """The forge every provider resource names in its inputs: `api_url`, `repository`."""
        return {"api_url": self.api_url, "repository": self.repository}


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
    value = structured(raw.get(key))
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]  # a bare string is one item
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
    stack: str,
    raw: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    webhook_secret: bool | None = None,
    stacks: Collection[str] | None = None,
) -> Settings:
    """Validate the raw `release-train:*` config of `stack` (keys without the namespace):
    every key of `KEYS`, into one `Settings`. A key the table does not name is refused
    (with the nearest name), then each key's type, range and cross-key rules are checked.

    The program passes the stack file's keys merged with the stack's record of intent
    (`INTENT_KEYS`, from `Record.as_config`): those are taken here, never from a stack file
    (the callers refuse them there first, `intent.refuse_legacy`). `env` may carry the
    per-run override of `carry`; `webhook_secret` False says the webhook was stored in plain
    text (refused), None that it is not known; `stacks`, when known, are the project's stacks
    (`promotesFrom` must name one).
    """
    env = env or {}
    check_keys({name: value for name, value in raw.items() if name not in INTENT_NAMES})
    check_types(raw)
    if not raw.get("repository") and not raw.get("environment"):
        raise ConfigError(
            "repository",
            None,
            f"the stack {stack} sets neither repository nor environment: give at least "
            "`release-train:repository: owner/name` and `release-train:environment: BRANCH`",
        )
    repository = _text(raw, "repository")
    if not repository or not _REPO_RE.match(repository):
        raise ConfigError("repository", repository, "give the repository as owner/name")
    api_url = _text(raw, "apiUrl", DEFAULT_API_URL) or DEFAULT_API_URL
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", api_url):
        raise ConfigError("apiUrl", api_url, "give an http(s) URL such as https://api.github.com")
    api_url = check_api_url(api_url.rstrip("/"))
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
    if promotes_from is not None and stacks is not None and promotes_from not in stacks:
        others = ", ".join(s for s in stacks if s != stack) or "none"
        raise ConfigError(
            "promotesFrom",
            promotes_from,
            f"no such stack (no Pulumi.{promotes_from}.yaml); the stacks are: {others}",
        )
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
    # A rotation whose partner approves is one more reviewer, named week by week.
    partner = 1 if (rotation := oncall_rotation(raw)) is not None and rotation.gates else 0
    if not tracks(promotes_from) and approvals > 0 and not reviewers and not partner:
        raise ConfigError(
            "reviewers",
            reviewers,
            f"requiredApprovals is {approvals}: list the oncall partner(s) who approve, "
            "give an oncall rotation, or set requiredApprovals to 0",
        )
    if approvals > len(reviewers) + partner and (reviewers or partner):
        raise ConfigError(
            "requiredApprovals",
            approvals,
            f"only {len(reviewers) + partner} reviewer(s) are listed"
            + (" (the oncall partner included)" if partner else "")
            + "; lower it or add reviewers",
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

    settings = Settings(
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
        off_master=tuple(
            check_sha(f"offMaster[{i}]", str(s).strip())
            for i, s in enumerate(_list(raw, "offMaster"))
        ),
        pins=_pins(raw),
        green_lookback=_int(raw, "greenLookback", 30, 1),
    )
    return dataclasses.replace(
        settings,
        day_two=day_two_settings(raw),
        carry=carried_commits(raw, env),
        rollout=parse_rollout(settings, raw, webhook_secret),
    )


def check_api_url(api_url: str) -> str:
    """The forge's REST API root: https://api.github.com, or https://HOST/api/v3 for GitHub
    Enterprise and the sandbox; anything else is a ConfigError saying the expected form."""
    parts = urllib.parse.urlsplit(api_url)
    host, path = (parts.hostname or "").lower(), parts.path.rstrip("/")
    if host in ("github.com", "www.github.com"):
        raise ConfigError("apiUrl", api_url, f"the API of github.com is {DEFAULT_API_URL}")
    if host == "api.github.com":
        if path:
            raise ConfigError("apiUrl", api_url, f"give {DEFAULT_API_URL} (no path)")
        return api_url
    if path != "/api/v3":
        root = f"{parts.scheme}://{parts.netloc}/api/v3"
        raise ConfigError(
            "apiUrl",
            api_url,
            f"a GitHub Enterprise (or sandbox) API root ends in /api/v3: give {root}",
        )
    return api_url


def tracks(promotes_from: str | None) -> bool:
    """True when a stack with this `promotesFrom` tracks the source branch itself."""
    return promotes_from is None


def token_from(raw_token: str | None, env: Mapping[str, str]) -> str:
    """The forge token, decided here and only here: the stack's `token` secret first, else
    GITHUB_TOKEN in `env` (the edge passes its environment); an error says how to give one.
    """
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
    """Collect the raw keys of `KEYS` through `getter(key)` (a pulumi.Config reader).

    The token is left out: it belongs to the forge session (`token_from`)."""
    raw: dict[str, Any] = {}
    for key in (*KEYS, *INTENT_KEYS, Key("allowOffMaster", "boolean")):
        if key.name == "token":
            continue
        value = getter(key.name)
        if value is not None:
            raw[key.name] = value
    return raw


def carried_commits(
    raw: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """The commits the stack carries from the running release into the new one: the record's
    `carry` (a list of full SHAs, `Record.as_config`) and the per-run override CARRY_OVERRIDE, each once, in order.

    Raises ConfigError naming `carry` for anything but full lowercase SHAs.
    """
    value = structured(raw.get("carry"))
    if value in (None, ""):
        value = []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError("carry", value, "give a list of full commit SHAs")
    extra = [s for s in ((env or {}).get(CARRY_OVERRIDE) or "").split(",") if s.strip()]
    found: list[str] = []
    for index, sha in enumerate([*value, *extra]):
        checked = check_sha(f"carry[{index}]", str(sha).strip())
        if checked not in found:
            found.append(checked)
    return tuple(found)


def day_two_settings(raw: Mapping[str, Any]) -> DayTwo:
    """Validate `reverts`, `rollback` {to, date}, `rolledBack` and `rollbackApprovals`."""
    reverts_raw = structured(raw.get("reverts")) or []
    if isinstance(reverts_raw, str):
        reverts_raw = [reverts_raw]
    if not isinstance(reverts_raw, list):
        raise ConfigError("reverts", reverts_raw, "give a list of full commit SHAs")
    reverts = tuple(check_sha(f"reverts[{i}]", str(s).strip()) for i, s in enumerate(reverts_raw))
    if len(set(reverts)) != len(reverts):
        raise ConfigError("reverts", list(reverts), "list each commit once")
    rollback = structured(raw.get("rollback"))
    to = day = None
    if rollback not in (None, "", {}):
        if not isinstance(rollback, Mapping):
            raise ConfigError("rollback", rollback, "give a mapping {to: release/..., date: ...}")
        to = str(rollback.get("to") or "").strip()
        if release_date_of(to) is None:
            raise ConfigError("rollback.to", to, "name a release branch, e.g. release/2026-11-12")
        day = check_date("rollback.date", rollback.get("date")).isoformat()
    rolled_raw = structured(raw.get("rolledBack")) or []
    if isinstance(rolled_raw, str):
        rolled_raw = [rolled_raw]
    if not isinstance(rolled_raw, list) or any(release_date_of(str(r)) is None for r in rolled_raw):
        raise ConfigError("rolledBack", rolled_raw, "give a list of release branch names")
    approvals_raw = raw.get("rollbackApprovals")
    approvals = None
    if approvals_raw not in (None, "", -1, "-1"):  # -1: Pulumi.yaml's default, "unset"
        if str(approvals_raw).strip() not in ("0", "1") or isinstance(approvals_raw, bool):
            raise ConfigError(
                "rollbackApprovals",
                approvals_raw,
                "give 0 or 1 (or -1: rollbacks need the same approvals as a promotion)",
            )
        approvals = int(str(approvals_raw).strip())
    return DayTwo(reverts, to, day, tuple(str(r) for r in rolled_raw), approvals)


# --- the keys around the train ----------------------------------------------------------------


def _opt_text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(key, value, "give a string")
    return value.strip() or None


def _flag(raw: Mapping[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", ""):
        return value.strip().lower() == "true"
    raise ConfigError(key, value, "give true or false")


def _mapping(raw: Mapping[str, Any], key: str, example: str) -> Mapping[str, Any]:
    value = structured(raw.get(key))
    if value in (None, "", {}):
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, f"give a mapping, e.g. {example}")
    return value


def _cadence_error(err: CadenceConfigError) -> ConfigError:
    return ConfigError(err.key, err.value, err.fix)


def check_webhook(value: Any, secret: bool | None) -> bool:
    """Whether a webhook is set; raise ConfigError (never showing the URL) when it is bad.

    `value` is the decrypted URL, or the stack file's `{secure: ...}` entry (then its form
    is not checked here). `secret` False means the value was stored in plain text.
    """
    if value in (None, "", {}):
        return False
    if isinstance(value, Mapping):
        if "secure" in value:
            return True
        raise ConfigError(
            "notifyWebhook",
            HIDDEN,
            "give the incoming webhook's URL, stored with "
            "`pulumi config set --secret release-train:notifyWebhook URL`",
        )
    if secret is False:
        raise ConfigError(
            "notifyWebhook",
            HIDDEN,
            "the webhook URL is stored in plain text; it is a credential: store it with "
            "`pulumi config set --secret release-train:notifyWebhook URL`",
        )
    if not isinstance(value, str):
        raise ConfigError("notifyWebhook", HIDDEN, "give the webhook's URL as a string")
    try:
        parts = urllib.parse.urlsplit(value.strip())
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            "notifyWebhook",
            HIDDEN,
            "give an http(s) URL, e.g. the Slack incoming webhook's https://hooks.../services/...",
        )
    return True


def oncall_rotation(raw: Mapping[str, Any]) -> Rotation | None:
    """The `oncall` key: the rotation (release/rules/rotation.py), the old fixed pair
    {primary, secondary}, or None when unset. Raises ConfigError naming the key."""
    value = _mapping(raw, "oncall", ROTATION_EXAMPLE)
    if not value:
        return None
    try:
        return parse_rotation(value)
    except CadenceConfigError as err:
        raise _cadence_error(err) from None


def parse_rollout(
    settings: Settings, raw: Mapping[str, Any], webhook_secret: bool | None = None
) -> RolloutSettings:
    """Validate the keys around the train (`ROLLOUT_KEYS`) of one stack; pure.

    Raises ConfigError naming the key, the value (never the webhook's) and the fix.
    """
    role = "a promotion stack (one with promotesFrom)"
    ppc_value = structured(raw.get("ppcs"))
    try:
        ppcs = parse_ppcs(ppc_value if ppc_value not in ("", None) else None)
    except PpcConfigError as err:
        raise ConfigError("ppcs", ppc_value, str(err)) from None
    command = _opt_text(raw, "ppcCommand")
    state_dir = _opt_text(raw, "ppcStateDir") or DEFAULT_STATE_DIR
    verify = _opt_text(raw, "verifyCommand")
    if settings.tracks_source:
        for key, value in (("ppcs", ppcs), ("ppcCommand", command), ("verifyCommand", verify)):
            if value:
                raise ConfigError(
                    key,
                    raw.get(key),
                    f"only {role} merges releases to roll out; move it to the production stack",
                )
    executor = (_opt_text(raw, "ppcExecutor") or "command").lower()
    if executor not in PPC_EXECUTORS:
        raise ConfigError(
            "ppcExecutor",
            raw.get("ppcExecutor"),
            "give command (run ppcCommand for each PPC on this machine) or actions (dispatch "
            "ppcWorkflow on GitHub Actions for each PPC)",
        )
    workflow = _opt_text(raw, "ppcWorkflow")
    if workflow is not None and not _WORKFLOW_FILE.match(workflow):
        raise ConfigError(
            "ppcWorkflow",
            workflow,
            "give the workflow's file name under .github/workflows (e.g. ppc-update.yml) or "
            "its numeric id",
        )
    workflow_ref = _opt_text(raw, "ppcWorkflowRef")
    if workflow_ref is not None:
        check_branch_name("ppcWorkflowRef", workflow_ref)
    timeout = _int(raw, "ppcTimeout", DEFAULT_PPC_TIMEOUT, 1)
    if settings.tracks_source and workflow:
        raise ConfigError(
            "ppcWorkflow",
            workflow,
            f"only {role} merges releases to roll out; move it to the production stack",
        )
    if ppcs and executor == "actions" and not workflow:
        raise ConfigError(
            "ppcWorkflow",
            None,
            "ppcExecutor is actions: give the file name of the workflow that updates one PPC, "
            "e.g. ppc-update.yml (it must accept the inputs ppc, release, commit, wave and "
            "correlation_id, and name the correlation id in its run-name)",
        )
    if ppcs and executor == "command" and not command:
        raise ConfigError(
            "ppcCommand",
            None,
            "the stack lists ppcs: give the command that updates one PPC, e.g. "
            "'python -m release.ppc_deploy --state {state} --ppc {ppc} --release {release} "
            "--commit {commit}'",
        )
    if command:
        try:
            validate_template(command)
        except PpcConfigError as err:
            raise ConfigError("ppcCommand", command, str(err)) from None
    if "\0" in state_dir or "\n" in state_dir:
        raise ConfigError("ppcStateDir", state_dir, "give a folder path, e.g. .state/ppcs")

    try:
        cadence = parse_cadence(
            _mapping(raw, "cadence", "{stagingWeekday: thursday, productionWeekday: tuesday}")
        )
        oncall = oncall_rotation(raw)
        if oncall is not None:
            check_handoff(oncall, cadence)
        freezes_value = structured(raw.get("freezes"))
        if freezes_value in ("", None):
            freezes_value = []
        if not isinstance(freezes_value, list):
            raise ConfigError(
                "freezes", freezes_value, "give a list of {date: YYYY-MM-DD, reason: why}"
            )
        freezes = parse_freezes(freezes_value)
    except CadenceConfigError as err:
        raise _cadence_error(err) from None

    has_webhook = check_webhook(raw.get("notifyWebhook"), webhook_secret)
    manage = _flag(raw, "manageProtection")
    team = _opt_text(raw, "reviewerTeam")
    if team is not None and not _SLUG.match(team):
        raise ConfigError(
            "reviewerTeam", team, "give the team's slug without the organization, e.g. oncall"
        )
    if manage:
        if settings.tracks_source:
            raise ConfigError(
                "manageProtection", True, f"set it on {role}, e.g. production, and only there"
            )
        try:
            guardrails_args(settings, team)
        except GuardrailsError as err:
            raise ConfigError("manageProtection", True, str(err)) from None
    return RolloutSettings(
        ppcs=tuple(ppcs),
        ppc_command=command,
        ppc_state_dir=state_dir,
        ppc_executor=executor,
        ppc_workflow=workflow,
        ppc_workflow_ref=workflow_ref,
        ppc_timeout=timeout,
        verify_command=verify,
        cadence=cadence,
        oncall=oncall,
        freezes=tuple(freezes),
        has_webhook=has_webhook,
        manage_protection=manage,
        reviewer_team=team,
        sets_cadence=bool(structured(raw.get("cadence"))),
    )


def guardrails_args(settings: Settings, team: str | None, token: Any = None) -> GuardrailsArgs:
    """What Guardrails protects for this stack: the environment branches staging and
    production and release/*, reviewed by the stack's reviewers (and team)."""
    return GuardrailsArgs(
        repository=settings.repository,
        required_checks=tuple(settings.required_checks),
        reviewer_team=team,
        reviewer_users=tuple(settings.reviewers),
        required_approvals=settings.required_approvals,
        base_url=None if settings.api_url == DEFAULT_API_URL else settings.api_url + "/",
        token=token,
    )
