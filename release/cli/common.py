"""What every command group of `python -m release` shares: the consoles, the error exit,
the project folder, and the command line's edge: it reads the stack files (`load`, once per
version of a file), the environment (`actor`, GITHUB_TOKEN) and the token secret
(`forge_session`), and passes Settings and a ForgeSession down; the webhook URL (`webhook`,
decrypted here and never printed) and the best-effort `post_event`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pulumi import automation as auto

from release import notify
from release.cli.console import make_console
from release.engine import automation, recovery
from release.rules.config import (
    NAMESPACE,
    ConfigError,
    Settings,
    StackFileError,
    check_webhook,
    parse_settings,
)
from release.rules.intent import LegacyIntentError, refuse_legacy
from release.rules.outcomes import expected_refusal, gate_block
from release.rules.text import term

if TYPE_CHECKING:
    from release.forge import ForgeSession
    from release.rules.targets import Target

console = make_console()  # no wrapping in CI logs
err_console = make_console(stderr=True)

EnvArg = Annotated[
    str, typer.Argument(help="The stack / environment: testing, staging, production.")
]


# Exit codes of `release` (README "Exit codes"; the CI workflow's RELEASE_GATE_EXIT_CODE is
# GATE_WAIT_EXIT_CODE): 0 done; 1 failed (a forge error, an unexpected error, or a check of
# the command line's own: a bad key or value, a freeze, a fix that would be lost); 2 a usage
# error (an unknown option or a missing argument, from typer); 3 waiting at a merge gate (a
# state: run the named command once the gate opens); 4 refused by a provider (an expected
# refusal: the message names the commit, files or setting and the way forward).
FAILED_EXIT_CODE = 1
USAGE_EXIT_CODE = 2  # typer's, for an unknown option or a missing argument
GATE_WAIT_EXIT_CODE = 3
REFUSED_EXIT_CODE = 4


def fail(message: str, code: int = FAILED_EXIT_CODE) -> None:
    """The command line's one way to stop on an error: `error: MESSAGE` on stderr."""
    err_console.print(f"[bold red]error:[/] {term(message, multiline=True)}", highlight=False)
    raise typer.Exit(code)


def project() -> automation.Project:
    """The project folder: RELEASE_TRAIN_PROJECT_DIR, else the one around the current folder."""
    directory = os.environ.get("RELEASE_TRAIN_PROJECT_DIR")
    return automation.Project(Path(directory) if directory else automation.find_project_dir())


def actor() -> str:
    """Who runs the command: RELEASE_TRAIN_ACTOR, else GITHUB_ACTOR (CI), else USER."""
    for key in ("RELEASE_TRAIN_ACTOR", "GITHUB_ACTOR", "USER", "USERNAME"):
        value = os.environ.get(key, "").strip()
        if value:
            return "".join(c for c in value if c.isalnum() or c in "-_.@") or "unknown"
    return "unknown"


_parsed: dict[tuple[Path, str], tuple[str, Settings | ConfigError]] = {}


def load(proj: automation.Project, env: str) -> Settings:
    """The stack's `Settings`, parsed from its stack file once per version of the file.

    The command line's one reading of the stack files (the program reads `pulumi.Config`).
    Raises ConfigError naming the bad key.
    """
    raw = proj.stack_file(env)
    key, text = (proj.directory.resolve(), env), repr(sorted(raw.items()))
    known = _parsed.get(key)
    if known is None or known[0] != text:
        # A webhook written in the stack file as plain text (not `secure:`) is no secret.
        plain = isinstance(raw.get("notifyWebhook"), str) and bool(raw["notifyWebhook"].strip())
        try:
            refuse_legacy(env, raw)  # intent is kept in the stack's record, not the file
            value: Settings | ConfigError = parse_settings(
                env, raw, webhook_secret=False if plain else None, stacks=proj.stack_names()
            )
        except LegacyIntentError as err:
            # The file as a whole is refused: its name, the keys, the commands that move them.
            value = StackFileError(err.file, err.problem, err.fix)
        except ConfigError as err:
            value = err
        known = _parsed[key] = (text, value)
    if isinstance(known[1], ConfigError):
        raise known[1]
    return known[1]


def check_env(proj: automation.Project, env: str) -> Settings:
    """The stack's settings, validated, or an error naming the bad key (no writes)."""
    names = proj.stack_names()
    if env not in names:
        fail(
            f"unknown environment {env!r} (no Pulumi.{env}.yaml): choose one of "
            f"{', '.join(names)} (Pulumi.<env>.yaml)"
        )
    try:
        return load(proj, env)
    except ConfigError as err:
        fail(config_message(env, err))
    raise AssertionError("unreachable")


