"""The GitHub Actions PPC executor: each PPC's update is a run of the team's update
workflow, dispatched with `workflow_dispatch` and awaited (`rules.ppc_jobs` contract).

For one wave (`ActionsExecutor.run_wave`):

1. The workflow is read once: `GET .../actions/workflows/{ppcWorkflow}` and its file at
   `ppcWorkflowRef` (empty: the repository's default branch, one more read). Its `run-name` must render `${{ inputs.correlation_id }}` and it must
   accept the inputs `ppc`, `release`, `commit`, `wave` and `correlation_id`; if not, a
   ConfigError names `ppcWorkflow` before anything is dispatched.
2. The workflow's recent runs are listed (newest first, 100 a page, back `lookback_days`).
   A job's runs are those whose title (the rendered run-name) holds its correlation id
   (`PpcJob.correlation_id`: one per PPC and commit). A successful one: nothing to do. A
   queued or running one (a killed rollout's leftover): awaited, never dispatched again.
   None, or only failed or cancelled ones: the job is meant for a dispatch.
   GitHub lists a dispatched run a few seconds after the dispatch, so a rollout killed
   just after dispatching and started again at once would not see that run yet. Before
   dispatching, the jobs without a run therefore wait together once, `settle_seconds`
   (10 s, longer than GitHub's listing delay), and the recent runs are listed once more:
   a run found then is awaited (or, successful, ends its job) like one found at first.
   Only the jobs still without a run are dispatched. A wave with nothing to dispatch
   does not wait.
3. Dispatches are writes: the session's client spaces them by the pacing policy
   (`rules.pacing`, 1 s apart on GitHub). A rate-limited dispatch is sent again after the
   wait the forge asks; a dispatch whose answer was lost (5xx, timeout) is only sent again
   once no run for it has appeared within `appear_timeout`.
4. Every unfinished run is awaited by listing the workflow's runs, newest first, down to
   the oldest unfinished one, with polls backing off from `poll_first` to `poll_max`
   seconds. A dispatched run is found by its correlation id (it is listed a moment after
   the dispatch). A run past `timeout` seconds is cancelled and its PPC fails; a
   conclusion other than `success` fails its PPC.

Request budget (GitHub allows 5,000 requests an hour to a token, 15,000 to an app's, and
secondary limits ask for writes a second apart). For a wave of N PPCs:

- 2 reads for the workflow and its file;
- ceil(R / 100) reads for the first listing, R the workflow's runs in the lookback window
  (about N a release, so 10 pages for 500 PPCs and two weekly releases);
- when anything is to be dispatched, one more listing after the settle delay, of the
  runs created in the last minutes only: ceil(S / 100) reads, usually one (S the runs
  created meanwhile), and `settle_seconds` (10 s) of waiting once per wave;
- N writes (dispatches), one a second: 500 PPCs take 500 s to dispatch;
- per poll, ceil(U / 100) reads, U the runs created since the oldest unfinished one (at
  most N plus runs started by others meanwhile); polls come at most every `poll_max` s
  (30 s), so a 500-PPC wave running 30 minutes costs about 60 polls x 5 pages = 300 reads;
- one write per timed-out run (the cancel).

So that wave costs about 2 + 10 + 1 + 500 + 300 = 813 requests, 1.6 per PPC, against one GET
per run per poll (500 x 60 = 30,000 reads: six hours of a token's budget). `make bench`
prints the requests per PPC measured against the sandbox.

The job's `environment` is not sent: a workflow accepts only the inputs it declares (25 at
most). The executor reads no config and no environment variable: its settings and the
forge session are handed to it.
"""

from __future__ import annotations

import base64
import datetime
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import yaml

from release import forge
from release.forge import ForgeError, ForgeSession
from release.rules import text
from release.rules.errors import ConfigError
from release.rules.ppc_jobs import PpcJob, PpcOutcome

INPUTS = ("ppc", "release", "commit", "wave", "correlation_id")
PER_PAGE = 100
CLOCK_SKEW = 300.0  # seconds a run's created_at may lag this machine's clock
DISPATCH_ATTEMPTS = 3
_RUN_NAME_ID = re.compile(r"\$\{\{\s*inputs\.correlation_id\s*\}\}")


