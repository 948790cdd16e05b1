"""The Automation API driver: a LocalWorkspace on the project folder, one stack per environment.

It lives apart from the Pulumi program (release/program/): the `release` command line
calls it to preview, pin and run `up`, and to read each stack's outputs and history.
State goes to a file backend inside the project by default (no Pulumi Cloud login);
secrets are encrypted with a passphrase (the sandbox default is documented in the README).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto
from semver import VersionInfo

from release.engine import backends
from release.engine.lifetime import BoundPulumi
from release.engine.recovery import (
    recover,
    restore_checkpoint,
    set_aside_broken_sidecars,
)
from release.rules.config import NAMESPACE, STACK_EXAMPLE, StackFileError, stack_config
from release.rules.errors import ConfigProblem
from release.rules.text import engine_line, plain

PROJECT_DIR = Path(__file__).resolve().parents[2]
SANDBOX_PASSPHRASE = "release-train-sandbox"


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest folder from `start` (the current one) up that holds a Pulumi.yaml, else
    the checkout this package runs from (an installed `release` run outside a project)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    return PROJECT_DIR


@dataclass
class Project:
    """Where the program, its stack files and its state live."""

    directory: Path = PROJECT_DIR
    backend_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def backend(self) -> str:
        """The state backend URL; a local `file://` folder is created when missing."""
        url = (
            self.backend_url
            or os.environ.get("PULUMI_BACKEND_URL")
            or f"file://{self.directory / '.state'}"
        )
        if url.startswith("file://"):
            Path(url.removeprefix("file://")).expanduser().mkdir(parents=True, exist_ok=True)
        return url

    def env_vars(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {"PULUMI_BACKEND_URL": self.backend(), "PULUMI_SKIP_UPDATE_CHECK": "true"}
        if not (
            os.environ.get("PULUMI_CONFIG_PASSPHRASE")
            or os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
            or "PULUMI_CONFIG_PASSPHRASE" in self.env
            or "PULUMI_CONFIG_PASSPHRASE_FILE" in self.env
        ):
            env["PULUMI_CONFIG_PASSPHRASE"] = SANDBOX_PASSPHRASE
        env.update(self.env)
        env.update(extra or {})
        return env

    def stack_names(self) -> list[str]:
        """The stacks that have a `Pulumi.<stack>.yaml`, in promotion order."""
        names = [
            p.name[len("Pulumi.") : -len(".yaml")] for p in self.directory.glob("Pulumi.*.yaml")
        ]
        chain = {name: self._promotes_from(name) for name in names}
        ordered: list[str] = []
        while len(ordered) < len(names):
            ready = sorted(
                n for n in names if n not in ordered and (chain[n] in ordered or chain[n] is None)
            )
            if not ready:
                ordered += sorted(set(names) - set(ordered))
                break
            ordered += ready
        return ordered

    def _promotes_from(self, stack: str) -> str | None:
        """A stack's `promotesFrom` for ordering the stacks; a broken file orders as a root
        (the command that works on that stack names what is wrong with it)."""
        try:
            value = self.stack_file(stack).get("promotesFrom")
        except StackFileError:
            return None
        return value if isinstance(value, str) else None

    def stack_file(self, stack: str) -> dict[str, Any]:
        """The raw `release-train:*` config of a stack file, keys without the namespace.

        Raises StackFileError (a ConfigError) naming the file, and the line, when the file is
        missing, empty, not YAML or names a key twice."""
        path = self.directory / f"Pulumi.{stack}.yaml"
        try:
            text: str | None = path.read_text()
        except FileNotFoundError:
            text = None
        except (OSError, UnicodeDecodeError) as err:
            raise StackFileError(path.name, f"cannot be read ({err})", "check the file") from None
        return parse_stack_file(path.name, text)


# libyaml's parser when PyYAML has it (about ten times faster than the pure-Python one: the
# command line reads Pulumi.yaml and the stack files several times a run).
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):
    """A safe YAML loader that refuses a mapping naming one key twice (the engine does too)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if not isinstance(key, str | int | float | bool):
                continue
            if key in seen:
                raise StackFileError(
                    self.file,
                    f"the key {key!r} is given twice",
                    "keep one of them",
                    key_node.start_mark.line + 1,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    file = "the stack file"


def parse_stack_file(file: str, text: str | None) -> dict[str, Any]:
    """The raw `release-train:*` keys (without the namespace) of a stack file's `text`.

    `file` is the name errors give (Pulumi.<stack>.yaml); None text is a missing file. Raises
    StackFileError naming the file (and the line) for a missing or empty file, YAML that
    does not parse, a key given twice, or a `config:` that is not a mapping.
    """
    if text is None:
        raise StackFileError(
            file, "the stack file does not exist", f"create it with {STACK_EXAMPLE}"
        )
    loader = type("_Loader", (_UniqueKeyLoader,), {"file": file})
    try:
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = " ".join(str(part) for part in (err.context, err.problem) if part)
        raise StackFileError(
            file,
            f"not valid YAML ({problem})",
            "fix the YAML at that line (indent with spaces, quote values with ': ' or '#')",
            mark.line + 1 if mark else None,
        ) from None
    except yaml.YAMLError as err:
        raise StackFileError(file, f"not valid YAML ({err})", "fix the YAML") from None
    return stack_config(file, data)


def pulumi_command() -> auto.PulumiCommand:
    """The Pulumi CLI: RELEASE_TRAIN_PULUMI_ROOT/bin/pulumi, else `pulumi` on PATH.

    Building a PulumiCommand runs `pulumi version` to check the CLI (a fifth of a second);
    that is done once per binary: its version is remembered in the user's cache folder,
    keyed by the binary's path, size and modification time.
    """
    return _pulumi_command(os.environ.get("RELEASE_TRAIN_PULUMI_ROOT") or "")


VERSION_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / (
    "release-train/pulumi-versions.json"
)


@functools.cache
def _pulumi_command(root: str) -> auto.PulumiCommand:
    binary = str(Path(root) / "bin" / "pulumi") if root else shutil.which("pulumi")
    if not binary:
        raise RuntimeError(
            "the Pulumi CLI was not found: run `make pulumi` (it builds it if needed) and put "
            "its bin directory on PATH (`scripts/install-pulumi.sh --print-bin-dir`)"
        )
    key = _binary_key(binary)
    known = _read_versions().get(key) if key else None
    if known:  # checked on an earlier run
        return BoundPulumi("pulumi" if not root else binary, VersionInfo.parse(known))
    command = auto.PulumiCommand(root=root) if root else auto.PulumiCommand()
    if key and command.version is not None:
        _remember_version(key, str(command.version))
    # Every CLI run is part of this command's engine tree: it dies with the command.
    return BoundPulumi(command.command, command.version)


def _binary_key(binary: str) -> str | None:
    try:
        real = Path(binary).resolve()
        info = real.stat()
    except OSError:
        return None
    return f"{real}:{info.st_size}:{info.st_mtime_ns}"


def _read_versions() -> dict[str, str]:
    try:
        data = json.loads(VERSION_CACHE.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remember_version(key: str, version: str) -> None:
    versions = {k: v for k, v in _read_versions().items() if Path(k.rsplit(":", 2)[0]).exists()}
    versions[key] = version
    try:
        VERSION_CACHE.parent.mkdir(parents=True, exist_ok=True)
        temp = VERSION_CACHE.with_name(f"{VERSION_CACHE.name}.{os.getpid()}")
        temp.write_text(json.dumps(versions, indent=1))
        temp.replace(VERSION_CACHE)
    except OSError:
        pass  # a read-only home only costs the check again next time


def stack(project: Project, name: str, extra_env: Mapping[str, str] | None = None) -> auto.Stack:
    """Create or select stack `name` on the project folder."""
    backend, project_id = project.backend(), project_name(project)
    for note in (
        restore_checkpoint(backend, project_id, name),
        set_aside_broken_sidecars(backend, project_id, name),
    ):
        if note:
            print(f"recovered: {plain(note)}", file=sys.stderr, flush=True)
    workspace = _Workspace(
        work_dir=str(project.directory),
        env_vars=project.env_vars(extra_env),
        pulumi_command=pulumi_command(),
    )
    if backends.has_stack(backend, project_id, name):
        workspace.existing = frozenset({name})
    return auto.Stack.create_or_select(name, workspace)


class _Workspace(auto.LocalWorkspace):
    """A LocalWorkspace that runs no `pulumi stack select` for a stack known to exist.

    Every command a Stack runs names its stack (`--stack`), so selecting one only changes
    which stack a bare `pulumi` in the folder would use; it costs a whole CLI run.
    """

    existing: frozenset[str] = frozenset()

    def select_stack(self, stack_name: str) -> None:
        if stack_name not in self.existing:
            super().select_stack(stack_name)


def project_name(project: Project) -> str:
    """The `name` of the project's Pulumi.yaml."""
    text = (project.directory / "Pulumi.yaml").read_text()
    data = yaml.load(text, Loader=_SafeLoader) or {}  # noqa: S506 - a safe loader
    return str(data.get("name", ""))


def outputs(project: Project, name: str) -> dict[str, Any]:
    """A stack's outputs as plain values (secrets stay masked as "[secret]").

    Where the backend is read directly (`file://`, `postgres://`: release.engine.backends) they come
    from the stack's checkpoint, which needs no engine run and no passphrase (the CLI's
    `stack output` costs three runs and a key derivation). Elsewhere, and for a stack with
    no readable checkpoint, from one `pulumi stack export`, which every backend serves.
    """
    found = checkpoint_outputs(project.backend(), project_name(project), name)
    if found is not None:
        return found
    return exported_outputs(project, name)


def exported_outputs(project: Project, name: str) -> dict[str, Any]:
    """The outputs in `pulumi stack export` of the stack (no passphrase needed: secrets stay
    ciphertext, shown as "[secret]"); {} for a stack the backend does not have."""
    return root_outputs(exported_resources(project, name))


def exported_resources(project: Project, name: str) -> list[dict[str, Any]]:
    """The resources in `pulumi stack export` of the stack, which every backend serves; []
    for a stack the backend does not have (nothing is created: no `stack select`)."""
    try:
        result = pulumi_command().run(
            ["stack", "export", "--stack", name],
            cwd=str(project.directory),
            additional_env=project.env_vars(),
        )
        deployment = json.loads(result.stdout).get("deployment") or {}
        resources = deployment.get("resources") or []
    except (auto.CommandError, ValueError, AttributeError):
        return []
    return resources if isinstance(resources, list) else []


SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"
"""The key that marks a secret value in a Pulumi checkpoint."""


def checkpoint_outputs(backend_url: str, project: str, name: str) -> dict[str, Any] | None:
    """The root stack outputs in the checkpoint of `project`/`name`, read from the backend.

    None when the backend is not read directly (release.engine.backends) or holds no whole
    checkpoint for the stack. Secret values, at any depth, come back as "[secret]" (their
    ciphertext is never returned).
    """
    found = checkpoint_resources(backend_url, project, name)
    return None if found is None else root_outputs(found)


def checkpoint_resources(backend_url: str, project: str, name: str) -> list[Any] | None:
    """The resources of the latest checkpoint of `project`/`name`, read from the backend
    (outputs as stored: secrets still ciphertext). None when the backend is not read directly
    (release.engine.backends) or holds no whole checkpoint this code knows: ask the CLI."""
    document = backends.checkpoint(backend_url, project, name)
    if document is None:
        return None
    try:
        resources = (document["checkpoint"].get("latest") or {}).get("resources") or []
    except (KeyError, TypeError, AttributeError):
        return None
    return resources if isinstance(resources, list) else None


def stored_resources(project: Project, name: str) -> list[Any]:
    """The resources of the stack's state as stored: from its checkpoint where the backend is
    read directly, else from `pulumi stack export`; [] for a stack the backend does not
    have. Reading never creates the stack."""
    found = checkpoint_resources(project.backend(), project_name(project), name)
    return found if found is not None else exported_resources(project, name)


def root_outputs(resources: list[Any]) -> dict[str, Any]:
    """The masked outputs of the root `pulumi:pulumi:Stack` resource of a deployment."""
    for resource in resources:
        if (
            isinstance(resource, dict)
            and resource.get("type") == "pulumi:pulumi:Stack"
            and not resource.get("parent")
        ):
            return {k: _masked(v) for k, v in (resource.get("outputs") or {}).items()}
    return {}


def resources(project: Project, name: str) -> list[dict[str, Any]]:
    """The stack's resources (urn, type, delete, outputs with secrets masked) from its state.

    Read from the checkpoint where the backend is read directly (`file://`, `postgres://`:
    release.engine.backends; no engine run), else exported by the CLI (`stored_resources`). A
    stack with no state has none.
    """
    return [
        {
            "urn": r.get("urn"),
            "type": r.get("type"),
            "delete": r.get("delete"),
            "outputs": _masked(r.get("outputs") or {}),
        }
        for r in stored_resources(project, name)
        if isinstance(r, dict)
    ]


def train_state(project: Project, name: str, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The outputs in the stack's state of the top-level resources called `names` (resource
    name -> outputs, secrets masked); what a run's notifications are measured against. A
    stack with no state, or one that cannot be read, has none."""
    found: dict[str, dict[str, Any]] = {}
    try:
        listed = resources(project, name)
    except Exception:  # noqa: BLE001 - no state to compare: the run's events are all new
        return found
    for resource in listed:
        urn = str(resource.get("urn") or "")
        short = urn.rsplit("::", 1)[-1]
        if short in names and not resource.get("delete") and "$" not in urn.split("::")[-2]:
            found[short] = dict(resource.get("outputs") or {})
    return found


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        if SECRET_SIGNATURE in value:
            return "[secret]"
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def pin(project: Project, name: str, values: Mapping[str, str]) -> None:
    """Write static `release-train:<key>` settings into the stack's config file (the demo
    and the tests set up stacks with it). No `release` command calls it: intent lives in
    the stack's record, never in `Pulumi.<stack>.yaml`."""
    target = stack(project, name)
    for key, value in values.items():
        target.set_config(f"{NAMESPACE}:{key}", auto.ConfigValue(value=value))


def set_secret(project: Project, name: str, key: str, value: str) -> None:
    """Store a secret (encrypted) in the stack's config file."""
    stack(project, name).set_config(f"{NAMESPACE}:{key}", auto.ConfigValue(value, secret=True))


def secret(project: Project, name: str, key: str) -> str | None:
    """A `release-train:<key>` value of the stack, decrypted, or None when it is not set.

    Any other failure of the engine (a wrong passphrase, a state it cannot read) is not
    "not set": it raises a `ConfigProblem` naming the key and the engine's own error line,
    which holds no secret (the value was not decrypted); the command line puts the stack
    file first."""
    try:
        value = stack(project, name).get_config(f"{NAMESPACE}:{key}").value
    except auto.CommandError as err:
        text = str(err)
        if f"configuration key '{NAMESPACE}:{key}' not found" in text:
            return None
        lines = [plain(ln) for ln in text.splitlines() if "error:" in ln]
        cause = lines[-1].split("error:", 1)[-1].strip() if lines else "the engine failed"
        check = (
            "check PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) is the stack's, "
            "then run the command again"
            if "passphrase" in cause or "decrypt" in cause
            else "the engine could not read the stack's state; run the command again"
        )
        raise ConfigProblem(
            f"config {NAMESPACE}:{key} could not be decrypted: {cause}; {check} "
            f"(`pulumi config get {NAMESPACE}:{key} -s {name}` shows the engine's whole answer)",
            key=key,
        ) from None
    return value or None


def state_resources(stack: auto.Stack) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, URN, outputs) of each resource in the stack's state, in state order; the one
    scan of a stack's state by resource name. Resources pending deletion are left out."""
    deployment = stack.export_stack().deployment or {}
    found = []
    for resource in deployment.get("resources") or []:
        if resource.get("delete"):
            continue
        urn = str(resource.get("urn", ""))
        found.append((urn.rsplit("::", 1)[-1], urn, dict(resource.get("outputs") or {})))
    return found


def up(
    stack: auto.Stack,
    message: str | None = None,
    on_output: Callable[[str], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> auto.UpResult:
    """The one way release-train runs `up`: first clear what a crashed earlier run left
    (its stale lock, its pending operations: release.engine.recovery), saying so through
    `on_note`, then `up` (the engine's own parallelism: a PPC wave is one resource)."""
    emit = on_output or printer()
    for note in recover(stack, emit):
        (on_note or emit)(note)
    return stack.up(message=message, on_output=emit)


def printer(prefix: str = "") -> Callable[[str], None]:
    """Prints the engine's output stream, which carries forge text (commit titles in the
    lost-fix check, check names): escape sequences dropped, control characters shown."""

    def emit(line: str) -> None:
        print(prefix + engine_line(line.rstrip("\n")), flush=True)

    return emit
