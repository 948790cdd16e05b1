"""A week of staging through the command line, every post counted at a loopback receiver.

testing, then staging: cut and held by its gate (cut, blocked), approved and merged; a
rollback held by its gate (blocked), approved and continued (rolled_back); next release cut
and held (cut, blocked), then abandoned. A no-op re-run posts nothing. Each message names
the release, the environment, the pull request's link and who acted, and says what is next.
(The PPC waves' start, failure and completion are counted in test_ppc_rollout.py.)
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from pulumi import automation as auto

from release.cli.common import GATE_WAIT_EXIT_CODE
from tests.e2e.test_ppc_rollout import Cli, Receiver, flat
from tests.e2e.train import RELEASE_DATE, Train

pytestmark = pytest.mark.e2e
RELEASE = f"release/{RELEASE_DATE}"
EARLIER = "release/2026-11-19"
NEXT = "release/2026-11-27"
ACTOR = "oncall-week"


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def train(harness, seeded_sandbox, monkeypatch):
    train = Train.for_cli(harness, seeded_sandbox, monkeypatch)
    monkeypatch.setenv("RELEASE_TRAIN_ACTOR", ACTOR)
    return train


def fields(message: dict) -> dict[str, str]:
    """A message's fields block as {label: value}."""
    found = {}
    for field in message["blocks"][1]["fields"]:
        label, _, value = field["text"].partition("\n")
        found[label.strip("*")] = value
    return found


def test_a_week_of_staging_posts_each_event_once(train, receiver, monkeypatch):
    cli = Cli(monkeypatch)
    train.stack("staging").set_config(
        "release-train:notifyWebhook", auto.ConfigValue(receiver.url, secret=True)
    )
    assert cli("promote", "testing")[0] == 0
    code, out = cli("promote", "staging", "--date", RELEASE_DATE)
    assert code == GATE_WAIT_EXIT_CODE and "needs 1 more approval" in flat(out)
    assert receiver.events() == ["cut", "blocked"]
    blocked = fields(receiver.messages[1])
    assert blocked["detail"].startswith("pull request #")
    assert "GateClosed" not in blocked["detail"] and "up again" not in blocked["detail"]
    train.approve("staging")
    assert cli("promote", "staging", "--date", RELEASE_DATE)[0] == 0
    assert receiver.events()[2:] == ["merged"]
    assert cli("promote", "staging", "--date", RELEASE_DATE)[0] == 0  # a no-op re-run
    assert receiver.events()[3:] == []

    # A rollback: held by its gate, approved, continued.
    code, out = cli("rollback", "staging", "--to", EARLIER)
    assert code == GATE_WAIT_EXIT_CODE and "approval" in flat(out)
    assert receiver.events()[3:] == ["blocked"], out
    assert fields(receiver.messages[3])["release"] == EARLIER
    train.approve("staging")
    code, out = cli("rollback", "staging", "--to", EARLIER)
    assert code == 0, out
    assert receiver.events()[4:] == ["rolled_back"]
    rolled = fields(receiver.messages[4])
    assert rolled["release"] == EARLIER and "/pull/" in rolled["pull request"]

    # Next release: cut, held, abandoned.
    code, out = cli("promote", "staging", "--date", "2026-11-27")
    assert code == GATE_WAIT_EXIT_CODE and "approval" in flat(out), out
    assert receiver.events()[5:] == ["cut", "blocked"]
    code, out = cli("abandon", "staging", "--reason", "a <!channel> bad build")
    assert code == 0, out
    assert receiver.events()[7:] == ["abandoned"]
    abandoned = fields(receiver.messages[7])
    assert abandoned["release"] == NEXT and "&lt;!channel&gt;" in abandoned["detail"]

    assert Counter(receiver.events()) == {
        "cut": 2,
        "blocked": 3,
        "merged": 1,
        "rolled_back": 1,
        "abandoned": 1,
    }
    for message in receiver.messages:
        shown = fields(message)
        assert shown["environment"] == "staging" and shown["by"] == ACTOR, shown
        assert shown.get("next"), shown
        assert "/pull/" in shown.get("pull request", ""), shown
    secret = receiver.secret_path.rsplit("/", 1)[-1]
    assert secret not in "\n".join(cli.outputs) and secret not in json.dumps(receiver.messages)
