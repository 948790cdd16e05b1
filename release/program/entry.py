"""The Pulumi program's entry: one program, three stacks (testing, staging, production).

The stack's config says which role it plays. A stack without `promotesFrom` tracks the
source branch and exports its newest green commit (testing). A stack with `promotesFrom`
promotes what the stack it names runs: staging cuts `release/YYYY-MM-DD` at testing's green
commit, production takes the release staging runs. The plan is made with reads only
(release/program/planning.py); the resources then do the writes
(release/program/registration.py).

This module is an edge: it alone reads `pulumi.Config` and the environment, parses the
stack's config once (`parse_settings`) and builds the forge session, then passes both down.
It also reads the stack's record of intent (through the engine, under the stack's lock
during `up`) and applies this run's delta (RELEASE_TRAIN_INTENT) to it: `read_intent`. The
same read of the checkpoint gives the forge memo (release/rules/memo.py, the `forgeMemo`
output): the answers of earlier runs that never change, so the plan does not read them
again; the run exports what it used of it, written with the rest of the state.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import pulumi
from pulumi.runtime.config import get_config_env

from release import forge
from release.providers.train_record import head_in, read_resources, record_in
from release.rules import clock
from release.rules.config import (
    NAMESPACE,
    ConfigError,
    Settings,
    check_keys,
    parse_settings,
    read_pulumi_config,
)
from release.rules.fixes import LostFixError
from release.rules.intent import (
    EMPTY,
    IntentError,
    LegacyIntentError,
    Record,
    apply_ops,
    describe,
    ops_from_env,
    refuse_legacy,
)
from release.rules.memo import MEMO_OUTPUT, Memo, memo_in, scope_of
from release.rules.running import RECORD_OVERRIDE, StackRecord
from release.rules.targets import TargetError, resolve_target
from release.rules.text import plain

if TYPE_CHECKING:
    from github.Repository import Repository

    from release.program.planning import PromotionPlan

# The plan (release/program/planning.py, with PyGithub) and the registration are imported
# when first used, not with this module: the program registers the dynamic providers'
# provider before they load, so the engine starts the providers' process while the program
# imports them (about 0.2 s) and then reads. These wrappers are the module's names for them.


def open_repo(settings: Settings, session: forge.ForgeSession) -> Repository:
    """`planning.open_repo`: the repository, checked (a ConfigError names what is wrong)."""
    from release.program import planning

    return planning.open_repo(settings, session)


def find_green(settings: Settings, repo: Repository) -> Any:
    """`planning.find_green`: the newest green commit of the source branch."""
    from release.program import planning

    return planning.find_green(settings, repo)


def plan_promotion(*args: Any, **kwargs: Any) -> PromotionPlan:
    """`planning.plan_promotion`: the promotion, decided with reads only. The registration's
    modules load on a thread of their own meanwhile (`load_registration`)."""
    from release.program import planning

    threading.Thread(target=load_registration, name="load-registration", daemon=True).start()
    return planning.plan_promotion(*args, **kwargs)


def load_registration() -> None:
    """Import the registration's modules (about 20 ms) while the plan waits on the forge,
    rather than after it. A failure is left to the import `register_release` makes."""
    try:
        from release.program import registration  # noqa: F401
    except Exception:  # `register_release` imports it again and reports the error
        pass


def register_release(*args: Any) -> dict[str, Any]:
    """`registration.register_release`: the promotion's resources, registered."""
    from release.program import registration

    return registration.register_release(*args)


def stack_record() -> StackRecord | None:
    """What the stack's own state says it merged last and has in flight, handed over by the
    `release` command for this run (RELEASE_TRAIN_RUNNING); None for a plain `pulumi up`,
    which goes by the environment branch's merges alone."""
    return StackRecord.from_json(os.environ.get(RECORD_OVERRIDE))


def build_testing(settings: Settings, repo: Repository) -> None:
    """testing: export the newest green commit of the source branch."""
    result = find_green(settings, repo)
    for line in result.describe().splitlines():
        pulumi.log.info(plain(line))  # check names and states come from the forge
    if result.sha is None:
        pulumi.log.warn(
            f"no green commit in the newest {settings.green_lookback} of "
            f"{settings.source_branch}; staging has nothing new to cut"
        )
    pulumi.export("role", "source")
    pulumi.export("sourceBranch", settings.source_branch)
    pulumi.export("greenCommit", result.sha)
    pulumi.export(
        "greenCommitUrl",
        f"{repo.html_url}/commit/{result.sha}" if result.sha else None,
    )
    pulumi.export("checks", dict(result.checks))
    pulumi.export("skipped", [{"sha": s.sha, "reason": s.reason} for s in result.skipped])


def build_promotion(
    settings: Settings,
    repo: Repository,
    release: str,
    commit: str,
    source: dict[str, Any],
    token: str | None = None,
    record: Record = EMPTY,
    memo: Memo | None = None,
    recorded_head: str | None = None,
) -> dict[str, Any]:
    """staging/production: decide the promotion (reads, with the forge `memo`; the head the
    last run left, `recorded_head`), then register its resources."""
    plan = plan_promotion(settings, repo, release, commit, stack_record(), memo, recorded_head)
    return register_release(settings, plan, source, token, record)  # then PPCs etc.


