"""Stack config validation on plain data: every key's malformed, missing and conflicting
values stop with a ConfigError naming the key, the value and the fix; the committed stack
files parse; the intent keys the program takes from the stack's record are validated."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from release.rules.config import (
    DEFAULT_API_URL,
    NAMESPACE,
    ConfigError,
    Pin,
    Settings,
    check_branch_name,
    check_date,
    check_sha,
    parse_settings,
    release_date_of,
    release_name,
    token_from,
)
from release.rules.intent import LEGACY_KEYS

ROOT = Path(__file__).resolve().parents[2]
SHA = "0123456789abcdef0123456789abcdef01234567"
OTHER_SHA = "89abcdef0123456789abcdef0123456789abcdef"
PPC_PATTERN = r'(?s)name = "github.com/acme/ppc".*?revision = "([0-9a-f]{40})"'


def staging(**over: Any) -> dict[str, Any]:
    """A valid raw config of the staging stack, with `over` applied (None removes a key)."""
    raw: dict[str, Any] = {
        "repository": "acme/service",
        "apiUrl": "http://127.0.0.1:8750/api/v3",
        "environment": "staging",
        "promotesFrom": "testing",
        "requiredChecks": ["ci/travis", "test"],
        "reviewers": ["oncall-partner"],
        "requiredApprovals": 1,
        "pins": [{"name": "ppc", "path": "Gopkg.lock", "pattern": PPC_PATTERN}],
    }
    for key, value in over.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def source_stack(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "repository": "acme/service",
        "environment": "master",
        "sourceBranch": "master",
        "requiredChecks": ["ci/travis", "test"],
    }
    raw.update(over)
    return raw


def stack_file(name: str) -> dict[str, Any]:
    """A committed Pulumi.<name>.yaml, its keys stripped of the project namespace."""
    data = yaml.safe_load((ROOT / f"Pulumi.{name}.yaml").read_text())
    config = data["config"]
    prefix = f"{NAMESPACE}:"
    assert all(key.startswith(prefix) for key in config), config.keys()
    return {key[len(prefix) :]: value for key, value in config.items()}


def refused(stack: str, raw: dict[str, Any], env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_settings(stack, raw, env)
    return caught.value


def assert_names(err: ConfigError, key: str, value: object, fix: str) -> None:
    """The message names the key (namespaced), the value (or that it is unset), and the fix."""
    text = str(err)
    assert err.key == key
    assert f"{NAMESPACE}:{key} " in text, text
    if value is None:
        assert "(not set)" in text, text
    else:
        assert repr(value) in text, text
    assert re.search(fix, err.fix, re.IGNORECASE), (fix, err.fix)
    assert err.fix in text


# -- the committed stack files -------------------------------------------------------------------


def test_committed_stack_files_parse() -> None:
    test = parse_settings("testing", stack_file("testing"), {})
    stage = parse_settings("staging", stack_file("staging"), {})
    prod = parse_settings("production", stack_file("production"), {})

    assert test.tracks_source and test.promotes_from is None
    assert test.environment == "master" and test.source_branch == "master"
    assert stage.promotes_from == "testing" and stage.environment == "staging"
    assert prod.promotes_from == "staging" and prod.environment == "production"
    for settings in (test, stage, prod):
        assert settings.repository == "acme/service" and settings.owner == "acme"
        assert settings.api_url == "http://127.0.0.1:8750/api/v3"
        assert settings.required_checks == ("ci/travis", "test")
        assert settings.merge_method == "merge"
    for settings in (stage, prod):
        assert settings.reviewers == ("oncall-partner",)
        assert settings.required_approvals == 1
        assert [p.name for p in settings.pins] == ["ppc", "sdk"]
        for pin in settings.pins:
            assert re.compile(pin.pattern).groups >= 1


def test_every_committed_key_is_declared_in_the_project_file() -> None:
    declared = set(yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"])
    for name in ("testing", "staging", "production"):
        assert set(stack_file(name)) <= declared, name


def test_pulumi_config_strings_parse_like_yaml_values() -> None:
    """`pulumi.Config.get` hands over every value as text, structured ones as JSON."""
    raw = staging(
        requiredChecks=json.dumps(["ci/travis", "test"]),
        reviewers=json.dumps(["oncall-partner", "second"]),
        requiredApprovals="2",
        offMaster=json.dumps([OTHER_SHA]),
        greenLookback="12",
        releaseDate="2026-11-26",
        commit=SHA,
        picks=json.dumps([OTHER_SHA]),
        pins=json.dumps([{"name": "sdk", "path": ".travis.yml", "pattern": "SDK: (v\\S+)"}]),
    )
    settings = parse_settings("staging", raw, {})
    assert settings.required_checks == ("ci/travis", "test")
    assert settings.reviewers == ("oncall-partner", "second")
    assert settings.required_approvals == 2
    assert settings.off_master == (OTHER_SHA,)
    assert settings.green_lookback == 12
    assert settings.release_date == dt.date(2026, 11, 26)
    assert settings.commit == SHA
    assert settings.picks == (OTHER_SHA,)
    assert settings.pins == (Pin("sdk", ".travis.yml", "SDK: (v\\S+)"),)


def test_a_single_check_given_as_plain_text_is_one_item() -> None:
    assert parse_settings(
        "testing", source_stack(requiredChecks="ci/travis"), {}
    ).required_checks == ("ci/travis",)


def test_yaml_date_and_normalised_values() -> None:
    raw = staging(
        releaseDate=dt.date(2026, 11, 26),
        apiUrl="https://ghe.example/api/v3/",
        reviewers=["@Oncall-Partner"],
        repository="  acme/service ",
    )
    settings = parse_settings("staging", raw, {})
    assert settings.release_date == dt.date(2026, 11, 26)
    assert settings.api_url == "https://ghe.example/api/v3"
    assert settings.reviewers == ("Oncall-Partner",)
    assert settings.repository == "acme/service"


def test_a_numeric_login_read_by_yaml_as_a_number_is_a_login() -> None:
    settings = parse_settings("staging", staging(reviewers=[12345]), {})
    assert settings.reviewers == ("12345",)


@pytest.mark.parametrize(
    ("key", "value", "suggestion"),
    [
        ("requiredApproval", 2, "requiredApprovals"),
        ("reviewer", ["oncall-partner"], "reviewers"),
        ("requiredapprovals", 2, "requiredApprovals"),
        ("mergeMetod", "merge", "mergeMethod"),
        ("ppcWaves", 5, "ppcs"),
        ("colour", "blue", None),
    ],
)
def test_an_unknown_key_is_refused_with_the_nearest_name(key, value, suggestion) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings("staging", staging(**{key: value}), {})
    assert caught.value.key == key
    assert caught.value.value == value  # the value as given, not "(not set)"
    if suggestion:
        assert f"did you mean {NAMESPACE}:{suggestion}?" in str(caught.value)
    else:
        assert "no such key" in str(caught.value) and "did you mean" not in str(caught.value)


def test_an_unknown_key_that_may_be_a_credential_never_shows_its_value() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings("staging", staging(tokn="ghp_supersecret"), {})
    assert "ghp_supersecret" not in str(caught.value)
    assert "did you mean release-train:token?" in str(caught.value)


# -- missing values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "raw", "key", "fix"),
    [
        ("staging", staging(repository=None), "repository", "owner/name"),
        ("staging", staging(repository="   "), "repository", "owner/name"),
        ("staging", staging(environment=None), "environment", "branch name"),
        ("staging", staging(environment=""), "environment", "branch name"),
        ("testing", source_stack(environment=None), "environment", "branch name"),
    ],
)
def test_missing_required_value(stack: str, raw: dict, key: str, fix: str) -> None:
    assert_names(refused(stack, raw), key, None, fix)


def test_missing_reviewers_where_approvals_are_required() -> None:
    err = refused("staging", staging(reviewers=None))
    assert_names(err, "reviewers", [], "requiredApprovals is 1")
    assert "requiredApprovals to 0" in err.fix


def test_missing_optional_values_take_their_defaults() -> None:
    raw = {"repository": "acme/service", "environment": "staging", "promotesFrom": "testing"}
    settings = parse_settings("staging", {**raw, "requiredApprovals": 0}, {})
    assert settings.api_url == DEFAULT_API_URL
    assert settings.source_branch == "master"
    assert settings.merge_method == "merge"
    assert settings.green_lookback == 30
    assert settings.allow_off_master is False
    assert settings.required_checks == () and settings.reviewers == () and settings.picks == ()
    assert settings.pins == () and settings.commit is None and settings.release_date is None
    assert parse_settings("testing", source_stack(), {}).required_approvals == 1


def test_missing_token_says_how_to_give_one() -> None:
    with pytest.raises(ConfigError) as caught:
        token_from(None, {})
    assert_names(caught.value, "token", None, "config set --secret release-train:token")
    assert "GITHUB_TOKEN" in caught.value.fix
    with pytest.raises(ConfigError):
        token_from("   ", {"GITHUB_TOKEN": "  "})


def test_token_prefers_the_secret_then_the_environment() -> None:
    assert token_from("from-config", {"GITHUB_TOKEN": "from-env"}) == "from-config"
    assert token_from("", {"GITHUB_TOKEN": " from-env\n"}) == "from-env"
    assert token_from(None, {"GITHUB_TOKEN": "from-env"}) == "from-env"


def test_token_error_never_shows_a_token() -> None:
    with pytest.raises(ConfigError) as caught:
        token_from("", {"GITHUB_TOKEN": "", "OTHER": "sekrit-value"})
    assert "sekrit" not in str(caught.value)


# -- malformed values ------------------------------------------------------------------------------

MALFORMED = [
    # (key in the raw config, bad value, key named by the error, value named, fix pattern)
    ("repository", "acme", "repository", "acme", "owner/name"),
    ("repository", "acme/service/extra", "repository", "acme/service/extra", "owner/name"),
    ("repository", "-acme/service", "repository", "-acme/service", "owner/name"),
    ("repository", "acme/ser vice", "repository", "acme/ser vice", "owner/name"),
    ("repository", 42, "repository", 42, "string"),
    ("apiUrl", "api.github.com", "apiUrl", "api.github.com", "http"),
    ("apiUrl", "ftp://api.github.com", "apiUrl", "ftp://api.github.com", "http"),
    ("apiUrl", "https://", "apiUrl", "https://", "http"),
    ("apiUrl", "https://ghe.example/api v3", "apiUrl", "https://ghe.example/api v3", "http"),
    ("environment", "stag ing", "environment", "stag ing", "branch name"),
    ("environment", "a..b", "environment", "a..b", "branch name"),
    ("environment", "/staging", "environment", "/staging", "branch name"),
    ("environment", "staging.lock", "environment", "staging.lock", "branch name"),
    ("environment", "-staging", "environment", "-staging", "branch name"),
    ("environment", "release/2026-11-26", "environment", "release/2026-11-26", "staging"),
    ("promotesFrom", "test ing", "promotesFrom", "test ing", "name of a stack"),
    ("promotesFrom", "org/testing", "promotesFrom", "org/testing", "name of a stack"),
    ("sourceBranch", "mas ter", "sourceBranch", "mas ter", "branch name"),
    ("sourceBranch", "master~1", "sourceBranch", "master~1", "branch name"),
    ("requiredChecks", 5, "requiredChecks", 5, "list"),
    ("requiredChecks", {"name": "test"}, "requiredChecks", {"name": "test"}, "list"),
    ("requiredChecks", ["test", " "], "requiredChecks", ["test", ""], "empty"),
    ("requiredChecks", ["test", None], "requiredChecks[1]", None, "check name"),
    ("requiredChecks", ["test", {"name": "x"}], "requiredChecks[1]", {"name": "x"}, "check name"),
    ("reviewers", ["has space"], "reviewers", "has space", "login"),
    ("reviewers", ["-lead"], "reviewers", "-lead", "login"),
    ("reviewers", ["a" * 40], "reviewers", "a" * 40, "login"),
    ("reviewers", [None], "reviewers[0]", None, "login"),
    ("reviewers", ["ok", ["x"]], "reviewers[1]", ["x"], "login"),
    ("reviewers", [True], "reviewers[0]", True, "login"),
    ("reviewers", "not json [", "reviewers", "not json [", "login"),
    ("requiredApprovals", -1, "requiredApprovals", -1, "whole number >= 0"),
    ("requiredApprovals", "two", "requiredApprovals", "two", "whole number"),
    ("requiredApprovals", 1.5, "requiredApprovals", 1.5, "whole number"),
    ("requiredApprovals", True, "requiredApprovals", True, "whole number"),
    ("requiredApprovals", "01", "requiredApprovals", "01", "whole number"),
    ("releaseDate", "2026-13-01", "releaseDate", "2026-13-01", "YYYY-MM-DD"),
    ("releaseDate", "26-11-2026", "releaseDate", "26-11-2026", "YYYY-MM-DD"),
    ("releaseDate", "next thursday", "releaseDate", "next thursday", "YYYY-MM-DD"),
    ("releaseDate", "20261126", "releaseDate", "20261126", "YYYY-MM-DD"),
    ("releaseDate", "2026-W48-4", "releaseDate", "2026-W48-4", "YYYY-MM-DD"),
    ("commit", "abc1234", "commit", "abc1234", "40-character"),
    ("commit", SHA.upper(), "commit", SHA.upper(), "lowercase"),
    ("commit", SHA + "8", "commit", SHA + "8", "40-character"),
    ("commit", "g" * 40, "commit", "g" * 40, "hex"),
    ("mergeMethod", "squash", "mergeMethod", "squash", "only 'merge'"),
    ("mergeMethod", "rebase", "mergeMethod", "rebase", "never squashed or rebased"),
    ("mergeMethod", "Merge", "mergeMethod", "Merge", "only 'merge'"),
    ("picks", ["abc"], "picks[0]", "abc", "40-character"),
    ("picks", [SHA, None], "picks[1]", "None", "40-character"),
    ("picks", "f00", "picks[0]", "f00", "40-character"),
    ("carry", ["abc"], "carry[0]", "abc", "40-character"),
    ("carry", [SHA, SHA.upper()], "carry[1]", SHA.upper(), "lowercase"),
    ("carry", {"sha": SHA}, "carry", {"sha": SHA}, "list of full commit SHAs"),
    ("pins", "ppc", "pins[0]", "ppc", "mapping"),
    ("pins", {"name": "ppc"}, "pins", {"name": "ppc"}, "list"),
    ("pins", [{"name": "PPC", "path": "a", "pattern": "(x)"}], "pins[0].name", "PPC", "lowercase"),
    ("pins", [{"path": "a", "pattern": "(x)"}], "pins[0].name", None, "lowercase"),
    (
        "pins",
        [{"name": "ppc", "path": "/etc/x", "pattern": "(x)"}],
        "pins[0].path",
        "/etc/x",
        "relative",
    ),
    ("pins", [{"name": "ppc", "pattern": "(x)"}], "pins[0].path", None, "relative"),
    (
        "pins",
        [{"name": "ppc", "path": "a", "pattern": 7}],
        "pins[0].pattern",
        7,
        "regular expression",
    ),
    (
        "pins",
        [{"name": "ppc", "path": "a", "pattern": "(v"}],
        "pins[0].pattern",
        "(v",
        "fix the regular",
    ),
    ("greenLookback", 0, "greenLookback", 0, "whole number >= 1"),
    ("greenLookback", "many", "greenLookback", "many", "whole number >= 1"),
]


@pytest.mark.parametrize(
    ("raw_key", "bad", "key", "shown", "fix"),
    MALFORMED,
    ids=[f"{case[0]}={case[1]!r}"[:60] for case in MALFORMED],
)
def test_malformed_value_names_key_value_and_fix(
    raw_key: str, bad: object, key: str, shown: object, fix: str
) -> None:
    err = refused("staging", staging(**{raw_key: bad}))
    assert_names(err, key, shown, fix)


# The keys parse_settings validates (the day-two keys are validated by their own modules).
CORE_KEYS = set(
    "repository apiUrl token environment promotesFrom sourceBranch requiredChecks reviewers "
    "requiredApprovals mergeMethod pins greenLookback".split()
)


def test_every_key_has_a_malformed_case() -> None:
    text = (ROOT / "Pulumi.yaml").read_text()
    declared = set(yaml.safe_load(text)["config"])
    # The token is an optional secret: documented in a comment, not declared (the engine
    # refuses a declared secret whose default is not encrypted).
    intent = set(LEGACY_KEYS)  # kept in the stack's record, not declared as config
    assert CORE_KEYS - {"token"} - intent <= declared, CORE_KEYS - declared - intent
    assert not intent & declared, intent & declared
    assert "token" not in declared and "release-train:token" in text
    covered = {case[0] for case in MALFORMED} | {"token"}
    assert CORE_KEYS <= covered, CORE_KEYS - covered


def test_pin_pattern_without_a_group_is_refused() -> None:
    pattern = r'revision = "[0-9a-f]{40}"'
    err = refused(
        "staging", staging(pins=[{"name": "ppc", "path": "Gopkg.lock", "pattern": pattern}])
    )
    assert_names(err, "pins[0].pattern", pattern, "capture group")
    # A non-capturing group is no group either.
    err = refused(
        "staging", staging(pins=[{"name": "sdk", "path": ".travis.yml", "pattern": "(?:v1)"}])
    )
    assert_names(err, "pins[0].pattern", "(?:v1)", "capture group")


@pytest.mark.parametrize("method", ["squash", "rebase", "fast-forward", "MERGE"])
def test_only_the_merge_method_is_accepted(method: str) -> None:
    assert_names(refused("staging", staging(mergeMethod=method)), "mergeMethod", method, "merge")
    assert parse_settings("staging", staging(mergeMethod="merge"), {}).merge_method == "merge"


# -- conflicting values ----------------------------------------------------------------------------

CONFLICTING = [
    # (stack, raw, key named, value named, fix pattern)
    ("staging", staging(promotesFrom="staging"), "promotesFrom", "staging", "itself"),
    ("staging", staging(reviewers=[]), "reviewers", [], "requiredApprovals is 1"),
    (
        "staging",
        staging(reviewers=[], requiredApprovals=2),
        "reviewers",
        [],
        "requiredApprovals is 2",
    ),
    (
        "staging",
        staging(reviewers=["oncall-partner"], requiredApprovals=2),
        "requiredApprovals",
        2,
        "only 1 reviewer",
    ),
    (
        "staging",
        staging(reviewers=["oncall-partner", "Oncall-Partner"], requiredApprovals=2),
        "reviewers",
        ["oncall-partner", "Oncall-Partner"],
        "once",
    ),
    (
        "staging",
        staging(requiredChecks=["test", "ci/travis", "test"]),
        "requiredChecks",
        ["test", "ci/travis", "test"],
        "once",
    ),
    ("staging", staging(picks=[SHA, OTHER_SHA, SHA]), "picks", [SHA, OTHER_SHA, SHA], "once"),
    (
        "staging",
        staging(
            pins=[
                {"name": "ppc", "path": "Gopkg.lock", "pattern": PPC_PATTERN},
                {"name": "ppc", "path": ".travis.yml", "pattern": "(v1)"},
            ]
        ),
        "pins[1].name",
        "ppc",
        "unique",
    ),
    ("staging", staging(environment="master"), "environment", "master", "sourceBranch"),
    (
        "production",
        staging(promotesFrom="staging", environment="trunk", sourceBranch="trunk"),
        "environment",
        "trunk",
        "sourceBranch",
    ),
    ("testing", source_stack(picks=[SHA]), "picks", [SHA], "promotesFrom"),
]


@pytest.mark.parametrize(
    ("stack", "raw", "key", "shown", "fix"),
    CONFLICTING,
    ids=[f"{case[0]}-{case[2]}-{i}" for i, case in enumerate(CONFLICTING)],
)
def test_conflicting_values_are_refused(
    stack: str, raw: dict, key: str, shown: object, fix: str
) -> None:
    assert_names(refused(stack, raw), key, shown, fix)


def test_the_source_stack_needs_no_reviewers() -> None:
    settings = parse_settings("testing", source_stack(), {})
    assert settings.reviewers == () and settings.tracks_source


def test_approvals_zero_allows_an_empty_reviewer_list() -> None:
    settings = parse_settings("staging", staging(reviewers=[], requiredApprovals=0), {})
    assert settings.required_approvals == 0 and settings.reviewers == ()


# -- intent from the stack's record ---------------------------------------------------------------


def test_the_record_s_off_master_picks_are_validated_and_kept() -> None:
    settings = parse_settings("staging", staging(picks=[SHA], offMaster=[SHA]))
    assert settings.off_master == (SHA,) and not settings.allow_off_master
    err = refused("staging", staging(picks=[SHA], offMaster=["deadbeef"]), {})
    assert_names(err, "offMaster[0]", "deadbeef", "40-character")


def test_intent_keys_are_read_but_never_declared() -> None:
    from release.rules.config import INTENT_KEYS, KEYS, read_pulumi_config

    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert not {k.name for k in INTENT_KEYS} & ({k.name for k in KEYS} | set(declared))
    # The program still reads them, so that a stack file setting one is refused.
    raw = read_pulumi_config({"commit": SHA, "allowOffMaster": "true"}.get)
    assert raw == {"commit": SHA, "allowOffMaster": "true"}


# -- helpers ---------------------------------------------------------------------------------------


def test_release_names_round_trip() -> None:
    day = dt.date(2026, 11, 26)
    assert release_name(day) == "release/2026-11-26"
    assert release_date_of(release_name(day)) == day
    assert release_date_of("release/2026-13-01") is None
    assert release_date_of("staging") is None
    assert release_date_of("release/next") is None
    # Only the canonical name: a date fromisoformat also reads is another branch's name.
    assert release_date_of("release/20261126") is None
    assert release_date_of("release/2026-W48-4") is None
    assert release_date_of("release/2026-11-26-hotfix") is None


def test_checkers_name_the_key_they_were_given() -> None:
    assert check_sha("picks[3]", SHA) == SHA
    assert check_branch_name("environment", "production") == "production"
    assert check_date("--date", "2026-11-26") == dt.date(2026, 11, 26)
    assert check_date("--date", dt.date(2026, 11, 26)) == dt.date(2026, 11, 26)
    for check, value in ((check_sha, "xyz"), (check_branch_name, "a b"), (check_date, "x")):
        with pytest.raises(ConfigError) as caught:
            check("--opt", value)
        assert caught.value.key == "--opt" and repr(value) in str(caught.value)


# -- the one table of keys and Pulumi.yaml's schema --------------------------------------------


def test_the_key_table_and_the_project_files_schema_agree() -> None:
    """`KEYS` is the one declaration; Pulumi.yaml repeats it for the engine. Any key, type,
    item type or default that differs fails here (secrets are documented, not declared)."""
    from release.rules.config import KEYS

    text = (ROOT / "Pulumi.yaml").read_text()
    schema = yaml.safe_load(text)["config"]
    declared = {key.name: key for key in KEYS if not key.secret}
    assert list(schema) == list(declared), "same keys, same order"
    for name, key in declared.items():
        entry = schema[name]
        assert entry["type"] == key.type, name
        assert entry.get("default") == key.default, name
        assert (entry.get("items") or {}).get("type") == key.items, name
    for key in KEYS:
        if key.secret:
            assert key.name not in schema and f"release-train:{key.name}" in text, key.name


def test_carry_adds_the_per_run_override_each_commit_once() -> None:
    """`carry` from the stack file, then `release plan --carry` (RELEASE_TRAIN_CARRY)."""
    from release.rules.config import CARRY_OVERRIDE

    other = "b" * 40
    settings = parse_settings("staging", staging(carry=[SHA]), {CARRY_OVERRIDE: f"{other},{SHA}"})
    assert settings.carry == (SHA, other)
    assert parse_settings("staging", staging()).carry == ()
    err = refused("staging", staging(), {CARRY_OVERRIDE: "abc"})
    assert_names(err, "carry[0]", "abc", "40-character")


# -- the stack file as a whole, types, apiUrl, promotesFrom --------------------------------------


def stack_error(text: str | None) -> str:
    from release.engine.automation import parse_stack_file
    from release.rules.config import StackFileError

    with pytest.raises(StackFileError) as caught:
        parse_stack_file("Pulumi.staging.yaml", text)
    assert isinstance(caught.value, ConfigError)  # one family: the command line prints it
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "Pulumi.staging.yaml: the stack file does not exist; create it"),
        ("", "Pulumi.staging.yaml: the stack file is empty"),
        ("# only a comment\n", "Pulumi.staging.yaml: the stack file is empty"),
        ("- a\n- b\n", "Pulumi.staging.yaml: the stack file is not a mapping"),
        ("encryptionsalt: x\n", "Pulumi.staging.yaml: the stack file has no `config:`"),
        ("config: [a]\n", "Pulumi.staging.yaml: `config:` is not a mapping"),
        ("config:\n  pulumi:tags: {a: b}\n", "sets no release-train: key"),
        ("config:\n  a: 1\n\tb: 2\n", "Pulumi.staging.yaml line 3: not valid YAML"),
        ("config:\n  x: [1, 2\n", "Pulumi.staging.yaml line 3: not valid YAML"),
        ("config:\n  a: 1\n  a: 2\n", "Pulumi.staging.yaml line 3: the key 'a' is given twice"),
        ("config:\n  p:\n    name: a\n    name: b\n", "line 4: the key 'name' is given twice"),
    ],
)
def test_a_broken_stack_file_is_named_with_its_line(text, expected) -> None:
    message = stack_error(text)
    assert expected in message, message
    assert "Traceback" not in message and "<unicode string>" not in message


def test_a_stack_file_keeps_only_its_namespace() -> None:
    from release.engine.automation import parse_stack_file

    text = "config:\n  release-train:repository: acme/service\n  pulumi:tags: {a: b}\n"
    assert parse_stack_file("Pulumi.x.yaml", text) == {"repository": "acme/service"}


@pytest.mark.parametrize(
    ("key", "bad", "fix"),
    [
        ("environment", ["staging"], "give a string"),
        ("promotesFrom", {"stack": "testing"}, "give a string"),
        ("requiredApprovals", {"n": 1}, "give a whole number"),
        ("rollbackApprovals", ["1"], "give a whole number"),
        ("requiredChecks", {"ci": True}, "give a list"),
        ("cadence", ["thursday"], "give a mapping"),
        ("mergeMethod", True, "give a string"),
    ],
)
def test_a_value_of_the_wrong_type_names_the_declared_type(key, bad, fix) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings("staging", staging(**{key: bad}), {})
    assert caught.value.key == key and fix in caught.value.fix


@pytest.mark.parametrize(
    ("url", "fix"),
    [
        ("https://github.com", "the API of github.com is https://api.github.com"),
        ("https://api.github.com/v3", "give https://api.github.com (no path)"),
        ("https://ghe.example.com", "ends in /api/v3: give https://ghe.example.com/api/v3"),
        ("https://ghe.example.com/api", "give https://ghe.example.com/api/v3"),
        ("http://127.0.0.1:8750/api/v4", "give http://127.0.0.1:8750/api/v3"),
    ],
)
def test_an_api_url_of_the_wrong_form_names_the_expected_one(url, fix) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings("staging", staging(apiUrl=url), {})
    assert caught.value.key == "apiUrl" and fix in caught.value.fix, caught.value.fix


@pytest.mark.parametrize("url", ["https://api.github.com", "https://ghe.example.com/api/v3/"])
def test_the_api_url_forms_that_work(url) -> None:
    assert parse_settings("staging", staging(apiUrl=url), {}).api_url == url.rstrip("/")


def test_promotes_from_names_the_stacks_that_exist() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings("staging", staging(promotesFrom="qa"), {}, stacks=["testing", "staging"])
    assert "no such stack (no Pulumi.qa.yaml); the stacks are: testing" == caught.value.fix
    assert parse_settings("staging", staging(), {}, stacks=["testing", "staging"]).promotes_from


def test_forge_inputs_name_the_forge_every_provider_resource_uses():
    settings = Settings("staging", "acme/service", "staging", api_url="http://f/api")
    assert settings.forge_inputs() == {"api_url": "http://f/api", "repository": "acme/service"}