_CONFIG = "config release-train:"


def config_message(env: str | None, err: ConfigError) -> str:
    """A ConfigError as the command line shows it: the file first; an option (`--commit`)
    or an argument (`SHA`) the user typed is named as such."""
    text = str(err)
    if err.key.startswith("--"):
        return text.replace(_CONFIG, "option ", 1)
    if err.key.isupper():
        return text.replace(_CONFIG, "argument ", 1)
    if isinstance(err, StackFileError) or env is None:
        return text
    return f"Pulumi.{env}.yaml: {text}"


def check_forge(
    proj: automation.Project,
    settings: Settings,
    target: Target | None,
    write: bool,
    arguments: dict[str, str] | None = None,
) -> dict[str, str]:
    """Reads only, before the engine runs: the forge answers at apiUrl, the token may read
    (and with `write`, write) the repository, and every SHA the run names is a commit (the
    stack's picks and reverts, --commit, and `arguments`, e.g. {"SHA": sha}). Returns the
    repository as read, to hand to the engine's run (forge.REPOSITORY_HANDOVER: the program
    and its providers then do not read it again)."""
    from release import forge

    shas = {f"picks[{i}]": sha for i, sha in enumerate(settings.picks)}
    shas.update({f"reverts[{i}]": sha for i, sha in enumerate(settings.day_two.reverts)})
    if target and target.reason == "--commit":
        shas["--commit"] = target.commit
    shas.update(arguments or {})
    try:
        repo = forge.check_repository(forge_session(proj, settings), write=write)
        forge.check_commits(repo, settings.repository, shas)
    except ConfigError as err:
        fail(
            environment_token_message(proj, settings.stack, err.key, err.fix)
            or config_message(settings.stack, err)
        )
        raise AssertionError("unreachable") from None
    return {forge.REPOSITORY_HANDOVER: forge.repository_json(repo)}


_FORGE_KEYS = ("apiUrl", "token", "repository")


def program_forge_error(proj: automation.Project, env: str, text: str) -> str | None:
    """The program's own check of the forge (its first read: `forge.check_repository`, a
    ConfigError naming apiUrl, token or repository), found in a failed engine run's `text`,
    worded as `check_forge` words it; None when the run failed for another reason.

    `release plan` leaves that check to the program (a dry run writes nothing), so the
    command needs no token of its own; the user still gets the same one-line error."""
    found: tuple[str, str] | None = None
    for line in text.splitlines():
        at = line.find(f"error: {_CONFIG}")
        if at < 0:
            continue
        message = line[at + len("error: ") :].strip()
        key = message[len(_CONFIG) :].split(" = ", 1)[0]
        if key in _FORGE_KEYS:
            found = (key, message)
    if found is None:
        return None
    key, message = found
    fix = message.split(": ", 1)[-1]  # after "config release-train:KEY = VALUE"
    return environment_token_message(proj, env, key, fix) or f"Pulumi.{env}.yaml: {message}"


def environment_token_message(proj: automation.Project, env: str, key: str, fix: str) -> str | None:
    """A refused token that came from GITHUB_TOKEN (the stack file sets none) is named as
    such, with the error's `fix`; None for any other key, or a token the stack file sets."""
    if key == "token" and "token" not in proj.stack_file(env):
        return f"GITHUB_TOKEN (Pulumi.{env}.yaml sets no token): {fix}"
    return None


def forge_session(proj: automation.Project, settings: Settings) -> ForgeSession:
    """The command line's forge session for a stack: the same token rule as the program
    (`release.rules.config.token_from`: the stack's `token` secret, else GITHUB_TOKEN)."""
    from release import forge

    # The secret is decrypted by the engine only when the stack file holds one.
    has_secret = "token" in proj.stack_file(settings.stack)
    secret = automation.secret(proj, settings.stack, "token") if has_secret else None
    return forge.session(settings.api_url, settings.repository, secret, os.environ)


def engine_error(err: auto.CommandError) -> str:
    text = str(err)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    wanted = [ln for ln in lines if "error:" in ln or "Exception:" in ln or "Error:" in ln]
    return "\n".join(wanted[-8:] or lines[-8:])


