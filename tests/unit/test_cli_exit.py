"""`python -m release` ends without tearing the interpreter down (`release.cli.exit_now`):
the exit status and the output are those of a normal exit, only the teardown is skipped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# An object freed only by the interpreter's teardown says so on stdout.
PROBE = """
import sys, threading, time
import release.cli

class Torn:
    def __del__(self):
        print("torn down", flush=True)

sys.modules["teardown_probe"] = Torn()
print("work done")
if sys.argv[2] == "thread":
    threading.Thread(target=time.sleep, args=(0.3,)).start()
code = {"none": None, "text": "stopped: reason"}.get(sys.argv[1], sys.argv[1])
release.cli.exit_now(int(code) if isinstance(code, str) and code.isdigit() else code)
"""


def probe(code: str, thread: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, code, thread or "-"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(("code", "status"), [("0", 0), ("3", 3), ("none", 0), ("text", 1)])
def test_the_status_and_output_are_kept_and_the_teardown_skipped(code, status):
    done = probe(code)
    assert done.returncode == status, done
    assert done.stdout == "work done\n", done.stdout  # flushed; no teardown
    assert done.stderr == ("stopped: reason\n" if code == "text" else ""), done.stderr


def test_a_running_thread_gets_the_usual_exit():
    done = probe("4", "thread")
    assert done.returncode == 4, done
    assert done.stdout == "work done\ntorn down\n", done.stdout


def test_the_command_line_exits_with_its_codes():
    version = subprocess.run(
        [sys.executable, "-m", "release", "--version"], cwd=ROOT, capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("release-train "), version
    usage = subprocess.run(
        [sys.executable, "-m", "release", "--no-such-option"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert usage.returncode == 2 and "No such option" in usage.stderr, usage


# The program's process (the Pulumi runner's `__main__` keeps the status in `exit_code`).
RUNNER = """
import atexit, sys
from release.program import entry

class Torn:
    def __del__(self):
        print("torn down", flush=True)

sys.modules["teardown_probe"] = Torn()
atexit.register(entry.exit_without_teardown)
if sys.argv[1] != "-":
    exit_code = int(sys.argv[1])
print("program done")
sys.exit(7)
"""


@pytest.mark.parametrize("code", ["0", "1", "32"])
def test_the_program_exits_with_the_runners_status_without_teardown(code):
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, code], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == int(code), done
    assert done.stdout == "program done\n", done.stdout


def test_the_program_without_the_runners_status_exits_as_usual():
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, "-"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 7, done
    assert done.stdout == "program done\ntorn down\n", done.stdout
