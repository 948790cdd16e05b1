"""A broken program fails the engine run with the program's own error, and no secret leaks."""

from __future__ import annotations

import pytest
from pulumi import automation as auto

from tests.e2e.harness import Harness

pytestmark = pytest.mark.e2e


def test_program_error_reaches_the_caller(harness: Harness):
    run = harness.stack("failing")
    run.set_config({"failing:marker": "marker-7f3a"}, secret={"failing:secret": "s3cr3t-e2e"})

    with pytest.raises(auto.CommandError) as raised:
        run.up()

    message = str(raised.value)
    assert "ValueError: failing on purpose: marker-7f3a" in message
    assert "s3cr3t-e2e" not in message
    assert "s3cr3t-e2e" not in run.transcript()
    assert "s3cr3t-e2e" not in harness.state_files_text()
