"""A preview starts the dynamic providers' process only to check and diff: that must not
load PyGithub (a fifth of a second of every preview) nor requests (another tenth), while a
create still reaches them."""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap

from pulumi.dynamic.dynamic import serialize_provider

from release.providers.branch import ReleaseBranchProvider
from release.providers.cherry_pick import CherryPickProvider
from release.providers.merge import MergeProvider
from release.providers.ppc_wave import PpcWaveProvider
from release.providers.pull_request import PullRequestProvider

PROVIDERS = [
    ReleaseBranchProvider(),
    MergeProvider(),
    PullRequestProvider(),
    CherryPickProvider(),
    PpcWaveProvider(),
]

CHECK_ONLY = textwrap.dedent(
    """
    import base64, sys, dill
    for blob in sys.argv[1:]:
        provider = dill.loads(base64.b64decode(blob))
        provider.diff("id", {"a": 1}, {"a": 1})
    print("github" in sys.modules, "requests" in sys.modules)
    from release import forge
    try:
        raise forge.GithubException(502, {"message": "bad gateway"}, None)
    except forge.GithubException as err:
        print(forge.is_transient(err), "github" in sys.modules)
    """
)


def test_restoring_the_providers_does_not_load_pygithub_until_the_forge_is_used():
    blobs = [serialize_provider(p) for p in PROVIDERS]
    assert all(base64.b64decode(b) for b in blobs)
    out = subprocess.run(
        [sys.executable, "-c", CHECK_ONLY, *blobs], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "False False", "restoring and diffing a provider imported PyGithub/requests"
    assert out[1] == "True True", "forge.GithubException resolves on first use"
