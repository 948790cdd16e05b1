"""The `--from-deployments` line: the forge's deployment beside the stack's answer."""

from __future__ import annotations

from release.cli.common import deployment_text

RECORD = {
    "id": 1234,
    "environment": "staging",
    "sha": "a" * 40,
    "task": "deploy",
    "release": "release/2026-11-26",
    "state": "success",
    "logUrl": "http://forge/acme/service/pull/7",
    "createdAt": "2026-11-26T12:00:00Z",
}


def test_agreeing_deployment_is_one_line_with_its_state_and_log():
    assert deployment_text(RECORD, "release/2026-11-26") == (
        "GitHub Deployment 1234: release/2026-11-26 at aaaaaaaaaaaa, success "
        "(http://forge/acme/service/pull/7)"
    )


def test_a_disagreement_none_and_an_unreadable_forge_are_said():
    text = deployment_text({**RECORD, "state": None, "logUrl": None}, "release/2026-11-19")
    assert text.endswith(
        "started, no status yet; differs from the stack's state (release/2026-11-19)"
    )
    assert deployment_text(None, "release/2026-11-26") == "GitHub Deployments: none"
    assert deployment_text("deployments unknown: HTTP 502", None) == (
        "deployments unknown: HTTP 502"
    )
