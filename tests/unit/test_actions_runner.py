"""The test runner of the workflow (tests/support/actions_runner.py) follows GitHub's rules
where the workflow depends on them: expression semantics, output files, workflow commands."""

from __future__ import annotations

import pytest

from tests.support.actions_runner import (
    condition,
    evaluate,
    interpolate,
    paths_match,
    read_key_values,
    workflow_commands,
)

CONTEXT = {
    "github": {"event_name": "schedule", "event": {"schedule": "0 15 * * 4"}},
    "inputs": {"command": "promote", "environment": "production", "args": ""},
    "vars": {"AWS_ROLE_ARN": "arn:x"},
    "secrets": {"RELEASE_TRAIN_TOKEN": "", "RELEASE_TRAIN_READ_TOKEN": "ro"},
}


def ok(kind: str) -> bool:
    return kind == "success"


def failed(kind: str) -> bool:
    return kind == "failure"


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("inputs.environment == 'production' && 'production' || 'staging'", "production"),
        ("inputs.command == 'plan' && 'production' || 'staging'", "staging"),
        ("secrets.RELEASE_TRAIN_TOKEN || 'fallback'", "fallback"),
        ("secrets.RELEASE_TRAIN_READ_TOKEN || 'fallback'", "ro"),
        ("vars.MISSING != ''", False),  # null == '' (both 0 as numbers)
        ("vars.AWS_ROLE_ARN != ''", True),
        ("github.event.schedule == '0 15 * * 4'", True),
        ("GITHUB.EVENT_NAME == 'SCHEDULE'", True),  # names and strings ignore case
        ('contains(fromJSON(\'["promote", "abandon"]\'), inputs.command)', True),
        ("contains(fromJSON('[\"plan\"]'), inputs.command)", False),
        ("!cancelled() && inputs.args == ''", True),
        ("format('release-train-{0}', inputs.environment)", "release-train-production"),
        ("'it''s'", "it's"),
    ],
)
def test_expressions(expression, value):
    assert evaluate(expression, CONTEXT, ok) == value


def test_if_implies_success_unless_a_status_function_is_named():
    assert condition("inputs.args == ''", CONTEXT, ok) is True
    assert condition("inputs.args == ''", CONTEXT, failed) is False
    assert condition("always() && inputs.args == ''", CONTEXT, failed) is True
    assert condition("${{ failure() }}", CONTEXT, failed) is True
    assert condition(None, CONTEXT, failed) is False


def test_interpolation_keeps_the_rest_of_the_text():
    assert interpolate("release ${{ inputs.command }} ${{ inputs.environment }}", CONTEXT, ok) == (
        "release promote production"
    )


def test_output_files_read_both_forms():
    text = "code=3\nbody<<EOF_1\nline one\nline=two\nEOF_1\nempty=\n"
    assert read_key_values(text) == {"code": "3", "body": "line one\nline=two", "empty": ""}


def test_workflow_commands_honour_stop_commands_and_escapes():
    stdout = "\n".join(
        [
            "::notice title=Waiting at a gate::a%0Ab%25",
            "::stop-commands::tok",
            "::error::forged",
            "::tok::",
            "::error title=Release%3A failed::real",
        ]
    )
    found = [(a.level, a.title, a.message) for a in workflow_commands(stdout)]
    assert found == [
        ("notice", "Waiting at a gate", "a\nb%"),
        ("error", "Release: failed", "real"),
    ]


def test_paths_filters():
    assert paths_match(["release/**"], ("release/providers/merge.py",))
    assert paths_match(["Pulumi.*.yaml"], ("Pulumi.staging.yaml",))
    assert not paths_match(["Pulumi.*.yaml"], ("docs/Pulumi.staging.yaml",))
    assert not paths_match(["release/**"], ("README.md",))
    assert not paths_match(["tests/*"], ("tests/unit/test_gates.py",))  # * stops at /
