"""One PPC wave as one resource: its create (or update) updates every PPC of the wave through
an executor, in parallel, and records each PPC's outcome in its outputs.

Why a resource per wave, not per PPC: the engine writes the whole state before and after
each resource's step, and with the file backend that is the whole file each time; one
resource per PPC made a rollout's cost grow with the square of the PPCs (54.7 s of overhead
for 800). A handful of waves costs a handful of writes, whatever the number of PPCs.

Inputs (plain data): `wave` (its number), `release`, `commit`, `ppcs` (the JSON text of
[{name, vars}]: one string, because the SDK lifts every element of a structured input into
an Output, a millisecond per PPC), `pins` ({name: value}), `environment` (added to every
job's), and `executor`, the executor's
*spec*: {"kind": "command", "command": ..., "state": ..., ...}. The provider builds the
executor from the spec (`executor_from`), so choosing another executor is one branch there;
no token is ever an input (an executor that talks to the forge gets the provider process's
session, as every provider does: release/providers/base.py).

Outputs: `outcomes`, PPC name -> {"ok", "detail", "url"}, for every PPC of the wave.

- create runs every PPC of the wave; update (a new commit or pins, a PPC added, another
  executor) runs the PPCs whose job changed, and keeps the outcome of the others.
- A failed PPC fails the resource with a message naming each failed PPC (`failed PPC
  <name>: <detail>`, one a line, control characters made visible): the engine then starts no
  later wave. The next `up` runs the wave again, and since every job is idempotent per PPC and
  commit (release/rules/ppc_jobs.py), only what is missing is done.
- A kill mid-wave leaves the resource's create pending; the next `release` run clears it and
  runs the wave again, with the same guarantee.
- delete forgets: an update a PPC received is not undone.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult

from release import deployments
from release.providers.base import ForgeProvider, ForgeResource, call, provider_session
from release.providers.ppc_command import CommandExecutor
from release.rules.ppc_jobs import PpcExecutor, PpcJob, PpcOutcome, failed
from release.rules.ppcs import Ppc, PpcConfigError, ppc_environment
from release.rules.text import visible

INPUTS = ("wave", "release", "commit", "ppcs", "pins", "environment", "executor", "deployments")
EXECUTOR_KINDS = ("command", "actions")


class OnActions:
    """The GitHub Actions executor (release/actions.py) of a spec {"kind": "actions",
    "api_url", "repository", "workflow", "ref", "timeout"}: its settings checked when it is
    built (in the program too), its forge session made when a wave runs, in the provider
    process, with the provider's token (`base.provider_session`)."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        from release.actions import ActionsSettings

        missing = [key for key in ("api_url", "repository") if not spec.get(key)]
        if missing:
            raise PpcConfigError(f"PPC executor actions: the spec has no {', '.join(missing)}")
        try:
            self.settings = ActionsSettings.from_spec(spec)
        except (KeyError, TypeError, ValueError) as err:
            raise PpcConfigError(f"PPC executor actions: a bad spec ({err})") from None
        self.api_url, self.repository = str(spec["api_url"]), str(spec["repository"])

    def run_wave(self, jobs: Sequence[PpcJob], report: Callable[[str], None]) -> list[PpcOutcome]:
        from release.actions import ActionsExecutor

        session = provider_session(self.api_url, self.repository)
        return ActionsExecutor(session, self.settings).run_wave(jobs, report)


def executor_from(spec: Mapping[str, Any]) -> PpcExecutor:
    """The executor an input spec describes; raises PpcConfigError naming the kind."""
    kind = spec.get("kind") if isinstance(spec, Mapping) else None
    if kind == "command":
        return CommandExecutor.from_spec(spec)
    if kind == "actions":
        return OnActions(spec)
    raise PpcConfigError(
        f"PPC executor kind {kind!r} is unknown: the kinds are {', '.join(EXECUTOR_KINDS)}"
    )


def wave_jobs(props: Mapping[str, Any]) -> list[PpcJob]:
    """The wave's jobs from its inputs: one per PPC, with the environment the rules give."""
    release, commit, wave = str(props["release"]), str(props["commit"]), int(props["wave"])
    pins = dict(props.get("pins") or {})
    base = dict(props.get("environment") or {})
    jobs = []
    for entry in ppc_entries(props):
        ppc = Ppc(entry["name"], wave, dict(entry.get("vars") or {}))
        env = ppc_environment(ppc, release, commit, pins, base)
        jobs.append(PpcJob(ppc.name, release, commit, wave, {k: str(v) for k, v in env.items()}))
    return jobs


