"""The end-to-end harness: the real Pulumi CLI, driven through the Automation API.

Every e2e test runs a copy of a program folder from tests/e2e/programs/ on a LocalWorkspace with
its own file backend, passphrase and PULUMI_HOME, against the engine `make pulumi` installs
(scripts/install-pulumi.sh). Plugins resolve locally: the language host and the dynamic-provider
launcher sit next to the CLI, and the command plugin is installed into PULUMI_HOME from the built
binary; ambient plugins on PATH are ignored, so a version mismatch fails instead of downloading.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).resolve().parent / "programs"
INSTALLER = ROOT / "scripts" / "install-pulumi.sh"


def run_release(
    env: dict[str, str], *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`release ARGS` as a process of its own (`python -m release` in this checkout), with
    `env`, no stdin, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "release", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


NEEDED = ("pulumi", "pulumi-language-python", "pulumi-resource-pulumi-python")


class EngineMissing(Exception):
    """The Pulumi engine is not installed where the installer says it is."""


@dataclass(frozen=True)
class Engine:
    """An installed Pulumi CLI and the plugins beside it."""

    bin_dir: Path

    @property
    def pulumi(self) -> Path:
        return self.bin_dir / "pulumi"

    def command(self) -> auto.PulumiCommand:
        return auto.PulumiCommand(root=str(self.bin_dir.parent))

    def run(self, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.pulumi), *args],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )


def find_engine() -> Engine:
    """The engine the installer put in place, or EngineMissing saying how to install it."""
    try:
        out = subprocess.run(
            [str(INSTALLER), "--print-bin-dir"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise EngineMissing(
            f"{INSTALLER} --print-bin-dir failed ({exc}); run `make pulumi`"
        ) from exc
    bin_dir = Path(out)
    missing = [name for name in NEEDED if not (bin_dir / name).exists()]
    if missing:
        raise EngineMissing(
            f"the Pulumi engine is not installed in {bin_dir} (missing: {', '.join(missing)}); "
            "run `make pulumi` to build it"
        )
    return Engine(bin_dir)


def command_plugin_version() -> str:
    """The version of the command plugin the pulumi-command Python package asks the engine for."""
    return metadata.version("pulumi-command")


def prepare_pulumi_home(engine: Engine, home: Path) -> None:
    """A fresh PULUMI_HOME holding the command plugin at the Python package's version."""
    home.mkdir(parents=True, exist_ok=True)
    plugin = engine.bin_dir / "pulumi-resource-command"
    if plugin.exists():
        engine.run(
            "plugin",
            "install",
            "resource",
            "command",
            command_plugin_version(),
            "--file",
            str(plugin),
            env=base_env(home),
        )


def base_env(pulumi_home: Path) -> dict[str, str]:
    return {
        "PULUMI_HOME": str(pulumi_home),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }


def project_virtualenv() -> Path:
    """The virtualenv running the tests (the project's .venv under `make test`)."""
    return Path(sys.prefix).resolve()


def copy_program(name: str, dest: Path) -> Path:
    """A copy of tests/e2e/programs/NAME whose Pulumi.yaml names this virtualenv absolutely.

    The stack files the workspace writes then land in the copy, not in the repository.
    """
    target = dest / name
    shutil.copytree(PROGRAMS / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    project_file = target / "Pulumi.yaml"
    project = yaml.safe_load(project_file.read_text())
    runtime = project.get("runtime")
    if isinstance(runtime, str):
        runtime = {"name": runtime}
    runtime.setdefault("options", {})["virtualenv"] = str(project_virtualenv())
    project["runtime"] = runtime
    project_file.write_text(yaml.safe_dump(project, sort_keys=False))
    return target


@dataclass
class Run:
    """One stack under test, with the engine's output kept for failure messages."""

    stack: auto.Stack
    log: list[str] = field(default_factory=list)

    def _out(self) -> Callable[[str], None]:
        return self.log.append

    def preview(self, **kwargs: Any) -> auto.PreviewResult:
        return self.stack.preview(on_output=self._out(), **kwargs)

    def up(self, **kwargs: Any) -> auto.UpResult:
        return self.stack.up(on_output=self._out(), **kwargs)

    def refresh(self, **kwargs: Any) -> auto.RefreshResult:
        return self.stack.refresh(on_output=self._out(), **kwargs)

    def destroy(self, **kwargs: Any) -> auto.DestroyResult:
        return self.stack.destroy(on_output=self._out(), **kwargs)

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs as plain values (secrets included, unwrapped)."""
        return {k: v.value for k, v in self.stack.outputs().items()}

    def set_config(self, values: dict[str, str], secret: dict[str, str] | None = None) -> None:
        for key, value in values.items():
            self.stack.set_config(key, auto.ConfigValue(value=value))
        for key, value in (secret or {}).items():
            self.stack.set_config(key, auto.ConfigValue(value=value, secret=True))

    def resources(self) -> list[dict[str, Any]]:
        """The resources in the stack's state, as `pulumi stack export` shows them."""
        deployment = self.stack.export_stack().deployment or {}
        return list(deployment.get("resources") or [])

    def transcript(self) -> str:
        return "".join(self.log)


def changes(counts: dict[str, int]) -> dict[str, int]:
    """Operation counts other than `same`: empty when nothing changed."""
    return {op: n for op, n in counts.items() if op != "same" and n}


@dataclass
class Harness:
    """Everything an e2e test needs to run stacks: engine, isolated home and state, env."""

    engine: Engine
    pulumi_home: Path
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        """The file backend's directory."""
        return self.workdir / "state"

    def state_files_text(self) -> str:
        """Everything the file backend wrote, as stored (secrets encrypted), for leak checks."""
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.state_dir.rglob("*")) if p.is_file()
        )

    def env(self) -> dict[str, str]:
        state = self.state_dir
        state.mkdir(parents=True, exist_ok=True)
        path = os.pathsep.join(
            [
                str(self.engine.bin_dir),
                str(project_virtualenv() / "bin"),
                os.environ.get("PATH", ""),
            ]
        )
        return {
            **base_env(self.pulumi_home),
            "PULUMI_BACKEND_URL": f"file://{state}",
            "PULUMI_CONFIG_PASSPHRASE": self.passphrase,
            "PATH": path,
            "PYTHONPATH": str(ROOT),
            **self.extra_env,
        }

    def __post_init__(self) -> None:
        self.passphrase = secrets.token_urlsafe(24)

    def stack(self, program: str, stack_name: str = "e2e") -> Run:
        """A new stack of a copy of tests/e2e/programs/PROGRAM."""
        work_dir = copy_program(program, self.workdir / "programs")
        workspace = auto.LocalWorkspace(
            work_dir=str(work_dir),
            pulumi_home=str(self.pulumi_home),
            env_vars=self.env(),
            pulumi_command=self.engine.command(),
        )
        return Run(auto.Stack.create(stack_name, workspace))

    def plugin_list(self) -> list[dict[str, Any]]:
        """`pulumi plugin ls --json` in this harness's PULUMI_HOME."""
        return json.loads(self.engine.run("plugin", "ls", "--json", env=self.env()).stdout)