@dataclass(frozen=True)
class ActionsSettings:
    """What the executor needs from the stack's config (`ppcWorkflow`, `ppcWorkflowRef`,
    `ppcTimeout`) and its timings (the defaults suit GitHub; tests shorten them)."""

    workflow: str
    ref: str
    timeout: float
    poll_first: float = 5.0
    poll_max: float = 30.0
    appear_timeout: float = 120.0
    lookback_days: float = 14.0
    settle_seconds: float = 10.0  # the wait before a second look for runs, covering GitHub's
    # delay in listing a dispatched run (a run a killed rollout has just dispatched)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> ActionsSettings:
        """From the plain data a wave resource carries (`RolloutSettings.actions_spec`):
        {"kind": "actions", "workflow", "ref" ("" for the default branch), "timeout"
        [, "poll_first", "poll_max", "appear_timeout", "lookback_days", "settle_seconds"]};
        other keys (the
        forge's "api_url" and "repository") are the session's."""
        if not spec.get("workflow"):
            raise ValueError("no workflow")
        if float(spec["timeout"]) <= 0:
            raise ValueError(f"timeout {spec['timeout']!r} is not a number of seconds > 0")
        known = {
            name: float(spec[name])
            for name in (
                "poll_first",
                "poll_max",
                "appear_timeout",
                "lookback_days",
                "settle_seconds",
            )
            if spec.get(name) is not None
        }
        return cls(
            str(spec["workflow"]), str(spec.get("ref") or ""), float(spec["timeout"]), **known
        )


@dataclass
class _Track:
    """One job on its way: the run awaited (once found) and when it started counting."""

    job: PpcJob
    started: float  # monotonic: when the dispatch was sent or the run first awaited
    run: dict[str, Any] | None = None
    skip_ids: frozenset[int] = frozenset()  # older runs of this id (failed ones)
    attempts: int = 0  # dispatches sent
    uncertain: bool = False  # the dispatch's answer was lost
    status: str = ""
    outcome: PpcOutcome | None = None
    cancelling: bool = False


def _matches(title: str, correlation_id: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(correlation_id)}(?![\w-])", title or "") is not None


def _created(run: Mapping[str, Any]) -> float:
    stamp = str(run.get("created_at") or "")
    try:
        return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


