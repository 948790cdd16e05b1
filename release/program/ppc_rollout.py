"""Customer PPC rollout, the resources: one `PpcWave` resource per wave, wave after wave,
each updating all of its PPCs at once through an executor, and the optional smoke test
before them. The rules (waves, the command template, the job's
environment) are in release/rules/ppcs.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi_command import local

from release.providers.ppc_wave import PpcWave, executor_from
from release.rules.ppcs import (
    Ppc,
    PpcConfigError,
    pin_variables,
    plan_waves,
    validate_template,
)


def verification(
    name: str,
    command: str,
    after: Sequence[pulumi.Resource],
    triggers: Sequence[pulumi.Input[str]] | None = None,
    environment: Mapping[str, pulumi.Input[str]] | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> local.Command:
    """The smoke test run after production's merge and before the PPC rollout.

    Pass the release's commit in `triggers` so each release is verified once; the rollout
    then lists the returned Command in its `after`.
    """
    if not isinstance(command, str) or not command.strip():
        raise PpcConfigError(
            "verifyCommand is empty: give the smoke test command, or leave the key out "
            "to roll PPCs out right after production's merge"
        )
    return local.Command(
        name,
        create=command,
        environment=dict(environment) if environment else None,
        triggers=list(triggers) if triggers else None,
        opts=pulumi.ResourceOptions.merge(
            pulumi.ResourceOptions(depends_on=list(after)), opts or pulumi.ResourceOptions()
        ),
    )


class PpcRollout(pulumi.ComponentResource):
    """Every PPC's update for one release: one `PpcWave` resource per wave
    (release/providers/ppc_wave.py), wave after wave.

    Wave N+1's resource depends on wave N's, the first on `after`; each runs all of its
    wave's PPCs at once through the executor `executor` describes (plain data; default: the
    local command `command`, rendered per PPC; `RolloutSettings.actions_spec` for GitHub
    Actions). A wave whose PPC fails fails, so no later
    wave starts.

    `environment` is added to every job's environment (the train's own variables win);
    `dir` is the folder the jobs run in (default: the program's); `state` fills the
    template's `{state}` placeholder. With `deployments` ({api_url, repository}), each PPC's
    update is also a GitHub Deployment to `ppc/<name>` (release/deployments.py).

    Attributes: `waves` (the plan), `resources` (wave number -> its PpcWave) and `outcomes`
    (an Output of the JSON text of PPC name -> {"wave", "ok", "detail", "url"}, every PPC
    once all waves ran).
    """

    waves: list[list[Ppc]]
    resources: dict[int, PpcWave]
    outcomes: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        ppcs: list[Ppc],
        command: str | None,
        release: pulumi.Input[str],
        commit: pulumi.Input[str],
        pins: Mapping[str, pulumi.Input[str]] | None = None,
        after: Sequence[pulumi.Resource] = (),
        environment: Mapping[str, pulumi.Input[str]] | None = None,
        dir: str | None = None,
        state: str = "",
        executor: Mapping[str, Any] | None = None,
        deployments: Mapping[str, pulumi.Input[str]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # Validate everything before registering anything.
        self.waves = plan_waves(list(ppcs))
        if executor is None:  # another executor may have no use for the command template
            validate_template(command or "")
        pins = dict(pins or {})
        pin_variables(pins)
        spec = dict(executor or command_spec(command or "", state, dir))
        executor_from(spec)  # a bad spec is refused here, before any resource
        super().__init__("release-train:index:PpcRollout", name, None, opts)

        self.resources = {}
        previous: list[pulumi.Resource] = list(after)
        for wave in self.waves:
            number = wave[0].wave
            resource = PpcWave(
                f"ppc-wave-{number}",
                wave=number,
                release=release,
                commit=commit,
                ppcs=wave,
                pins=pins,
                environment=dict(environment or {}),
                executor=spec,
                deployments=deployments,
                opts=pulumi.ResourceOptions(parent=self, depends_on=previous),
            )
            self.resources[number] = resource
            previous = [resource]
        # As JSON text: a structured value of every PPC would be lifted, element by
        # element, into Outputs by the SDK (about a millisecond per PPC).
        texts = [
            resource.outcomes.apply(lambda found, n=number: _outcomes_text(n, found))
            for number, resource in self.resources.items()
        ]
        self.outcomes = pulumi.Output.all(*texts).apply(_merged_text)
        self.register_outputs({"ppcs": self.outcomes})


def _outcomes_text(wave: int, found: Mapping[str, Any] | None) -> str:
    return json.dumps({ppc: {"wave": wave, **dict(o)} for ppc, o in (found or {}).items()})


def _merged_text(texts: Sequence[str]) -> str:
    merged: dict[str, Any] = {}
    for text in texts:
        merged.update(json.loads(text))
    return json.dumps(dict(sorted(merged.items())), separators=(",", ":"))


def command_spec(command: str, state: str = "", dir: str | None = None) -> dict[str, Any]:
    """The executor spec of the local-command executor (release/providers/ppc_command.py)."""
    spec: dict[str, Any] = {"kind": "command", "command": command, "state": state}
    if dir:
        spec["dir"] = dir
    return spec