def ppcs_text(ppcs: Sequence[Ppc]) -> str:
    """The `ppcs` input: the wave's PPCs and their vars as compact, stable JSON text."""
    entries = [{"name": p.name, "vars": dict(sorted(p.vars.items()))} for p in ppcs]
    return json.dumps(entries, separators=(",", ":"))


def ppc_entries(props: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The `ppcs` input read back: [{name, vars}]."""
    value = props.get("ppcs") or "[]"
    entries = json.loads(value) if isinstance(value, str) else value
    if not isinstance(entries, list):
        raise PpcConfigError(f"PPC wave input ppcs is {type(entries).__name__}, not a list")
    return entries


def outcome_record(outcome: PpcOutcome) -> dict[str, Any]:
    return {"ok": outcome.ok, "detail": outcome.detail, "url": outcome.url}


def failure_message(wave: int, release: str, outcomes: Sequence[PpcOutcome]) -> str:
    """The wave's error: a summary line, then `failed PPC <name>: <detail>` per failed PPC."""
    bad = failed(outcomes)
    lines = [
        f"PPC wave {wave} of {visible(release)}: {len(bad)} of {len(outcomes)} PPC update(s) "
        "failed; the later waves do not start. Fix it and run `up` again: PPCs already "
        "updated are not updated again."
    ]
    lines += [
        f"failed PPC {visible(o.ppc)}: {visible(o.detail)}"
        + (f" ({visible(o.url)})" if o.url else "")
        for o in bad
    ]
    return "\n".join(lines)


class PpcWaveFailed(RuntimeError):
    """One or more PPCs of a wave failed; the message names each."""


def _report(line: str) -> None:
    print(visible(line), file=sys.stderr, flush=True)


class PpcWaveProvider(ForgeProvider):
    """Runs a wave's PPC updates (see the module's docstring)."""

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in INPUTS if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outcomes = self._run(props, wave_jobs(props))
        return CreateResult(f"ppc-wave-{props['wave']}", {**props, "outcomes": outcomes})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        jobs = wave_jobs(news)
        before = {job.ppc: job for job in wave_jobs(olds)} if _complete(olds) else {}
        kept = dict(olds.get("outcomes") or {})
        same_executor = olds.get("executor") == news.get("executor")
        todo = [
            job
            for job in jobs
            if not (
                same_executor and before.get(job.ppc) == job and kept.get(job.ppc, {}).get("ok")
            )
        ]
        outcomes = self._run(news, todo) if todo else {}
        merged = {job.ppc: outcomes.get(job.ppc) or kept[job.ppc] for job in jobs}
        return UpdateResult({**news, "outcomes": merged})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def _run(self, props: Mapping[str, Any], jobs: list[PpcJob]) -> dict[str, dict[str, Any]]:
        executor = executor_from(props["executor"])
        forge_at = props.get("deployments") or None  # {api_url, repository}: PPC deployments
        repo = self.repo(dict(forge_at)) if forge_at else None
        started = (
            call(
                f"start the deployments of PPC wave {props['wave']}",
                lambda: deployments.start_ppc_wave(repo, jobs),
            )
            if repo is not None
            else {}
        )
        results = executor.run_wave(jobs, _report)
        if [r.ppc for r in results] != [job.ppc for job in jobs]:
            raise PpcWaveFailed(
                f"PPC wave {props['wave']}: the executor answered for other PPCs than asked"
            )
        if repo is not None:
            call(
                f"finish the deployments of PPC wave {props['wave']}",
                lambda: deployments.finish_ppc_wave(repo, jobs, results, started),
            )
        if failed(results):
            raise PpcWaveFailed(failure_message(int(props["wave"]), props["release"], results))
        return {outcome.ppc: outcome_record(outcome) for outcome in results}


def _complete(props: Mapping[str, Any]) -> bool:
    return all(key in props for key in ("wave", "release", "commit", "ppcs"))


class PpcWave(ForgeResource, module="release", name="PpcWave"):
    """One wave of PPC updates, run by the executor `executor` describes."""

    outcomes: pulumi.Output[dict[str, Any]]

    def __init__(
        self,
        name: str,
        *,
        wave: int,
        release: pulumi.Input[str],
        commit: pulumi.Input[str],
        ppcs: Sequence[Ppc],
        pins: Mapping[str, pulumi.Input[str]],
        environment: Mapping[str, pulumi.Input[str]],
        executor: Mapping[str, Any],
        deployments: Mapping[str, pulumi.Input[str]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "wave": wave,
            "release": release,
            "commit": commit,
            "ppcs": ppcs_text(ppcs),
            "pins": dict(pins),
            "environment": dict(environment),
            "executor": dict(executor),
            "deployments": dict(deployments) if deployments else None,
        }
        super().__init__(PpcWaveProvider(), name, props, ("outcomes",), opts)