@dataclass
class ActionsExecutor:
    """Runs waves of PPC updates as GitHub Actions runs (see the module docstring)."""

    session: ForgeSession
    settings: ActionsSettings
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    _workflow: dict[str, Any] | None = field(default=None, repr=False)

    # -- requests ---------------------------------------------------------------------------
    def _call(self, verb: str, path: str, **kwargs: Any) -> Any:
        """One request to the repository's API through the session's client (its retries
        of reads, its spacing of writes)."""
        requester = self.session.client.requester
        _headers, data = requester.requestJsonAndCheck(
            verb, f"/repos/{self.session.repository}{path}", **kwargs
        )
        return data

    def _workflow_path(self) -> str:
        return f"/actions/workflows/{quote(self.settings.workflow, safe='')}"

    # -- the workflow -----------------------------------------------------------------------
    def check_workflow(self) -> dict[str, Any]:
        """The workflow, once: it exists, renders the correlation id into its run-name and
        accepts the inputs sent; ConfigError naming `ppcWorkflow` otherwise."""
        if self._workflow is not None:
            return self._workflow
        name = self.settings.workflow
        if not self.settings.ref:
            repository = self._call("GET", "")
            self.settings = replace(self.settings, ref=str(repository["default_branch"]))
        try:
            workflow = self._call("GET", self._workflow_path())
        except forge.GithubException as err:
            if err.status == 404:
                raise ConfigError(
                    "ppcWorkflow",
                    name,
                    f"{self.session.repository} has no workflow {name}: give the file name of "
                    "the PPC update workflow under .github/workflows, e.g. ppc-update.yml",
                ) from None
            raise ForgeError.from_error(f"read workflow {name}", err) from None
        content = self._file(str(workflow["path"]))
        problem = _workflow_problem(content, self.settings.ref)
        if problem:
            raise ConfigError("ppcWorkflow", name, problem)
        self._workflow = workflow
        return workflow

    def _file(self, path: str) -> str | None:
        """The workflow file's text at the configured ref, or None when it is not there."""
        try:
            data = self._call(
                "GET", f"/contents/{quote(path)}", parameters={"ref": self.settings.ref}
            )
        except forge.GithubException as err:
            if err.status == 404:
                return None
            raise ForgeError.from_error(f"read {path}", err) from None
        if not isinstance(data, dict) or data.get("encoding") != "base64":
            return None
        return base64.b64decode(data.get("content") or "").decode("utf-8", errors="replace")

    # -- listing runs -----------------------------------------------------------------------
    def _runs_since(self, since: float) -> list[dict[str, Any]]:
        """The workflow's runs created at or after `since` (epoch seconds), newest first:
        pages of 100 until one reaches an older run."""
        runs: list[dict[str, Any]] = []
        page = 1
        while True:
            data = self._call(
                "GET",
                f"{self._workflow_path()}/runs",
                parameters={"per_page": PER_PAGE, "page": page},
            )
            batch = data.get("workflow_runs") or []
            runs.extend(r for r in batch if _created(r) >= since)
            if len(batch) < PER_PAGE or any(_created(r) < since for r in batch):
                return runs
            page += 1

    # -- the wave ---------------------------------------------------------------------------
    def run_wave(self, jobs: Sequence[PpcJob], report: Callable[[str], None]) -> list[PpcOutcome]:
        """Update every PPC of `jobs`; one outcome per job, in order (`rules.ppc_jobs`)."""
        if not jobs:
            return []
        self.check_workflow()
        now = self.wall()
        earlier = self._runs_since(now - self.settings.lookback_days * 86400)
        tracks: list[_Track] = []
        to_dispatch: list[_Track] = []
        for job in jobs:
            track = _Track(job, self.clock())
            tracks.append(track)
            if self._found(track, earlier, report):
                to_dispatch.append(track)
        if to_dispatch and self.settings.settle_seconds > 0:
            # A run dispatched just before (by a rollout killed a moment ago) is listed a
            # few seconds late: look once more, for every such job at once, before sending.
            report(
                f"{len(to_dispatch)} PPC(s) without a run: looking again in "
                f"{self.settings.settle_seconds:g} s before dispatching"
            )
            self.sleep(self.settings.settle_seconds)
            recent = self._runs_since(now - CLOCK_SKEW)
            to_dispatch = [t for t in to_dispatch if self._found(t, recent, report)]
        self._drive(tracks, to_dispatch, report)
        return [t.outcome or PpcOutcome(t.job.ppc, False, "not finished") for t in tracks]

    def _found(
        self, track: _Track, runs: Sequence[Mapping[str, Any]], report: Callable[[str], None]
    ) -> bool:
        """Match the job against a listing of runs: a successful run ends it, a queued or
        running one is awaited. True when it still needs a dispatch (no run, or only
        failed or cancelled ones, which its dispatched run is not mistaken for)."""
        job = track.job
        mine = [r for r in runs if _matches(r.get("display_title", ""), job.correlation_id)]
        track.skip_ids = track.skip_ids | frozenset(int(r["id"]) for r in mine)
        done = next(
            (
                r
                for r in mine
                if r.get("status") == "completed" and r.get("conclusion") == "success"
            ),
            None,
        )
        active = next((r for r in mine if r.get("status") != "completed"), None)
        if done is not None:
            track.outcome = PpcOutcome(
                job.ppc, True, "already updated by an earlier run", done.get("html_url", "")
            )
            report(f"{_who(job)}: already updated by {_run_text(done)}")
            return False
        if active is not None:
            track.run = active
            track.status = str(active.get("status"))
            report(f"{_who(job)}: awaiting the run already {track.status}: {_run_text(active)}")
            return False
        return True

    def _drive(
        self, tracks: list[_Track], to_dispatch: list[_Track], report: Callable[[str], None]
    ) -> None:
        """Dispatch what needs it and poll until every track has an outcome."""
        queue = list(to_dispatch)
        interval = self.settings.poll_first
        next_poll = self.clock() + interval
        oldest_dispatch: float | None = None
        while queue or any(t.outcome is None for t in tracks):
            if queue:
                track = queue.pop(0)
                if self._dispatch(track, report):
                    oldest_dispatch = oldest_dispatch or self.wall()
                else:
                    queue.append(track)  # rate limited: sent again after the others
            if self.clock() < next_poll:
                if queue:
                    continue
                self.sleep(max(0.0, next_poll - self.clock()))
            requeue = self._poll(tracks, oldest_dispatch, report)
            queue.extend(t for t in requeue if t not in queue)
            interval = min(interval * 1.5, self.settings.poll_max)
            next_poll = self.clock() + interval

    def _dispatch(self, track: _Track, report: Callable[[str], None]) -> bool:
        """Send the job's dispatch; False when the forge asked to wait (sent again later)."""
        job = track.job
        body = {
            "ref": self.settings.ref,
            "inputs": {
                "ppc": job.ppc,
                "release": job.release,
                "commit": job.commit,
                "wave": str(job.wave),
                "correlation_id": job.correlation_id,
            },
        }
        track.started = self.clock()
        track.attempts += 1
        try:
            self._call("POST", f"{self._workflow_path()}/dispatches", input=body)
        except Exception as err:  # noqa: BLE001 - classified just below
            wait = forge.retry_after(err)
            if wait is not None:
                report(f"{_who(job)}: the forge asks to wait {wait:g} s before dispatching")
                track.attempts -= 1  # refused: nothing was dispatched
                self.sleep(min(wait, 300.0))
                return False
            if forge.is_transient(err):
                # The dispatch may have happened: look for its run before sending another.
                track.uncertain = True
                report(
                    f"{_who(job)}: dispatch unanswered ({text.plain(forge.describe(err))}); looking for its run"
                )
                return True
            if isinstance(err, forge.GithubException) and err.status == 422:
                message = (err.data or {}).get("message", "") if isinstance(err.data, dict) else ""
                raise ConfigError(
                    "ppcWorkflow",
                    self.settings.workflow,
                    f"the workflow refused the dispatch: {text.plain(message)}; it must accept "
                    f"the inputs {', '.join(INPUTS)} on ref {self.settings.ref}",
                ) from None
            raise ForgeError.from_error(f"dispatch {self.settings.workflow}", err) from None
        track.uncertain = False
        report(
            f"{_who(job)}: dispatched {text.plain(self.settings.workflow)} ({job.correlation_id})"
        )
        return True

    def _poll(
        self, tracks: list[_Track], oldest_dispatch: float | None, report: Callable[[str], None]
    ) -> list[_Track]:
        """One listing of the workflow's runs: find dispatched runs, follow awaited ones,
        cancel the timed out. The tracks whose dispatch must be sent again."""
        # A job still waiting for its dispatch has nothing to look for yet.
        open_tracks = [t for t in tracks if t.outcome is None and (t.run or t.attempts)]
        if not open_tracks:
            return []
        starts = [_created(t.run) for t in open_tracks if t.run is not None]
        if any(t.run is None for t in open_tracks) and oldest_dispatch is not None:
            starts.append(oldest_dispatch - CLOCK_SKEW)
        runs = self._runs_since(min(starts) if starts else self.wall() - CLOCK_SKEW)
        by_id = {int(r["id"]): r for r in runs}
        requeue: list[_Track] = []
        for track in open_tracks:
            job = track.job
            if track.run is None:
                found = [
                    r
                    for r in runs
                    if _matches(r.get("display_title", ""), job.correlation_id)
                    and int(r["id"]) not in track.skip_ids
                ]
                if not found:
                    if self.clock() - track.started > self.settings.appear_timeout:
                        if track.uncertain and track.attempts < DISPATCH_ATTEMPTS:
                            requeue.append(track)
                            continue
                        track.outcome = PpcOutcome(
                            job.ppc,
                            False,
                            f"dispatched, but no run titled with {job.correlation_id} appeared "
                            f"within {self.settings.appear_timeout:g} s",
                        )
                        report(f"{_who(job)}: {track.outcome.detail}")
                    continue
                track.run = found[-1]  # the oldest: a second one would be someone else's
            else:
                track.run = by_id.get(int(track.run["id"]), track.run)
            run = track.run
            status = str(run.get("status"))
            if status != track.status:
                track.status = status
                if status != "completed":
                    report(f"{_who(job)}: run {text.plain(status)}: {_run_text(run)}")
            if status == "completed":
                conclusion = str(run.get("conclusion"))
                ok = conclusion == "success"
                if track.cancelling and not ok:
                    detail = f"timed out after {self.settings.timeout:g} s: run cancelled"
                else:
                    detail = "updated" if ok else f"run concluded {text.plain(conclusion)}"
                track.outcome = PpcOutcome(job.ppc, ok, detail, str(run.get("html_url", "")))
                report(f"{_who(job)}: {detail}: {_run_text(run)}")
            elif not track.cancelling and self.clock() - track.started > self.settings.timeout:
                self._cancel(track, report)
        return requeue

    def _cancel(self, track: _Track, report: Callable[[str], None]) -> None:
        """Cancel a run past the timeout and fail its PPC (a run that completed meanwhile
        keeps its own conclusion, read at the next poll)."""
        run = track.run or {}
        track.cancelling = True
        try:
            forge.repeatable(lambda: self._call("POST", f"/actions/runs/{int(run['id'])}/cancel"))
        except forge.GithubException as err:
            if err.status == 409:  # completed meanwhile: its conclusion decides
                return
            raise ForgeError.from_error("cancel a workflow run", err) from None
        track.outcome = PpcOutcome(
            track.job.ppc,
            False,
            f"timed out after {self.settings.timeout:g} s: run cancelled",
            str(run.get("html_url", "")),
        )
        report(f"{_who(track.job)}: {track.outcome.detail}: {_run_text(run)}")