PROVIDER_NAME = "forge"
T = TypeVar("T")


def forge_provider(config_token: str | None) -> pulumi.ProviderResource:
    """The dynamic providers' process, registered explicitly and first of all resources.

    The engine starts a provider's process when the provider is registered. With the
    engine's default provider that is when the first dynamic resource registers, after the
    plan's reads; registered first, its start (a Python process importing the providers)
    overlaps the plan's reads (`in_background`). The stack's token secret, which the default
    provider was handed as stack config, is its one config value, kept secret in the state.
    """
    args = {f"{NAMESPACE}:token": pulumi.Output.secret(config_token)} if config_token else {}
    return pulumi.ProviderResource("pulumi-python", PROVIDER_NAME, args)


def route_dynamic(provider: pulumi.ProviderResource) -> None:
    """Every dynamic resource of the stack uses `provider` (one stack transformation, so
    no resource constructor has to pass it)."""

    def transformation(
        args: pulumi.ResourceTransformationArgs,
    ) -> pulumi.ResourceTransformationResult | None:
        if not args.type_.startswith("pulumi-python:dynamic") or args.opts.provider is not None:
            return None
        opts = pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(provider=provider))
        return pulumi.ResourceTransformationResult(args.props, opts)

    pulumi.runtime.register_stack_transformation(transformation)


def refusing(work: Callable[[], T]) -> T:
    """`work`, a user error (bad config, a fix that would be lost) turned into the run's
    one-line error, as `main` does: inside an apply or a worker thread `main` cannot."""
    try:
        return work()
    except _USER_ERRORS as err:
        raise pulumi.RunError(str(err)) from None


def in_background(work: Callable[[], T]) -> pulumi.Output[T]:
    """`work` (the plan's forge reads) run on a worker thread, as an Output: the event loop
    stays free meanwhile, so resources registered before (the provider) reach the engine
    while the reads run. A user error becomes the run's one-line error, as in `main`."""

    leave_program_folder(sys.path, getattr(sys.modules.get("__main__"), "__file__", None))
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plan")
    future = asyncio.wrap_future(pool.submit(refusing, work))
    pool.shutdown(wait=False)
    return pulumi.Output.from_input(future)


def leave_program_folder(path: list[str], main_file: str | None) -> bool:
    """Take the program's folder off the front of `path` (sys.path), where the Pulumi runner's
    `runpy.run_path` put it, before a worker thread starts importing; True if it was there.

    runpy removes that entry when the program's top level returns, which is while the plan's
    worker imports PyGithub (imported where used). The import system walks sys.path as a live
    list, so the removal can make it skip an entry and fail with "No module named 'github'"
    (seen once in a CI run). Gone already, runpy's removal changes nothing. The folder is not
    needed any more: `release` is imported, and its modules import through its own path."""
    if not path or not main_file or os.path.basename(main_file) != "__main__.py":
        return False
    if os.path.realpath(path[0]) != os.path.realpath(os.path.dirname(main_file)):
        return False
    del path[0]
    return True


def _source_reference(settings: Settings) -> pulumi.StackReference:
    org = pulumi.get_organization()
    return pulumi.StackReference(
        f"{org}/{pulumi.get_project()}/{settings.promotes_from}",
        opts=pulumi.ResourceOptions(),
    )


def _from_source(settings: Settings, outputs: dict[str, Any]) -> tuple[str, str]:
    """(release branch, commit) to promote, from the pins or the source stack's outputs.

    The same decision as `release plan/promote` (release/rules/targets.py): a plain `pulumi up`
    promotes what the command line would, and refuses what it refuses (e.g. a source
    release whose pull request is not merged yet).
    """
    try:
        target = resolve_target(
            pulumi.get_stack(),
            settings.promotes_from,
            outputs,
            settings.commit,
            settings.release_date.isoformat() if settings.release_date else None,
            clock.today(),
            # The pin is the stack's record of intent, never a stack-file key.
            how_to_pin=f"record a pin with `release promote {settings.stack} --commit SHA`",
        )
    except TargetError as err:
        raise ConfigError("promotesFrom", settings.promotes_from, str(err)) from None
    return target.branch, target.commit


PROMOTION_OUTPUTS = (
    "role",
    "environment",
    "releaseName",
    "releaseBranch",
    "releaseCommit",
    "releaseHead",
    "previousRelease",
    "oursMerge",
    "prNumber",
    "prUrl",
    "mergeCommit",
    "state",
    "gate",
    "payloadSummary",
    "source",
    "dayTwo",
    "rollout",
)
_SOURCE_KEYS = ("greenCommit", "releaseBranch", "releaseHead", "releaseCommit", "state")
_USER_ERRORS = (ConfigError, LostFixError, IntentError, LegacyIntentError)


def main() -> None:
    """Entry point of `__main__.py`. A user error stops the run with its message only."""
    atexit.register(exit_without_teardown)
    try:
        _main()
    except _USER_ERRORS as err:
        raise pulumi.RunError(str(err)) from None


