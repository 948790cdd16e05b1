"""After production's merge: the smoke test, the customer PPC rollout, and the guardrails.

"After the Pulumi Service has been updated, and rolled out to production ... we then are
able to update customer PPCs." A promotion stack whose config lists `ppcs` gets, in the
same `up` and after its Merge resource:

1. the optional verification command (`verifyCommand`, a smoke test), run once per release;
2. the PPC rollout (`PpcRollout`, release/ppc.py): one `ppcCommand` job per PPC, wave after
   wave, each with the release, its head commit and the component pins of the payload's
   new end as environment and triggers.

Both wait for the merge through data: their inputs carry the Merge resource's merge commit,
so the engine records the dependency and starts them only once the merge succeeded (a
refused gate fails the merge, and nothing after it starts).

A stack with `manageProtection: true` also registers `Guardrails` (release/guardrails.py):
GitHub's own branch protection and environments, with `pulumi_github`.

This module also owns the validation of the keys around the train (`ppcs`, `ppcCommand`,
`ppcStateDir`, `verifyCommand`, `cadence`, `oncall`, `freezes`, `notifyWebhook`,
`manageProtection`, `reviewerTeam`): `parse_rollout` is pure and raises
release.config.ConfigError (key, value, fix); `promote_with_rollout` runs it before any
resource of the promotion is registered. The webhook is only checked here (set, an http(s)
URL, stored as a secret): notifications are sent by the command line, so its URL never
reaches a resource's inputs or the stack's state.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from release.cadence import (
    Cadence,
    CadenceConfigError,
    Freeze,
    Oncall,
    parse_cadence,
    parse_freezes,
    parse_oncall,
)
from release.config import DEFAULT_API_URL, NAMESPACE, ConfigError, Settings, parse_settings
from release.guardrails import Guardrails, GuardrailsArgs, GuardrailsError
from release.ppc import (
    Ppc,
    PpcConfigError,
    PpcRollout,
    parse_ppcs,
    plan_waves,
    validate_template,
    verification,
)

ROLLOUT_KEYS = (
    "ppcs",
    "ppcCommand",
    "ppcStateDir",
    "verifyCommand",
    "cadence",
    "oncall",
    "freezes",
    "notifyWebhook",
    "manageProtection",
    "reviewerTeam",
)
"""The config keys this module validates (Pulumi.yaml declares each with a default)."""

DEFAULT_STATE_DIR = ".state/ppcs"
HIDDEN = "<hidden>"  # how a webhook value is shown in an error: never its text

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class RolloutSettings:
    """The validated keys around the train for one stack."""

    ppcs: tuple[Ppc, ...] = ()
    ppc_command: str | None = None
    ppc_state_dir: str = DEFAULT_STATE_DIR
    verify_command: str | None = None
    cadence: Cadence = Cadence()
    oncall: Oncall | None = None
    freezes: tuple[Freeze, ...] = ()
    has_webhook: bool = False
    manage_protection: bool = False
    reviewer_team: str | None = None

    def wave_of(self, ppc: str) -> int | None:
        """The wave a configured PPC is updated in, or None."""
        for item in self.ppcs:
            if item.name == ppc:
                return item.wave
        return None

    def up_parallelism(self, cpus: int | None = None) -> int:
        """The `parallel` to give `pulumi up` on this stack: every PPC of the largest wave
        at once.

        The engine's default is 4 x the machine's cores (8 on a 2-core runner): a wave of
        100 PPCs would then run 8 jobs at a time, 13 rounds of the job's duration instead
        of one. Never below that default, for the rest of the program.
        """
        default = 4 * (cpus or os.cpu_count() or 1)
        largest = max((len(wave) for wave in plan_waves(list(self.ppcs))), default=0)
        return max(default, largest)


def stack_parallelism(env: str, raw: Mapping[str, Any]) -> int | None:
    """The `parallel` for `pulumi up` of stack `env` (its raw `release-train:*` config).

    Every PPC of the largest wave at once (RolloutSettings.up_parallelism); None, the
    engine's default, for a stack without PPCs, or whose config the program will refuse
    with its own message anyway.
    """
    try:
        rollout = parse_rollout(parse_settings(env, raw), raw)
    except ConfigError:
        return None
    return rollout.up_parallelism() if rollout.ppcs else None


# --- validation (pure) -----------------------------------------------------------------------


def structured(value: Any) -> Any:
    """A list or mapping from config: the engine passes structured values as JSON text."""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(key, value, "give a string")
    return value.strip() or None


def _bool(raw: Mapping[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", ""):
        return value.strip().lower() == "true"
    raise ConfigError(key, value, "give true or false")


def _mapping(raw: Mapping[str, Any], key: str, example: str) -> Mapping[str, Any]:
    value = structured(raw.get(key))
    if value in (None, "", {}):
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, f"give a mapping, e.g. {example}")
    return value


def _cadence_error(err: CadenceConfigError) -> ConfigError:
    return ConfigError(err.key, err.value, err.fix)


def check_webhook(value: Any, secret: bool | None) -> bool:
    """Whether a webhook is set; raise ConfigError (never showing the URL) when it is bad.

    `value` is the decrypted URL, or the stack file's `{secure: ...}` entry (then its form
    is not checked here). `secret` False means the value was stored in plain text.
    """
    if value in (None, "", {}):
        return False
    if isinstance(value, Mapping):
        if "secure" in value:
            return True
        raise ConfigError(
            "notifyWebhook",
            HIDDEN,
            "give the incoming webhook's URL, stored with "
            "`pulumi config set --secret release-train:notifyWebhook URL`",
        )
    if secret is False:
        raise ConfigError(
            "notifyWebhook",
            HIDDEN,
            "the webhook URL is stored in plain text; it is a credential: store it with "
            "`pulumi config set --secret release-train:notifyWebhook URL`",
        )
    if not isinstance(value, str):
        raise ConfigError("notifyWebhook", HIDDEN, "give the webhook's URL as a string")
    try:
        parts = urllib.parse.urlsplit(value.strip())
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            "notifyWebhook",
            HIDDEN,
            "give an http(s) URL, e.g. the Slack incoming webhook's https://hooks.../services/...",
        )
    return True


def parse_rollout(
    settings: Settings, raw: Mapping[str, Any], webhook_secret: bool | None = None
) -> RolloutSettings:
    """Validate the keys around the train (`ROLLOUT_KEYS`) of one stack; pure.

    Raises ConfigError naming the key, the value (never the webhook's) and the fix.
    """
    role = "a promotion stack (one with promotesFrom)"
    ppc_value = structured(raw.get("ppcs"))
    try:
        ppcs = parse_ppcs(ppc_value if ppc_value not in ("", None) else None)
    except PpcConfigError as err:
        raise ConfigError("ppcs", ppc_value, str(err)) from None
    command = _text(raw, "ppcCommand")
    state_dir = _text(raw, "ppcStateDir") or DEFAULT_STATE_DIR
    verify = _text(raw, "verifyCommand")
    if settings.tracks_source:
        for key, value in (("ppcs", ppcs), ("ppcCommand", command), ("verifyCommand", verify)):
            if value:
                raise ConfigError(
                    key,
                    raw.get(key),
                    f"only {role} merges releases to roll out; move it to the production stack",
                )
    if ppcs and not command:
        raise ConfigError(
            "ppcCommand",
            None,
            "the stack lists ppcs: give the command that updates one PPC, e.g. "
            "'python -m release.ppc_deploy --state {state} --ppc {ppc} --release {release} "
            "--commit {commit}'",
        )
    if command:
        try:
            validate_template(command)
        except PpcConfigError as err:
            raise ConfigError("ppcCommand", command, str(err)) from None
    if "\0" in state_dir or "\n" in state_dir:
        raise ConfigError("ppcStateDir", state_dir, "give a folder path, e.g. .state/ppcs")

    try:
        cadence = parse_cadence(
            _mapping(raw, "cadence", "{stagingWeekday: thursday, productionWeekday: tuesday}")
        )
        oncall_value = _mapping(raw, "oncall", "{primary: alice, secondary: bob}")
        oncall = parse_oncall(oncall_value) if oncall_value else None
        freezes_value = structured(raw.get("freezes"))
        if freezes_value in ("", None):
            freezes_value = []
        if not isinstance(freezes_value, list):
            raise ConfigError(
                "freezes", freezes_value, "give a list of {date: YYYY-MM-DD, reason: why}"
            )
        freezes = parse_freezes(freezes_value)
    except CadenceConfigError as err:
        raise _cadence_error(err) from None

    has_webhook = check_webhook(raw.get("notifyWebhook"), webhook_secret)
    manage = _bool(raw, "manageProtection")
    team = _text(raw, "reviewerTeam")
    if team is not None and not _SLUG.match(team):
        raise ConfigError(
            "reviewerTeam", team, "give the team's slug without the organization, e.g. oncall"
        )
    if manage:
        if settings.tracks_source:
            raise ConfigError(
                "manageProtection", True, f"set it on {role}, e.g. production, and only there"
            )
        try:
            guardrails_args(settings, team)
        except GuardrailsError as err:
            raise ConfigError("manageProtection", True, str(err)) from None
    return RolloutSettings(
        ppcs=tuple(ppcs),
        ppc_command=command,
        ppc_state_dir=state_dir,
        verify_command=verify,
        cadence=cadence,
        oncall=oncall,
        freezes=tuple(freezes),
        has_webhook=has_webhook,
        manage_protection=manage,
        reviewer_team=team,
    )


def guardrails_args(
    settings: Settings, team: str | None, token: pulumi.Input[str] | None = None
) -> GuardrailsArgs:
    """What Guardrails protects for this stack: the environment branches staging and
    production and release/*, reviewed by the stack's reviewers (and team)."""
    return GuardrailsArgs(
        repository=settings.repository,
        required_checks=tuple(settings.required_checks),
        reviewer_team=team,
        reviewer_users=tuple(settings.reviewers),
        required_approvals=settings.required_approvals,
        base_url=None if settings.api_url == DEFAULT_API_URL else settings.api_url + "/",
        token=token,
    )


# --- the program's side ----------------------------------------------------------------------


def read_rollout_config(config: pulumi.Config) -> tuple[dict[str, Any], bool | None]:
    """The raw `ROLLOUT_KEYS` of the running stack, and whether the webhook is a secret."""
    raw: dict[str, Any] = {}
    for key in ROLLOUT_KEYS:
        value = config.get(key)
        if value is not None:
            raw[key] = value
    secret = None
    if raw.get("notifyWebhook"):
        secret = pulumi.runtime.is_config_secret(f"{NAMESPACE}:notifyWebhook")
    return raw, secret


def register_rollout(
    settings: Settings,
    rollout: RolloutSettings,
    release: str,
    pins: Mapping[str, str],
    outputs: Mapping[str, Any],
    token: pulumi.Input[str] | None = None,
) -> dict[str, Any]:
    """After the promotion's Merge (through `outputs["mergeCommit"]`): the smoke test, the
    PPC rollout and the guardrails, as configured. Returns the outputs to add."""
    head = pulumi.Output.from_input(outputs["releaseHead"])
    merged = pulumi.Output.from_input(outputs["mergeCommit"]).apply(lambda sha: sha or "")
    # The release's head, resolved only once the merge is done: carries the dependency.
    after_merge = pulumi.Output.all(head, merged).apply(lambda values: values[0])
    added: dict[str, Any] = {}
    after: list[pulumi.Resource] = []
    if rollout.verify_command:
        verify = verification(
            "verify",
            rollout.verify_command,
            after=[],
            triggers=[after_merge],
            environment={
                "RELEASE_TRAIN_ENVIRONMENT": settings.environment,
                "RELEASE_TRAIN_RELEASE": release,
                "RELEASE_TRAIN_COMMIT": after_merge,
                "RELEASE_TRAIN_MERGE_COMMIT": merged,
            },
        )
        after.append(verify)
        added["verified"] = verify.stdout
    if rollout.ppcs:
        assert rollout.ppc_command  # parse_rollout refuses ppcs without a command
        ppcs = PpcRollout(
            "ppc-rollout",
            list(rollout.ppcs),
            rollout.ppc_command,
            release=release,
            commit=after_merge,
            pins=dict(pins),
            after=after,
            environment={"RELEASE_TRAIN_ENVIRONMENT": settings.environment},
            state=rollout.ppc_state_dir,
        )
        added["ppcs"] = {
            "waves": [[p.name for p in wave] for wave in ppcs.waves],
            "stateDir": rollout.ppc_state_dir,
            "release": release,
            "commit": after_merge,
        }
    if rollout.manage_protection:
        args = guardrails_args(settings, rollout.reviewer_team, token)
        Guardrails("guardrails", args)
        added["guardrails"] = [*args.environment_branches, args.release_branch_pattern]
    return added


Register = Callable[[Settings, Any, dict[str, Any]], dict[str, Any]]


def promote_with_rollout(
    settings: Settings,
    plan: Any,
    source: dict[str, Any],
    register: Register,
    config: pulumi.Config | None = None,
) -> dict[str, Any]:
    """The program's hook: validate the keys around the train, register the promotion
    (`register`, i.e. program.register_promotion), then what follows its merge.

    `plan` is the PromotionPlan (its release and the payload's pins are used).
    """
    config = config or pulumi.Config(NAMESPACE)
    raw, secret = read_rollout_config(config)
    rollout = parse_rollout(settings, raw, secret)  # before any resource is registered
    outputs = register(settings, plan, source)
    pins = {pin.name: pin.after for pin in plan.payload.pins if pin.after}
    token: pulumi.Input[str] | None = None
    if rollout.manage_protection:
        if config.get("token"):
            token = config.get_secret("token")
        elif os.environ.get("GITHUB_TOKEN"):
            token = pulumi.Output.secret(os.environ["GITHUB_TOKEN"])
    outputs["rollout"] = register_rollout(settings, rollout, plan.release, pins, outputs, token)
    return outputs
