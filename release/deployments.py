"""Every promotion is a GitHub Deployment: the forge's own record of what runs where.

A promotion's merge into `staging` or `production` is a Deployment of that environment at
the merge commit (task `deploy`), with the release in its payload; each customer PPC's
update is a Deployment to the environment `ppc/<name>` (task `deploy:ppc`). Their statuses
follow the train: `in_progress` at the merge, `success` once verification and the PPC
rollout are done, `failure` when the run fails; a rollback makes the replaced deployment
`inactive`. A PPC's deployment gets only its final status: created without one, it counts
as started (GitHub shows it pending).

Everything here is idempotent, so a re-run after a crash never adds a second deployment:

- `ensure_deployment` finds the deployment of (environment, sha, task) before creating one
  (`forge.create_once`: it looks again after an uncertain create);
- `set_status` adds nothing when the deployment's latest state is already the one asked for.

The callers pass the repository of their `ForgeSession` (or a provider's `repo`); nothing
here reads the environment or the stack. Reads: one listing per lookup (one per PPC wave),
one request for a deployment's latest status, and none for what the caller knows for sure:
the status of a deployment it just created (none) or just read or wrote (`set_status`'s
`latest`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from release import forge
from release.rules.ppc_jobs import PpcJob, PpcOutcome

if TYPE_CHECKING:
    from github.Deployment import Deployment
    from github.Repository import Repository
    from github.Requester import Requester

PROMOTION_TASK = "deploy"
PPC_TASK = "deploy:ppc"
PPC_PREFIX = "ppc/"
STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
OPEN_STATES = frozenset({"queued", "pending", "in_progress"})
DESCRIPTION_LIMIT = 140  # GitHub refuses a longer status or deployment description
RECENT = 10  # how many of an environment's newest deployments a retire or failure looks at


class HasStatuses(Protocol):
    """What reading or adding a deployment's statuses needs: a PyGithub `Deployment`, or a
    `KnownDeployment` made from an id without reading the deployment."""

    @property
    def id(self) -> int: ...

    @property
    def url(self) -> str: ...

    @property
    def requester(self) -> Requester: ...


@dataclass(frozen=True)
class KnownDeployment:
    """A deployment whose id is already known (a resource's output): its statuses can be
    read and added without a request for the deployment itself."""

    id: int
    url: str
    requester: Requester


def known(repo: Repository, number: int) -> KnownDeployment:
    """The deployment `number` of `repo`, without reading it."""
    return KnownDeployment(int(number), f"{repo.url}/deployments/{int(number)}", repo.requester)


class Unread(Enum):
    """`set_status`'s `latest` when the caller does not know the latest status."""

    UNREAD = "unread"


UNREAD = Unread.UNREAD


@dataclass(frozen=True)
class DeploymentRecord:
    """A deployment as release-train reads it back: where, what, and its latest state."""

    id: int
    environment: str
    sha: str
    task: str
    release: str | None
    state: str | None  # the latest status's state; None before any status
    log_url: str | None
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "environment": self.environment,
            "sha": self.sha,
            "task": self.task,
            "release": self.release,
            "state": self.state,
            "logUrl": self.log_url,
            "createdAt": self.created_at,
        }


def is_production(environment: str) -> bool:
    """Whether release-train creates the deployments of `environment` as production ones
    (GitHub's `auto_inactive` leaves those alone)."""
    return environment == "production"


def ppc_environment(name: str) -> str:
    """The deployment environment of one customer PPC: `ppc/<name>`."""
    return f"{PPC_PREFIX}{name}"


def short(text: str | None) -> str:
    """A description GitHub accepts (at most 140 characters)."""
    text = " ".join((text or "").split())
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


def find_deployment(
    repo: Repository, environment: str, sha: str, task: str = PROMOTION_TASK
) -> Deployment | None:
    """The newest deployment of `sha` to `environment` for `task`, or None (one listing)."""
    for deployment in repo.get_deployments(sha=sha, task=task, environment=environment):
        return deployment
    return None


def _creator(
    repo: Repository,
    environment: str,
    sha: str,
    release: str,
    task: str,
    description: str | None,
    payload: Mapping[str, Any] | None,
) -> Callable[[], Deployment]:
    """The create of a deployment with `{"release": release, **payload}` as its payload. The
    merge gate already checked the commit, so GitHub's own context check and auto-merge are
    off."""

    def create() -> Deployment:
        return repo.create_deployment(
            ref=sha,
            task=task,
            auto_merge=False,
            required_contexts=[],
            payload={"release": release, **dict(payload or {})},
            environment=environment,
            description=short(description or f"{release} to {environment}"),
            production_environment=is_production(environment),
        )

    return create