def exit_without_teardown() -> None:
    """At the program's exit, end the process with the status the Pulumi runner chose, without
    tearing the interpreter down (freeing PyGithub's and the SDK's modules costs about a tenth
    of a second that the engine waits for). Registered first, this runs after every other
    atexit handler, once the runner has flushed the output and every non-daemon thread has
    ended. The status is the runner's `exit_code` (its `__main__` module); without one
    (another runner, a test), the exit goes on as usual."""
    code = getattr(sys.modules.get("__main__"), "exit_code", None)
    if type(code) is not int:
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            return  # let the usual exit report it
    os._exit(code)


def read_intent(
    stack: str, env: Mapping[str, str], resources: Mapping[str, Any] | None = None
) -> Record:
    """The stack's record of intent as the engine stores it, with this run's delta applied
    (RELEASE_TRAIN_INTENT, set by the `release` commands; none for a plain `pulumi up`).
    `resources`: the checkpoint's resources when already read (`read_resources`).

    During `up` the engine holds the stack's lock from before the program starts, so the
    record cannot change under the run; the result is recorded only if the steps before it
    succeed (release/program/registration.py).
    """
    stored = record_in(read_resources() if resources is None else resources)
    record = apply_ops(stored, ops_from_env(env), stack)
    for line in describe(record):
        pulumi.log.info(plain(f"intent: {line}"))  # `by` comes from the command line
    return record


def _main() -> None:
    config = pulumi.Config(NAMESPACE)
    stack = pulumi.get_stack()
    raw = read_pulumi_config(config.get)
    refuse_legacy(stack, raw)  # intent is kept in the state, never in the stack file
    prefix = f"{NAMESPACE}:"
    # Every key the engine was given (pulumi.Config reads only the ones asked for).
    given = {*get_config_env(), *pulumi.runtime.config.CONFIG.get()}
    check_keys([k[len(prefix) :] for k in given if k.startswith(prefix)])
    secret = None
    if raw.get("notifyWebhook"):
        secret = pulumi.runtime.is_config_secret(f"{NAMESPACE}:notifyWebhook")
    settings = parse_settings(stack, raw, os.environ, secret)
    record = EMPTY
    resources: Mapping[str, Any] = {}
    if settings.tracks_source:
        if ops_from_env(os.environ):
            raise ConfigError(
                "promotesFrom",
                None,
                f"{stack} tracks its source branch: it has no release to pin, pick into, "
                "revert or roll back; name a stack that promotes (staging, production)",
            )
    else:
        resources = read_resources()  # one read of the checkpoint: the record and the memo
        record = read_intent(stack, os.environ, resources)
        settings = parse_settings(stack, {**raw, **record.as_config()}, os.environ, secret)
    session = forge.session(settings.api_url, settings.repository, config.get("token"), os.environ)
    token = session.token
    if settings.tracks_source:
        build_testing(settings, open_repo(settings, session))
        return
    route_dynamic(forge_provider(config.get("token")))
    source = {"stack": settings.promotes_from}
    memo = memo_in(resources, scope_of(settings.api_url, settings.repository))
    recorded = head_in(resources)  # where the last run left the release's head
    if settings.commit and settings.release_date:
        # Pinned by `release promote` / `release plan`: the source stack's outputs are not
        # needed, so they are not read (reading another stack costs a secrets-manager load).
        release, commit = _from_source(settings, {})
        running = stack_record()

        def decide() -> PromotionPlan:
            repo = open_repo(settings, session)
            return plan_promotion(settings, repo, release, commit, running, memo, recorded)

        outputs: pulumi.Output[dict[str, Any]] = in_background(decide).apply(
            lambda plan: refusing(lambda: register_release(settings, plan, source, token, record))
        )
    else:
        repo = open_repo(settings, session)
        reference = _source_reference(settings)

        def build(values: list[Any]) -> dict[str, Any]:
            release, commit = _from_source(settings, dict(zip(_SOURCE_KEYS, values, strict=True)))
            return build_promotion(
                settings, repo, release, commit, source, token, record, memo, recorded
            )

        outputs = pulumi.Output.all(*(reference.get_output(k) for k in _SOURCE_KEYS)).apply(
            lambda values: refusing(lambda: build(values))
        )
    for key in PROMOTION_OUTPUTS:
        pulumi.export(key, outputs.apply(lambda d, k=key: d[k]))
    # What the plan used of the memo and added to it (once the plan is made), with what the
    # resources made is known to answer (an ours-merge: `memoFacts`), written with the rest
    # of the state at the end of the run; a failed run keeps the previous one.
    pulumi.export(MEMO_OUTPUT, outputs.apply(lambda d: memo_with(memo, d.get("memoFacts"))))


def memo_with(memo: Memo, facts: Any) -> pulumi.Output[str]:
    """The memo to write back (`Memo.dump`), once `facts` (an output of {key: value}, what a
    resource of this run made is known to answer) are in it; the plan's own when none."""

    def dump(known: Any) -> str:
        for name, value in (known or {}).items():
            memo.put(name, value)
        return memo.dump()

    return pulumi.Output.from_input(facts or {}).apply(dump)
