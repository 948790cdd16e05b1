"""Customer PPC rollout, the resources: one `pulumi_command` job per PPC, wave after wave,
and the optional smoke test before them. The rules (waves, the command template, the job's
environment) are in release/rules/ppcs.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
from pulumi_command import local

from release.rules.ppcs import (
    Ppc,
    PpcConfigError,
    pin_variables,
    plan_waves,
    ppc_environment,
    render_command,
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
    """Every PPC's update job for one release, wave after wave.

    Every PPC of wave N+1 waits for all of wave N through one gate Command per wave
    (`wave-<N>-done`, which depends on every PPC of wave N and runs a no-op echo); the
    first wave waits for `after`. PPCs of one wave do not depend on each other.

    `environment` is added to every job's environment (the train's own variables win);
    `dir` is the folder the jobs run in (default: the program's); `state` fills the
    template's `{state}` placeholder.

    Attributes: `waves` (the plan), `commands` (PPC name -> its Command), `gates` (one per
    wave but the last) and `results` (PPC name -> Output of {"release", "commit", "wave",
    "stdout"} as run).
    """

    waves: list[list[Ppc]]
    commands: dict[str, local.Command]
    gates: list[local.Command]
    results: dict[str, pulumi.Output[dict[str, object]]]

    def __init__(
        self,
        name: str,
        ppcs: list[Ppc],
        command: str,
        release: pulumi.Input[str],
        commit: pulumi.Input[str],
        pins: Mapping[str, pulumi.Input[str]] | None = None,
        after: Sequence[pulumi.Resource] = (),
        environment: Mapping[str, pulumi.Input[str]] | None = None,
        dir: str | None = None,
        state: str = "",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # Validate everything before registering anything.
        self.waves = plan_waves(list(ppcs))
        validate_template(command)
        pins = dict(pins or {})
        pin_names = pin_variables(pins)
        super().__init__("release-train:index:PpcRollout", name, None, opts)

        release_out = pulumi.Output.from_input(release)
        commit_out = pulumi.Output.from_input(commit)
        pin_values = {key: pulumi.Output.from_input(value) for key, value in pins.items()}
        base_env = {key: pulumi.Output.from_input(v) for key, v in (environment or {}).items()}
        triggers: list[pulumi.Input[str]] = [commit_out]
        triggers += [pulumi.Output.concat(key, "=", pin_values[key]) for key in sorted(pin_names)]

        self.commands = {}
        self.results = {}
        self.gates = []
        previous: list[pulumi.Resource] = list(after)
        for wave in self.waves:
            current: list[pulumi.Resource] = []
            for ppc in wave:
                create = pulumi.Output.all(release_out, commit_out).apply(
                    lambda rc, p=ppc: render_command(command, p.name, rc[0], rc[1], p.wave, state)
                )
                env = ppc_environment(ppc, release_out, commit_out, pin_values, base_env)
                cmd = local.Command(
                    f"ppc-{ppc.name}",
                    create=create,
                    environment=env,
                    triggers=triggers,
                    dir=dir,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=previous),
                )
                self.commands[ppc.name] = cmd
                self.results[ppc.name] = pulumi.Output.all(
                    release_out, commit_out, cmd.stdout
                ).apply(
                    lambda rcs, p=ppc: {
                        "release": rcs[0],
                        "commit": rcs[1],
                        "wave": p.wave,
                        "stdout": rcs[2],
                    }
                )
                current.append(cmd)
            if wave is not self.waves[-1]:
                # One gate per wave instead of wave x wave direct edges: the SDK checks each
                # depends_on edge for cycles by walking everything reachable from it, which
                # takes over a minute for 500 PPCs in 5 waves wired directly.
                gate = local.Command(
                    f"wave-{wave[0].wave}-done",
                    create=f"echo 'PPC wave {wave[0].wave} complete'",
                    opts=pulumi.ResourceOptions(parent=self, depends_on=current),
                )
                self.gates.append(gate)
                current = [gate]
            previous = current
        self.register_outputs({"ppcs": dict(self.results)})