def find_or_create(
    repo: Repository,
    environment: str,
    sha: str,
    release: str,
    task: str = PROMOTION_TASK,
    description: str | None = None,
    payload: Mapping[str, Any] | None = None,
    looked: bool = False,
) -> tuple[Deployment, bool]:
    """The deployment of `sha` to `environment` for `task` (see `ensure_deployment`), and
    whether this call created it: a deployment just created has no status, so its status
    needs no read. `looked`: the caller's own listing just found none (see
    `forge.create_once`)."""
    create = _creator(repo, environment, sha, release, task, description, payload)
    made: list[Deployment] = []

    def create_and_remember() -> Deployment:
        made.append(create())
        return made[-1]

    deployment = forge.create_once(
        lambda: find_deployment(repo, environment, sha, task),
        create_and_remember,
        what=f"create the deployment of {sha[:12]} to {environment}",
        looked=looked,
    )
    # Found after an uncertain create (it may have happened): not known to be new.
    return deployment, any(d is deployment for d in made)


def ensure_deployment(
    repo: Repository,
    environment: str,
    sha: str,
    release: str,
    task: str = PROMOTION_TASK,
    description: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> Deployment:
    """The deployment of `sha` to `environment` for `task`: the one already there, else a
    new one with `{"release": release, **payload}` as its payload."""
    return find_or_create(repo, environment, sha, release, task, description, payload)[0]


def latest_status(deployment: HasStatuses) -> dict[str, Any] | None:
    """The deployment's newest status as GitHub serves it, or None (one request)."""
    url = f"{deployment.url}/statuses"
    _headers, data = deployment.requester.requestJsonAndCheck(
        "GET", url, parameters={"per_page": 1}
    )
    return dict(data[0]) if isinstance(data, list) and data else None


def set_status(
    deployment: HasStatuses,
    state: str,
    log_url: str | None = None,
    description: str | None = None,
    environment_url: str | None = None,
    auto_inactive: bool | None = None,
    latest: Mapping[str, Any] | None | Unread = UNREAD,
) -> dict[str, Any]:
    """Give `deployment` the status `state` unless its latest status already has it;
    returns the status. `log_url` also sets the status's target URL (GitHub's rule).

    `latest`: the deployment's latest status (None: none) when the caller knows it for
    sure (it just created the deployment, or just read or wrote its status); then it is not
    read again, only after an uncertain write (`forge.create_once`)."""
    return add_status(
        deployment, state, log_url, description, environment_url, auto_inactive, latest
    )[0]


def add_status(
    deployment: HasStatuses,
    state: str,
    log_url: str | None = None,
    description: str | None = None,
    environment_url: str | None = None,
    auto_inactive: bool | None = None,
    latest: Mapping[str, Any] | None | Unread = UNREAD,
) -> tuple[dict[str, Any], bool]:
    """`set_status`, and whether this call's own write is the status returned (False: the
    state was already there, or an uncertain write was found afterwards)."""
    if state not in STATES:
        raise ValueError(f"unknown deployment state {state!r}; expected one of {STATES}")
    body: dict[str, Any] = {"state": state, "description": short(description)}
    if log_url:
        body["log_url"] = log_url
    if environment_url:
        body["environment_url"] = environment_url
    if auto_inactive is not None:
        body["auto_inactive"] = auto_inactive
    written: list[dict[str, Any]] = []

    def find() -> dict[str, Any] | None:
        found = latest_status(deployment)
        return found if found and found.get("state") == state else None

    def create() -> dict[str, Any]:
        _headers, data = deployment.requester.requestJsonAndCheck(
            "POST", f"{deployment.url}/statuses", input=body
        )
        written.append(dict(data))
        return written[-1]

    what = f"set deployment {deployment.id} {state}"
    if latest is UNREAD:
        status = forge.create_once(find, create, what=what)
    elif latest is not None and latest.get("state") == state:
        return dict(latest), False
    else:
        status = forge.create_once(find, create, what=what, looked=True)
    return status, any(w is status for w in written)


def _iso(when: datetime | None) -> str:
    """A timestamp as GitHub writes it (UTC, `2026-11-26T12:00:00Z`); "" for none."""
    if when is None:
        return ""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def record_of(deployment: Deployment, status: Mapping[str, Any] | None) -> DeploymentRecord:
    payload = deployment.payload if isinstance(deployment.payload, dict) else {}
    release = payload.get("release")
    return DeploymentRecord(
        id=deployment.id,
        environment=deployment.environment,
        sha=deployment.sha,
        task=deployment.task,
        release=str(release) if release else None,
        state=str(status["state"]) if status else None,
        log_url=(status.get("log_url") or status.get("target_url") or None) if status else None,
        # the attribute, not `raw_data`: that one reads a listed deployment again
        created_at=_iso(deployment.created_at),
    )


def recent(
    repo: Repository, environment: str, task: str = PROMOTION_TASK, limit: int = RECENT
) -> list[tuple[Deployment, dict[str, Any] | None]]:
    """The newest `limit` deployments of `environment` for `task`, each with its latest
    status, newest first."""
    found = []
    for deployment in repo.get_deployments(task=task, environment=environment):
        found.append((deployment, latest_status(deployment)))
        if len(found) >= limit:
            break
    return found


def current(
    repo: Repository, environment: str, task: str = PROMOTION_TASK, limit: int = RECENT
) -> DeploymentRecord | None:
    """What the forge says runs in `environment`: the newest deployment whose latest state
    is `success`, else the newest deployment at all (in progress, failed), else None.
    One listing, and a status read per deployment down to the newest successful one."""
    newest: tuple[Deployment, dict[str, Any] | None] | None = None
    for deployment in islice(repo.get_deployments(task=task, environment=environment), limit):
        status = latest_status(deployment)
        if status and status.get("state") == "success":
            return record_of(deployment, status)
        newest = newest or (deployment, status)
    return record_of(*newest) if newest else None


def retire_replaced(
    repo: Repository,
    environment: str,
    keep: int,
    description: str,
    task: str = PROMOTION_TASK,
    limit: int = RECENT,
    auto_inactive_done: bool = False,
) -> list[int]:
    """Mark every other recent deployment of `environment` whose latest state is `success`
    `inactive` (GitHub's `auto_inactive` does so only outside production). Returns their ids.

    One listing; the statuses of `keep` are not read (the caller just set them), nor, with
    `auto_inactive_done` (the caller's own `success` on `keep`, a non-production
    deployment, went out with GitHub's `auto_inactive`, which made every earlier successful
    one `inactive`), those of the deployments older than `keep`. Any other needs one read:
    a listing carries no state."""
    retired = []
    for deployment in islice(repo.get_deployments(task=task, environment=environment), limit):
        if deployment.id == keep or (auto_inactive_done and deployment.id < keep):
            continue
        status = latest_status(deployment)
        if status and status.get("state") == "success":
            set_status(deployment, "inactive", description=description, latest=status)
            retired.append(deployment.id)
    return retired


def fail_open(
    repo: Repository,
    environment: str,
    description: str,
    log_url: str | None = None,
    task: str = PROMOTION_TASK,
    limit: int = RECENT,
) -> list[int]:
    """Mark every recent deployment of `environment` still queued, pending or in progress
    `failure` (a run that failed leaves nothing else to finish them), keeping the log URL
    its last status gave unless `log_url` is given. Returns their ids."""
    failed = []
    for deployment, status in recent(repo, environment, task, limit):
        if status is None or status.get("state") in OPEN_STATES:
            url = log_url or (status or {}).get("log_url") or None
            set_status(deployment, "failure", log_url=url, description=description, latest=status)
            failed.append(deployment.id)
    return failed


# Customer PPCs: one deployment per PPC and commit, to `ppc/<name>`.


def ensure_ppc_deployment(
    repo: Repository, ppc: str, sha: str, release: str, wave: int
) -> Deployment:
    """The deployment of `sha` to the PPC's environment (found, else created)."""
    return ensure_deployment(
        repo,
        ppc_environment(ppc),
        sha,
        release,
        task=PPC_TASK,
        description=f"{release} to PPC {ppc} (wave {wave})",
        payload={"ppc": ppc, "wave": wave},
    )


def set_ppc_status(
    repo: Repository,
    ppc: str,
    sha: str,
    release: str,
    wave: int,
    state: str,
    log_url: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """Move the PPC's deployment of `sha` to `state` (the deployment is created if needed)."""
    deployment = ensure_ppc_deployment(repo, ppc, sha, release, wave)
    return set_status(deployment, state, log_url=log_url, description=description)


def ppc_states(repo: Repository, ppcs: Iterable[str]) -> dict[str, DeploymentRecord | None]:
    """Each PPC's newest deployment and its latest state, as the forge records them.

    One listing of every PPC deployment (task `deploy:ppc`), newest first, read until each
    PPC is found or twice as many deployments as PPCs (a page at least) were seen: the
    newest rollout's deployments come first. A PPC not found there (never deployed, or not
    for many releases) is looked up in its own environment. Then one status read per PPC."""
    names = list(dict.fromkeys(ppcs))
    if not names:
        return {}
    wanted = {ppc_environment(name): name for name in names}
    newest: dict[str, Deployment] = {}
    budget = max(2 * len(names), 100)
    for seen, deployment in enumerate(repo.get_deployments(task=PPC_TASK)):
        name = wanted.get(deployment.environment)
        if name is not None:
            newest.setdefault(name, deployment)
        if len(newest) == len(names) or seen + 1 >= budget:
            break
    states: dict[str, DeploymentRecord | None] = {}
    for name in names:
        deployment = newest.get(name) or find_newest(repo, ppc_environment(name), PPC_TASK)
        states[name] = record_of(deployment, latest_status(deployment)) if deployment else None
    return states


def find_newest(repo: Repository, environment: str, task: str) -> Deployment | None:
    """The newest deployment of `environment` for `task`, or None (one listing)."""
    for deployment in repo.get_deployments(task=task, environment=environment):
        return deployment
    return None


@dataclass(frozen=True)
class StartedPpc:
    """A PPC's deployment as `start_ppc_wave` left it, and its latest status then (None:
    none; a deployment without status counts as started, GitHub shows it pending)."""

    deployment: Deployment
    latest: dict[str, Any] | None


RESTARTED = frozenset({"failure", "error", "inactive"})  # a PPC run again: in_progress


def ppc_deployments_at(repo: Repository, sha: str) -> dict[str, Deployment]:
    """Every PPC deployment of `sha` (task `deploy:ppc`, any environment): the newest per
    environment. One listing, paged."""
    found: dict[str, Deployment] = {}
    for deployment in repo.get_deployments(sha=sha, task=PPC_TASK):
        found.setdefault(deployment.environment, deployment)
    return found


def start_ppc_wave(repo: Repository, jobs: Iterable[PpcJob]) -> dict[str, StartedPpc]:
    """Before a wave runs: each job's deployment, found in one listing of the wave's commit,
    else created. A deployment created has no status, which says started: no `in_progress`
    is written for it. One found (a re-run: after a crash, or of a failed PPC) has its
    status read; a failed one is marked `in_progress` again, so the forge does not show the
    old failure while it runs. Returns them by PPC name, for `finish_ppc_wave`.

    Request budget per wave: one listing (a page per 100 PPCs). Per PPC on its first run:
    two writes, the deployment and the final status from `finish_ppc_wave`, and no read.
    Per PPC found again: one status read, the final status only if it changes, and
    `in_progress` if it had failed. On github.com writes go at least a second apart, so a
    500-PPC rollout's Deployments cost 1,000 writes, about 17 minutes of one token's
    pacing (GitHub also allows a token about 80 content-creating requests a minute, which
    the client's retries honour when GitHub says so: `Retry-After`)."""
    jobs = list(jobs)
    at = {
        commit: ppc_deployments_at(repo, commit) for commit in dict.fromkeys(j.commit for j in jobs)
    }
    started: dict[str, StartedPpc] = {}
    for job in jobs:
        environment = ppc_environment(job.ppc)
        deployment = at[job.commit].get(environment)
        if deployment is None:
            deployment, created = find_or_create(
                repo,
                environment,
                job.commit,
                job.release,
                task=PPC_TASK,
                description=f"{job.release} to PPC {job.ppc} (wave {job.wave})",
                payload={"ppc": job.ppc, "wave": job.wave},
                looked=True,
            )
            latest = None if created else latest_status(deployment)
        else:
            latest = latest_status(deployment)
        if latest is not None and latest.get("state") in RESTARTED:
            latest = set_status(
                deployment,
                "in_progress",
                description=f"wave {job.wave}: updating {job.ppc} again",
                latest=latest,
            )
        started[job.ppc] = StartedPpc(deployment, latest)
    return started


def finish_ppc_wave(
    repo: Repository,
    jobs: Iterable[PpcJob],
    outcomes: Iterable[PpcOutcome],
    started: Mapping[str, StartedPpc] | None = None,
) -> dict[str, str]:
    """After a wave: each job's deployment `success` or `failure` as its outcome says, with
    the outcome's URL as the log and its detail as the description; a status already there
    is not added again (known from `started`, else read). Returns PPC -> state."""
    by_ppc = {outcome.ppc: outcome for outcome in outcomes}
    done: dict[str, str] = {}
    for job in jobs:
        outcome = by_ppc.get(job.ppc)
        if outcome is None:
            continue  # not run (the executor stopped before it): left as it is
        entry = (started or {}).get(job.ppc)
        deployment: HasStatuses
        latest: Mapping[str, Any] | None | Unread = UNREAD
        if entry is not None:
            deployment, latest = entry.deployment, entry.latest
        else:
            deployment = ensure_ppc_deployment(repo, job.ppc, job.commit, job.release, job.wave)
        state = "success" if outcome.ok else "failure"
        set_status(
            deployment,
            state,
            log_url=outcome.url or None,
            description=outcome.detail,
            latest=latest,
        )
        done[job.ppc] = state
    return done
