"""What is approved is what merges (issue #13 item 4), under the real engine through the
`release` command: after two picks into a staging release, the payload, the PR body and its
pins describe the release branch's current head, and the merge gate refuses a head the body
does not describe."""

from __future__ import annotations

import json
import re

import pytest

from release.rules.payload import described_head
from tests.reliability.cli_train import RELEASE, CliTrain

pytestmark = pytest.mark.e2e
PPC = "abcdef0" + "1" * 33


@pytest.fixture
def cli(harness, seeded_sandbox):
    return CliTrain.start(harness, seeded_sandbox, harness.workdir)


def test_the_payload_and_body_follow_the_head_after_picks(cli, commit_files):
    repo = cli.repo()
    assert cli.release("promote", "testing").code == 0
    cut = cli.promote("staging")  # cut, ours-merge, PR: waits at the gate
    assert cut.code != 0 and "approval" in cut.output, cut.describe()
    (pull,) = repo.get_pulls(state="open", base="staging")
    cut_lines = [ln for ln in pull.body.splitlines() if ln.startswith("- `")]

    # Two fixes on master that move the SDK and the PPC pins, picked into the release.
    travis = repo.get_contents(".travis.yml", ref="master").decoded_content.decode()
    lock = repo.get_contents("Gopkg.lock", ref="master").decoded_content.decode()
    sdk = re.sub(r"PULUMI_SDK_VERSION: v[0-9.]+", "PULUMI_SDK_VERSION: v9.9.9", travis)
    ppc = re.sub(
        r'(name = "github.com/acme/ppc".*?revision = ")[0-9a-f]{40}',
        rf"\g<1>{PPC}",
        lock,
        flags=re.S,
    )
    assert sdk != travis and ppc != lock
    fix_sdk = commit_files(repo, "master", {".travis.yml": sdk}, "Bump the SDK")
    fix_ppc = commit_files(repo, "master", {"Gopkg.lock": ppc}, "Bump the PPC")
    picked = cli.release("cherry-pick", "staging", fix_sdk, fix_ppc)
    head = repo.get_branch(RELEASE).commit.sha
    # The up that made the picks opened the PR with the old body: the gate says so.
    assert picked.code != 0 and "describes head" in picked.output, picked.describe()
    assert head[:12] in " ".join(picked.output.split())

    # Approved and promoted again: the body is brought to the head before the merge.
    cli.approve("staging")
    merged = cli.promote("staging")
    assert merged.code == 0, merged.describe()
    out = cli.outputs("staging")
    assert out["state"] == "merged" and out["releaseHead"] == head
    number = int(out["prNumber"])
    body = repo.get_pull(number).body
    assert described_head(body) == head

    payload = json.loads(cli.release("payload", "staging", "--json").output)
    compare = repo.compare(payload["base_sha"], head)
    assert payload["head_sha"] == head
    # every commit the head brings, but the ours-merge (it changes no file and brings no
    # commit of its own: it only marks the previous release as merged)
    (ours,) = [c.sha for c in compare.commits if c.commit.message.startswith("Merge branch")]
    assert [c["sha"] for c in payload["commits"]] == [
        c.sha for c in reversed(compare.commits) if c.sha != ours
    ]
    assert {"Bump the SDK", "Bump the PPC"} <= {c["title"] for c in payload["commits"]}
    # the cut's commits and the two picks
    assert len(payload["commits"]) == len(cut_lines) + 2
    pins = {p["name"]: p["after"] for p in payload["pins"]}
    assert pins == {"ppc": PPC, "sdk": "v9.9.9"}
    assert "v9.9.9" not in pull.body and PPC not in pull.body  # the cut's body had the old pins
    assert f"`{head}`" in body and "v9.9.9" in body and PPC in body
