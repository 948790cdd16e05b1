"""Customer PPC rollout, the rules: the PPCs and their waves, the command template, the
job's environment (pure; release/program/ppc_rollout.py registers the waves).

Customer PPC rollout: the update of every customer's private deployment, in waves.

"After the Pulumi Service has been updated, and rolled out to production ... we then are
able to update customer PPCs." Each wave is one resource (release/providers/ppc_wave.py)
whose create runs every PPC of the wave at once through an executor; for the local-command
executor a PPC's job is the stack's command template rendered for that PPC, with the
release, the commit and the component pins in its environment. A new commit or new pins run
the waves again; an unchanged release runs nothing.

Waves: wave N+1's resource depends on wave N's, the first on production's merge (and the
optional verification command). A failing PPC fails its wave and the later waves never
start; the next `up` runs that wave again, and the jobs, idempotent per PPC and commit, do
only what is missing.

The planning (`plan_waves`, `validate_template`, `render_command`, `ppc_environment`) is
pure, here; `PpcRollout` and `verification` (release/program/ppc_rollout.py) only register
resources.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from release.rules.errors import ConfigProblem

if TYPE_CHECKING:
    import pulumi

PLACEHOLDERS = ("ppc", "release", "commit", "wave", "state")
"""The names a command template may use, each written `{name}`; `{state}` is the folder
where a job keeps its records (the stack's `ppcStateDir`), used by the sandbox's job."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED_PREFIXES = ("RELEASE_TRAIN_", "PIN_")


class PpcConfigError(ConfigProblem):
    """A PPC list, a pin or a command template that cannot be rolled out as given."""


@dataclass(frozen=True)
class Ppc:
    """One customer PPC: its name, the wave it is updated in, and extra job variables."""

    name: str
    wave: int
    vars: dict[str, str] = field(default_factory=dict)


def _validate_ppc(index: int, ppc: Ppc) -> None:
    label = f"ppcs[{index}] ({ppc.name!r})"
    if not isinstance(ppc.name, str) or not ppc.name:
        raise PpcConfigError(f"ppcs[{index}].name is empty: give every PPC a name, e.g. 'acme-eu'")
    if not _NAME.match(ppc.name):
        raise PpcConfigError(
            f"{label}.name {ppc.name!r} is not a valid PPC name: use lower-case letters, "
            "digits and '-', starting with a letter or digit (pattern ^[a-z0-9][a-z0-9-]*$)"
        )
    if isinstance(ppc.wave, bool) or not isinstance(ppc.wave, int) or ppc.wave < 1:
        raise PpcConfigError(
            f"{label}.wave {ppc.wave!r} is not a wave number: waves are whole numbers "
            "starting at 1 (wave 1 runs first, right after production's merge)"
        )
    for key, value in ppc.vars.items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise PpcConfigError(
                f"{label}.vars key {key!r} is not an environment variable name: use letters, "
                "digits and '_', not starting with a digit"
            )
        if key.upper().startswith(_RESERVED_PREFIXES):
            raise PpcConfigError(
                f"{label}.vars key {key!r} uses a reserved prefix "
                f"({', '.join(_RESERVED_PREFIXES)}): the rollout sets those itself; rename it"
            )
        if not isinstance(value, str):
            raise PpcConfigError(
                f"{label}.vars[{key!r}] is {value!r}, not a string: quote it in the stack config"
            )


def plan_waves(ppcs: list[Ppc]) -> list[list[Ppc]]:
    """Group PPCs into waves, in wave order, each wave sorted by name.

    Raises PpcConfigError naming the bad PPC and field for an empty or malformed name, a
    wave below 1, a duplicate name or a malformed variable. Wave numbers need not be
    contiguous: waves 1 and 3 make two waves, 3 running after 1.
    """
    seen: dict[str, int] = {}
    for index, ppc in enumerate(ppcs):
        _validate_ppc(index, ppc)
        if ppc.name in seen:
            raise PpcConfigError(
                f"ppcs[{index}].name {ppc.name!r} is a duplicate of ppcs[{seen[ppc.name]}]: "
                "each PPC must be listed once"
            )
        seen[ppc.name] = index
    waves: dict[int, list[Ppc]] = {}
    for ppc in sorted(ppcs, key=lambda p: (p.wave, p.name)):
        waves.setdefault(ppc.wave, []).append(ppc)
    return [waves[number] for number in sorted(waves)]


def parse_ppcs(config: object) -> list[Ppc]:
    """The production stack's `ppcs` setting: a list of {name, wave, vars?} mappings.

    The wave may be written as a number or a string of digits (as config files give it);
    the result is checked by plan_waves, so errors name the PPC and the field.
    """
    if config is None:
        return []
    if not isinstance(config, list):
        raise PpcConfigError(
            f"ppcs = {config!r}: give a list of {{name, wave, vars}} entries, e.g. "
            "[{name: acme, wave: 1}]"
        )
    ppcs: list[Ppc] = []
    for index, entry in enumerate(config):
        if not isinstance(entry, Mapping):
            raise PpcConfigError(
                f"ppcs[{index}] = {entry!r}: give a mapping {{name, wave, vars}}, "
                "e.g. {name: acme, wave: 1}"
            )
        unknown = sorted(set(entry) - {"name", "wave", "vars"})
        if unknown:
            raise PpcConfigError(
                f"ppcs[{index}] has unknown key(s) {', '.join(map(str, unknown))}: "
                "a PPC has name, wave and vars"
            )
        wave = entry.get("wave", 1)
        if isinstance(wave, str) and wave.strip().isdigit():
            wave = int(wave)
        variables = entry.get("vars") or {}
        if not isinstance(variables, Mapping):
            raise PpcConfigError(
                f"ppcs[{index}].vars = {variables!r}: give a mapping of variable names to values"
            )
        ppcs.append(Ppc(name=entry.get("name") or "", wave=wave, vars=dict(variables)))
    plan_waves(ppcs)
    return ppcs


def validate_template(template: str) -> None:
    """Check that a command template uses only the known placeholders.

    Literal braces are written doubled (`{{` and `}}`), as in Python's str.format.
    """
    if not isinstance(template, str) or not template.strip():
        raise PpcConfigError(
            "ppcCommand is empty: give the command that updates one PPC, e.g. "
            "'python -m release.ppc_deploy --state .state/ppcs --ppc {ppc} "
            "--release {release} --commit {commit}'"
        )
    known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise PpcConfigError(
            f"ppcCommand {template!r} is not a valid template ({exc}): placeholders are "
            f"{known}; write a literal brace as '{{{{' or '}}}}'"
        ) from None
    quote = ""  # the shell quoting open at this point of the template: "", "'" or '"'
    for literal, name, spec, conversion in parsed:
        quote, escaped = _quoting_after(literal, quote)
        if name is None:
            continue
        if quote or escaped:
            raise PpcConfigError(
                f"ppcCommand {template!r} puts placeholder {{{name}}} inside shell quotes or "
                f"after a backslash: write it bare ({{{name}}}, not '{{{name}}}' or "
                f'"{{{name}}}"); each placeholder is shell-quoted for you, and quoting it '
                "again would let its value reach the shell"
            )
        if name not in PLACEHOLDERS:
            shown = "{" + name + "}" if name else "{}"
            raise PpcConfigError(
                f"ppcCommand {template!r} uses unknown placeholder {shown}: the known "
                f"placeholders are {known}; put per-PPC values in the PPC's vars, which "
                "reach the command as environment variables"
            )
        if spec or conversion:
            raise PpcConfigError(
                f"ppcCommand {template!r} formats placeholder {{{name}}} with "
                f"'{'!' + conversion if conversion else ''}{':' + spec if spec else ''}': "
                f"write the bare placeholder {{{name}}}"
            )


def _quoting_after(literal: str, quote: str) -> tuple[str, bool]:
    """The shell quote still open after `literal`, starting inside `quote`, and whether
    `literal` ends in an escaping backslash (POSIX sh rules: nothing is special inside
    '...'; a backslash escapes the next character outside quotes and inside "...")."""
    escaped = False
    for char in literal:
        if escaped:
            escaped = False
        elif quote == "'":
            quote = "" if char == "'" else quote
        elif char == "\\":
            escaped = True
        elif char == quote:
            quote = ""
        elif not quote and char in "'\"":
            quote = char
    return quote, escaped


def render_command(
    template: str, ppc: str, release: str, commit: str, wave: int, state: str = ""
) -> str:
    """The command for one PPC: the template with each placeholder shell-quoted."""
    validate_template(template)
    values = {"ppc": ppc, "release": release, "commit": commit, "wave": str(wave), "state": state}
    return template.format(**{key: shlex.quote(value) for key, value in values.items()})


def pin_variable(name: str) -> str:
    """The environment variable carrying a component pin: `PIN_` + the upper-cased name."""
    if not isinstance(name, str) or not name:
        raise PpcConfigError("a component pin has an empty name: name every pin, e.g. 'sdk'")
    variable = "PIN_" + re.sub(r"[^A-Z0-9]", "_", name.upper())
    if not _ENV_NAME.match(variable):
        raise PpcConfigError(f"component pin name {name!r} cannot become an environment variable")
    return variable


def pin_variables(pins: Mapping[str, object]) -> dict[str, str]:
    """Map each pin name to its variable; two pins mapping to one variable is an error."""
    by_variable: dict[str, str] = {}
    for name in sorted(pins):
        variable = pin_variable(name)
        if variable in by_variable:
            raise PpcConfigError(
                f"component pins {by_variable[variable]!r} and {name!r} both become "
                f"{variable}: rename one of them"
            )
        by_variable[variable] = name
    return {name: variable for variable, name in by_variable.items()}


def ppc_environment(
    ppc: Ppc,
    release: pulumi.Input[str],
    commit: pulumi.Input[str],
    pins: Mapping[str, pulumi.Input[str]],
    base: Mapping[str, pulumi.Input[str]] | None = None,
) -> dict[str, pulumi.Input[str]]:
    """The environment of one PPC's job: base, then the PPC's vars, then the train's own.

    The train's variables (RELEASE_TRAIN_*, PIN_*) always win; the PPC's vars may not use
    those prefixes (plan_waves refuses them).
    """
    env: dict[str, pulumi.Input[str]] = dict(base or {})
    env.update(ppc.vars)
    env["RELEASE_TRAIN_PPC"] = ppc.name
    env["RELEASE_TRAIN_RELEASE"] = release
    env["RELEASE_TRAIN_COMMIT"] = commit
    env["RELEASE_TRAIN_WAVE"] = str(ppc.wave)
    for name, variable in pin_variables(pins).items():
        env[variable] = pins[name]
    return env