def engine_failed(what: str, env: str, err: auto.CommandError, hint: str = "") -> None:
    """End a failed engine run: an expected refusal (release.rules.outcomes) as its own short
    message and the refused exit code; the program's own refusals (no traceback) as their
    error lines; anything else as unexpected, with the engine's traceback lines. Both
    with the failed exit code."""
    refused = expected_refusal(str(err))
    if refused:
        fail(
            f"{what} on {env} refused: {refused[1]}\n"
            f"next: fix what is named above, then run the command again "
            f"(`release status` shows where {env} stands)",
            REFUSED_EXIT_CODE,
        )
    text = str(err)
    if "Traceback (most recent call last)" not in text:
        # The program's own refusal (a bad key, a fix that would be lost): the engine's
        # diagnostics (the stream is not shown without --verbose), then its error lines.
        start = text.find("Diagnostics:")
        shown = text[start:] if start >= 0 else text
        lines = [ln for ln in shown.splitlines() if ln.strip()][:60]
        err_console.print("\n".join(term(ln) for ln in lines), highlight=False, soft_wrap=True)
        fail(f"{what} on {env} failed:\n{engine_error(err)}{hint}")
    tail = [ln for ln in text.splitlines() if ln.strip()][-40:]
    err_console.print("\n".join(term(ln) for ln in tail), highlight=False, soft_wrap=True)
    fail(
        f"{what} on {env} failed with an unexpected error (the engine's output is above):\n"
        f"{engine_error(err)}{hint}"
    )


def gate_wait(env: str, values: dict[str, Any]) -> None:
    """If `env`'s promotion or rollback waits at its merge gate (from the stack's outputs):
    print why on stderr, and exit with GATE_WAIT_EXIT_CODE. Returns when nothing waits."""
    block = gate_block(env, values)
    if not block:
        return
    for line in block:
        err_console.print(term(line), highlight=False, soft_wrap=True)
    raise typer.Exit(GATE_WAIT_EXIT_CODE)


def refuse_if_locked(proj: automation.Project, env: str) -> None:
    """Stop at once, naming the holder, when another update holds `env`'s lock."""
    try:
        recovery.refuse_if_locked(proj.backend(), automation.project_name(proj), env)
    except recovery.StackLocked as err:
        fail(err.message())


def webhook(proj: automation.Project, env: str) -> str | None:
    """The stack's webhook URL, decrypted, or None. Never printed."""
    if not check_env(proj, env).rollout.has_webhook:
        return None
    try:
        value = automation.stack(proj, env).get_config(f"{NAMESPACE}:notifyWebhook")
    except auto.CommandError:
        return None
    try:
        check_webhook(value.value, value.secret)
    except ConfigError as err:
        fail(f"Pulumi.{env}.yaml: {err}")
    return value.value or None


def post_event(url: str, event: notify.Event) -> None:
    """Post one event (best effort); a failure is a warning line, never an error."""
    delivered = notify.post_message(url, event.message(), event=event.kind)
    if delivered:
        console.print(f"  notification {event.kind}: sent", highlight=False)
    else:
        err_console.print(
            f"  warning: notification {event.kind}: not delivered (the promotion goes on)",
            highlight=False,
        )


# --- what the forge's Deployments say (`--from-deployments`) ----------------------------------


def read_deployments(proj: automation.Project, env: str, ppcs: list[str] | None = None) -> Any:
    """What the forge's Deployments say about `env`: its current deployment
    (`release.deployments.current`) as a dict, or with `ppcs` each PPC's newest deployment
    ({name: dict | None}); a one-line string when the forge cannot be read."""
    from release import deployments, forge

    try:
        settings = load(proj, env)
        repo = forge_session(proj, settings).repo
        if ppcs is not None:
            found = deployments.ppc_states(repo, ppcs)
            return {name: rec.to_dict() if rec else None for name, rec in found.items()}
        record = deployments.current(repo, settings.environment)
    except Exception as err:  # noqa: BLE001 - a status report, it does not fail
        return f"deployments unknown: {forge.redact(str(err))}"
    return record.to_dict() if record else None


def deployment_text(record: Any, state_release: str | None) -> str:
    """One line for a deployment as `read_deployments` gives it, beside the state's answer."""
    if isinstance(record, str):
        return record
    if not record:
        return "GitHub Deployments: none"
    # No status yet: created and started (GitHub shows it pending), e.g. a PPC mid-wave.
    state = record.get("state") or "started, no status yet"
    text = (
        f"GitHub Deployment {record['id']}: {record.get('release') or '?'} at "
        f"{str(record.get('sha') or '')[:12]}, {state}"
    )
    if record.get("logUrl"):
        text += f" ({record['logUrl']})"
    if state_release and record.get("release") != state_release:
        text += f"; differs from the stack's state ({state_release})"
    return text