def _who(job: PpcJob) -> str:
    return text.plain(job.ppc)


def _run_text(run: Mapping[str, Any]) -> str:
    return f"{text.plain(run.get('display_title', ''))} {text.plain(run.get('html_url', ''))}"


def _workflow_problem(content: str | None, ref: str) -> str | None:
    """Why a workflow file cannot serve the executor, or None."""
    if content is None:
        return f"the workflow file is not on {ref}: set ppcWorkflowRef to a branch that has it"
    try:
        doc = yaml.safe_load(content)
    except yaml.YAMLError:
        return "the workflow file is not YAML"
    if not isinstance(doc, dict):
        return "the workflow file is not a YAML mapping"
    run_name = doc.get("run-name")
    if not isinstance(run_name, str) or not _RUN_NAME_ID.search(run_name):
        return (
            "its run-name must name the correlation id, so a run is found again after a "
            "crash: add e.g. `run-name: Update ${{ inputs.ppc }} [${{ inputs.correlation_id }}]`"
        )
    triggers = doc.get("on", doc.get(True))
    dispatch = triggers.get("workflow_dispatch") if isinstance(triggers, dict) else None
    declared = dispatch.get("inputs") if isinstance(dispatch, dict) else None
    if not (isinstance(triggers, dict) and "workflow_dispatch" in triggers) and not (
        triggers == "workflow_dispatch"
        or (isinstance(triggers, list) and "workflow_dispatch" in triggers)
    ):
        return "it has no workflow_dispatch trigger: add `on: workflow_dispatch` with its inputs"
    missing = [name for name in INPUTS if name not in (declared or {})]
    if missing:
        return (
            f"its workflow_dispatch does not declare the inputs {', '.join(missing)}: "
            f"declare {', '.join(INPUTS)}"
        )
    return None
