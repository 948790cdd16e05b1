"""The dynamic providers' launcher (tools/pulumi/launcher), started the way the engine starts it:
the program's folder as working directory, the engine's address as argument, the project's
runtime options as PULUMI_RUNTIME_* variables.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import Engine

pytestmark = [pytest.mark.e2e]

PROBE = """\
import pathlib, threading, time
pathlib.Path("preloaded").write_text("yes")
# A call still running when the engine stops the server: a thread the interpreter would wait
# for on a normal exit.
threading.Thread(target=time.sleep, args=(3600,), name="still-running").start()
"""


def start(engine: Engine, folder: Path, preload: str, ignore_sigint: bool) -> subprocess.Popen:
    def before_exec() -> None:
        if ignore_sigint:  # as `release plan &` in a script starts everything
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.Popen(
        [str(engine.bin_dir / "pulumi-resource-pulumi-python"), "127.0.0.1:1"],
        cwd=folder,
        env={
            **os.environ,
            "PULUMI_RUNTIME_VIRTUALENV": sys.prefix,
            "PULUMI_RUNTIME_PRELOAD": preload,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=before_exec,
    )


@pytest.mark.parametrize("ignore_sigint", [False, True], ids=["sigint-default", "sigint-ignored"])
def test_preloads_before_serving_and_sigint_ends_it_at_once(
    engine: Engine, tmp_path: Path, ignore_sigint: bool
) -> None:
    (tmp_path / "launcher_probe.py").write_text(PROBE)
    proc = start(engine, tmp_path, "launcher_probe, no_such_module", ignore_sigint)
    try:
        port = proc.stdout.readline().strip()
        assert port.isdigit(), (port, proc.stderr.read() if proc.poll() is not None else "")
        # Imported before the server said where it listens; a bad name did not stop it.
        assert (tmp_path / "preloaded").read_text() == "yes"
        proc.send_signal(signal.SIGINT)
        # The probe's thread would hold a normal interpreter exit for an hour.
        code = proc.wait(timeout=20)
    finally:
        proc.kill()
        proc.wait()
    assert code == 0
    errors = proc.stderr.read()
    assert "preload no_such_module: ModuleNotFoundError" in errors, errors
    assert "launcher_probe" not in errors, errors
