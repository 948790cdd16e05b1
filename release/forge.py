"""The forge client: PyGithub pointed at GitHub, GitHub Enterprise or the local sandbox.

Everything that talks to the forge goes through here: the `ForgeSession` (API URL, token,
repository) that each edge builds once and passes down, the client with retries that honour
`Retry-After`, the credentials of the dynamic providers (held by this module in the
provider process, never on a provider object, so they are never serialized into state),
read helpers the program and the providers share, and redaction of secrets from errors.

The token is decided in one place, `release.rules.config.token_from`: the stack's
`release-train:token` secret first, then `GITHUB_TOKEN`. The program's entry, the command
line and the providers' `configure` all call it, so every step acts as one identity.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from release.rules.config import (
    HIDDEN,
    NAMESPACE,
    RELEASE_PREFIX,
    ConfigError,
    release_date_of,
    token_from,
)
from release.rules.gates import MergeGate, merge_gate
from release.rules.memo import Memo, is_bool, is_sha_list, memo_key
from release.rules.pacing import Pacing, for_api
from release.rules.running import (
    EnvMerge,
    StackRecord,
    first_parent_merges,
    name_merge,
    rollback_evidence,
)

if TYPE_CHECKING:
    from github import Github, GithubRetry
    from github.GitCommit import GitCommit
    from github.GitRef import GitRef
    from github.GitTree import GitTree
    from github.PullRequest import PullRequest as GhPull
    from github.Repository import Repository

# PyGithub is imported where it is used: the dynamic providers' process loads this module to
# check and diff resources during a preview, which needs no forge (saves ~0.2 s a preview).
_LAZY = frozenset({"GithubException", "UnknownObjectException", "InputGitAuthor"})


def __getattr__(name: str) -> Any:
    """`forge.GithubException` and co., imported on first use (PEP 562). An `except
    forge.GithubException` clause looks it up only when an exception reaches it."""
    if name in _LAZY:
        import github

        return getattr(github, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


T = TypeVar("T")

_lock = threading.Lock()
_token: str | None = None
_clients: dict[tuple[str, str, float, Pacing], Github] = {}
_repos: dict[tuple[str, str, float, Pacing, str], Repository] = {}
_secrets: set[str] = set()  # every token this process was given: redacted from errors
DEFAULT_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0
TIMEOUT_VARIABLE = "RELEASE_TRAIN_HTTP_TIMEOUT"

# POST is left out: a create that reached the server must not be sent twice blindly.
# Creates go through `create_once`, which looks before it retries.
_RETRY_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _retry() -> GithubRetry:
    from github import GithubRetry

    return GithubRetry(
        total=6,
        connect=1,  # a forge that refuses connections is not waited for: apiUrl is named
        backoff_factor=0.3,
        backoff_max=20,
        status_forcelist=[429, 500, 502, 503, 504],
        allowed_methods=_RETRY_METHODS,
        respect_retry_after_header=True,
    )


def connect(
    api_url: str,
    token: str,
    timeout: float = 30,
    lazy: bool = False,
    pacing: Pacing | None = None,
) -> Github:
    """A PyGithub client for `api_url` with retries and backoff, paced by `pacing` (by
    default the policy `rules.pacing.for_api` picks for `api_url`).

    The policy replaces PyGithub's github.com defaults (0.25 s between all requests, 1 s
    between writes): no spacing between reads, `pacing.write_spacing` between writes, and
    at most `pacing.reads_in_flight` pooled connections. Retries still honour `Retry-After`
    and secondary rate limits. A lazy client builds objects such as a repository without
    reading them first, which saves a request per call in the providers.
    """
    from github import Auth, Github

    policy = pacing or for_api(api_url)
    client = Github(
        base_url=api_url,
        auth=Auth.Token(token),
        timeout=int(timeout),
        retry=_retry(),
        per_page=100,
        lazy=lazy,
        pool_size=policy.reads_in_flight,
        seconds_between_requests=0,
        seconds_between_writes=policy.write_spacing,
    )
    # A host that does not answer is given up on within seconds, not after the read timeout:
    # requests takes (connect, read); PyGithub only takes one number and passes it through.
    requester = client._Github__requester  # type: ignore[attr-defined]  # noqa: SLF001
    requester._Requester__timeout = (min(CONNECT_TIMEOUT, timeout), timeout)  # noqa: SLF001
    # Reads go out together (`together`): each thread keeps its own request on the shared
    # connection object (PyGithub keeps one request on it between `request` and `getresponse`).
    cls = requester._Requester__connectionClass  # noqa: SLF001
    requester._Requester__connectionClass = _per_thread(cls)  # noqa: SLF001
    return client


_PENDING = ("verb", "url", "input", "headers", "stream")


@functools.cache
def _per_thread(base: type) -> type:
    """`base` (PyGithub's connection class) with the request being sent kept per thread, so
    threads sharing one client (and its pool of `reads_in_flight` connections) never answer
    each other's requests."""

    def pending(name: str) -> property:
        def get(self: Any) -> Any:
            return getattr(self._pending, name)

        def put(self: Any, value: Any) -> None:
            self._pending.__dict__[name] = value

        return property(get, put)

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        self._pending = threading.local()
        # The pacing policy's bound on reads in flight (`connect` sizes the pool with it),
        # held here so that no way of calling (threads within threads) goes past it.
        self._slots = threading.BoundedSemaphore(kwargs.get("pool_size") or 1)
        base.__init__(self, *args, **kwargs)

    def getresponse(self: Any) -> Any:
        with self._slots:
            return base.getresponse(self)

    attrs: dict[str, Any] = {name: pending(name) for name in _PENDING}
    attrs["__init__"] = init
    attrs["getresponse"] = getresponse
    return type(f"PerThread{base.__name__}", (base,), attrs)


def reads_in_flight(repo: Any) -> int:
    """How many reads `repo`'s client sends at once: its pacing policy's `reads_in_flight`
    (the size `connect` gave its connection pool)."""
    size = getattr(repo.requester, "_Requester__pool_size", None)
    return size if isinstance(size, int) and size > 0 else 1


def together(limit: int, calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run independent reads at once, in at most `limit` threads; their results in order.

    The first failure (in the order of `calls`) is raised once every call has ended, so no
    read is left running behind the caller. However calls nest, one client never has more
    than its policy's `reads_in_flight` requests in flight (its connection holds them)."""
    if limit <= 1 or len(calls) <= 1:
        return [call() for call in calls]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(limit, len(calls))) as pool:
        futures = [pool.submit(call) for call in calls]
    return [future.result() for future in futures]


REPOSITORY_HANDOVER = "RELEASE_TRAIN_REPOSITORY"
"""The repository as the `release` command read it (its JSON), handed to the program and
its providers so that they do not read it again (`adopted_repository`)."""


def repository_json(repo: Repository) -> str:
    """What the command line hands over in REPOSITORY_HANDOVER."""
    import json

    return json.dumps(repo.raw_data, separators=(",", ":"))


def adopted_repository(
    env: Mapping[str, str], api_url: str, repository: str, gh: Github
) -> Repository | None:
    """The repository handed over in `env` (REPOSITORY_HANDOVER) when it is `repository` on
    `api_url`, as an object of `gh`; None when nothing (or another repository) was handed
    over, or it does not parse: then it is read as usual."""
    import json

    from github.Repository import Repository

    text = env.get(REPOSITORY_HANDOVER)
    if not text:
        return None
    try:
        raw = json.loads(text)
    except ValueError:
        return None
    if not isinstance(raw, dict) or str(raw.get("full_name", "")).lower() != repository.lower():
        return None
    if not str(raw.get("url", "")).startswith(api_url.rstrip("/") + "/repos/"):
        return None
    return gh.create_from_raw_data(Repository, raw)


@dataclass(frozen=True)
class ForgeSession:
    """Who release-train is on the forge, and where: built once at an edge (the program's
    entry, the command line) with `session`, then passed down. Its token never shows in
    its repr."""

    api_url: str
    repository: str
    token: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT
    pacing: Pacing | None = None  # None: `rules.pacing.for_api(api_url)`
    handed_over: str | None = field(default=None, repr=False)  # REPOSITORY_HANDOVER

    def __post_init__(self) -> None:
        remember_secret(self.token)
        if self.pacing is None:
            object.__setattr__(self, "pacing", for_api(self.api_url))

    @functools.cached_property
    def client(self) -> Github:
        """This process's one client for the session's forge and token (shared with the
        providers' `client`, so the writes of one token are spaced together)."""
        return client(self.api_url, self.token, self.timeout, self.pacing)

    @functools.cached_property
    def repo(self) -> Repository:
        """The configured repository (read once, or as the command line handed it over;
        `program.open_repo` names a 404)."""
        env = {REPOSITORY_HANDOVER: self.handed_over} if self.handed_over else {}
        adopted = adopted_repository(env, self.api_url, self.repository, self.client)
        return adopted or self.client.get_repo(self.repository)


def session(
    api_url: str, repository: str, secret: str | None, env: Mapping[str, str]
) -> ForgeSession:
    """The forge session of a stack: its API URL and repository, the token `token_from`
    decides (the stack's secret, else GITHUB_TOKEN in `env`), the HTTP timeout, and the
    pacing policy for the API URL (`rules.pacing.for_api`, overridable in `env`), and the
    repository when the command line handed it over (REPOSITORY_HANDOVER in `env`)."""
    return ForgeSession(
        api_url,
        repository,
        token_from(secret, env),
        timeout_from(env),
        for_api(api_url, env),
        env.get(REPOSITORY_HANDOVER) or None,
    )


def remember_secret(token: str | None) -> None:
    """Redact `token` from every error this process reports."""
    if token:
        with _lock:
            _secrets.add(token)


def set_token(token: str | None) -> None:
    """Remember the token for this process's providers (called from `configure`, which the
    engine may call again with the same token: then what was read with it is kept)."""
    global _token
    with _lock:
        if token != _token:
            _clients.clear()
            _repos.clear()
        _token = token
    remember_secret(token)


def configured_token(config: Any) -> str | None:
    """The token secret in the stack config handed to a dynamic provider's `configure`."""
    value = config.get(f"{NAMESPACE}:token")
    return value if isinstance(value, str) and value else None


def provider_token() -> str | None:
    """The token `configure` gave this provider process, if any."""
    return _token


def client(
    api_url: str, token: str, timeout: float = DEFAULT_TIMEOUT, pacing: Pacing | None = None
) -> Github:
    """This process's client for `api_url` and `token` (one per process and policy),
    paced by `pacing` (default: `rules.pacing.for_api(api_url)`)."""
    remember_secret(token)
    policy = pacing or for_api(api_url)
    with _lock:
        key = (api_url, token, timeout, policy)
        cached = _clients.get(key)
        if cached is None:
            cached = _clients[key] = connect(api_url, token, timeout, pacing=policy)
        return cached


def repository(
    api_url: str,
    token: str,
    repository: str,
    timeout: float = DEFAULT_TIMEOUT,
    pacing: Pacing | None = None,
    handed_over: Mapping[str, str] | None = None,
) -> Repository:
    """This process's `repository` on `client(api_url, token, ...)`, built once and then
    reused by every resource of an `up` a provider process serves: taken from
    REPOSITORY_HANDOVER in `handed_over`, else not read at all (`unread_repository`; the
    program checked it before registering anything, and the providers use only its URL
    and name)."""
    policy = pacing or for_api(api_url)
    key = (api_url, token, timeout, policy, repository)
    with _lock:
        cached = _repos.get(key)
    if cached is None:
        gh = client(api_url, token, timeout, policy)
        cached = adopted_repository(handed_over or {}, api_url, repository, gh)
        cached = cached or unread_repository(gh, api_url, repository)
        with _lock:
            cached = _repos.setdefault(key, cached)
    return cached


def timeout_from(env: Mapping[str, str]) -> float:
    """The HTTP timeout in seconds: RELEASE_TRAIN_HTTP_TIMEOUT in `env`, else 30."""
    try:
        return float(env.get(TIMEOUT_VARIABLE, DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


def redact(text: str, secrets: list[str | None] | None = None) -> str:
    """`text` with every known secret replaced by `[secret]`."""
    with _lock:
        known = set(_secrets)
    candidates = [s for s in (secrets or []) if s] + [t for t in (_token, *known) if t]
    for secret in sorted(set(candidates), key=len, reverse=True):
        text = text.replace(secret, "[secret]")
    return text


class ForgeError(RuntimeError):
    """A forge call failed; the message says which call and why, without secrets.

    `transient` and `wait` keep what the failed call's error said (see `from_error`), so a
    caller such as `create_once` still knows a 5xx or a rate limit from a refusal.
    """

    def __init__(self, message: str, transient: bool = False, wait: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.wait = wait

    @classmethod
    def from_error(cls, what: str, err: Exception) -> ForgeError:
        """`what failed: <reason>`, remembering whether `err` was transient."""
        return cls(f"{what} failed: {describe(err)}", is_transient(err), retry_after(err))


def describe(err: Exception) -> str:
    """A short, secret-free description of a forge error."""
    from github import GithubException

    if isinstance(err, GithubException):
        data = err.data if isinstance(err.data, dict) else {}
        message = data.get("message") or str(err.data)
        errors = data.get("errors")
        detail = f" ({errors})" if errors else ""
        needs = needed_permission(err)
        hint = f"; the token needs the permission {needs}" if needs else ""
        return redact(f"HTTP {err.status}: {message}{detail}{hint}")
    return redact(f"{type(err).__name__}: {err}")


# GitHub's fine-grained permission names, as `X-Accepted-GitHub-Permissions` spells them.
PERMISSION_NAMES = {
    "contents": "Contents",
    "pull_requests": "Pull requests",
    "statuses": "Commit statuses",
    "checks": "Checks",
    "issues": "Issues",
    "administration": "Administration",
    "actions": "Actions",
    "deployments": "Deployments",
    "metadata": "Metadata",
}


def needed_permission(err: Exception) -> str | None:
    """The permission a 403 says the token lacks (`X-Accepted-GitHub-Permissions`), in the
    names GitHub's token settings show, e.g. "Contents: write"; None for any other error."""
    from github import GithubException

    if not isinstance(err, GithubException) or err.status != 403:
        return None
    headers = {str(k).lower(): str(v) for k, v in (err.headers or {}).items()}
    value = headers.get("x-accepted-github-permissions")
    if not value:
        return None
    names = []
    for item in value.replace(",", ";").split(";"):
        name, _, level = item.strip().partition("=")
        if name:
            label = PERMISSION_NAMES.get(name, name.replace("_", " ").capitalize())
            names.append(f"{label}: {level or 'read'}")
    return " or ".join(names) or None


def unreachable(api_url: str, err: Exception) -> ConfigError:
    """The ConfigError for a forge that could not be reached at `api_url`."""
    reason = _root_cause(err)
    host = urlparse(api_url).netloc or api_url
    return ConfigError(
        "apiUrl",
        api_url,
        f"cannot reach {host} ({reason}); check the URL (https://api.github.com, or "
        "https://HOST/api/v3 for GitHub Enterprise) and that the forge is up",
    )


def _root_cause(err: BaseException) -> str:
    seen: BaseException | None = err
    last = err
    while seen is not None:
        last = seen
        inner = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = getattr(seen, "reason", None) or inner or seen.__cause__ or seen.__context__
        if seen is last:
            break
    text = str(last)
    for known in ("Connection refused", "timed out", "Name or service not known", "No route"):
        if known.lower() in text.lower():
            return known.lower()
    return redact(type(last).__name__)


REQUIRED_PERMISSIONS = (
    "Contents: write, Pull requests: write, Deployments: write, Commit statuses: read, Checks: read"
)
"""What a promotion's token needs, in GitHub's fine-grained names."""


def check_repository(session: ForgeSession, write: bool = True) -> Repository:
    """The session's repository, read once; every way that read can fail becomes a
    ConfigError naming apiUrl, token or repository and the fix. With `write`, a token that
    may only read the repository is refused here, before anything is written."""
    from github import BadCredentialsException, GithubException, UnknownObjectException

    try:
        repo = session.repo
        permissions = repo.permissions
    except _transient_errors(retry=True) as err:
        raise unreachable(session.api_url, err) from None
    except BadCredentialsException:
        raise ConfigError(
            "token",
            HIDDEN,
            f"{urlparse(session.api_url).netloc} refused the token (401 Bad credentials): set a "
            f"valid one with `pulumi config set --secret {NAMESPACE}:token ...` or GITHUB_TOKEN",
        ) from None
    except UnknownObjectException:
        raise ConfigError(
            "repository",
            session.repository,
            "no such repository, or the token cannot read it: check owner/name, and that the "
            "token has access to it (fine-grained: the repository selected, Metadata: read)",
        ) from None
    except GithubException as err:
        raise ConfigError("apiUrl", session.api_url, describe(err)) from None
    if write and permissions is not None and not permissions.push:
        raise ConfigError(
            "token",
            HIDDEN,
            f"the token can read {session.repository} but not write to it; give it "
            f"{REQUIRED_PERMISSIONS} (a classic token: the repo scope)",
        )
    return repo


def check_commits(repo: Repository, repository: str, shas: Mapping[str, str]) -> None:
    """Each `key -> sha` names a commit of the repository, or a ConfigError names it."""
    from github import GithubException

    for key, sha in shas.items():
        try:
            repo.get_git_commit(sha)
        except GithubException as err:
            if err.status not in (404, 422):
                raise ConfigError(key, sha, describe(err)) from None
            raise ConfigError(
                key, sha, f"no such commit in {repository}; give the SHA of one of its commits"
            ) from None


def _transient_errors(retry: bool = False) -> tuple[type[BaseException], ...]:
    """The network errors after which a request may be sent again (and, with `retry`, the
    client's own retries given up). `requests` is imported here, on first use: a preview's
    provider process never needs it."""
    from requests import exceptions

    found: tuple[type[BaseException], ...] = (exceptions.ConnectionError, exceptions.Timeout)
    return (*found, exceptions.RetryError) if retry else found


_RATE_LIMIT_WAIT = 60.0  # a rate limit without Retry-After: GitHub asks for at least a minute


def retry_after(err: Exception) -> float | None:
    """Seconds a rate-limited request asks to wait (429, or 403 secondary rate limit)."""
    from github import GithubException

    if isinstance(err, ForgeError):
        return err.wait
    if not isinstance(err, GithubException) or err.status not in (403, 429):
        return None
    headers = {str(k).lower(): v for k, v in (err.headers or {}).items()}
    value = headers.get("retry-after")
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            return _RATE_LIMIT_WAIT
    data = err.data if isinstance(err.data, dict) else {}
    if err.status == 429 or "rate limit" in str(data.get("message", "")).lower():
        return _RATE_LIMIT_WAIT
    return None


def is_transient(err: Exception) -> bool:
    """A failure after which the write may or may not have happened, or may be sent again."""
    from github import GithubException

    if isinstance(err, ForgeError):
        return err.transient
    if isinstance(err, GithubException):
        return err.status >= 500 or err.status == 429 or retry_after(err) is not None
    return isinstance(err, _transient_errors())


def create_once(
    find: Callable[[], T | None],
    create: Callable[[], T],
    attempts: int = 5,
    wait: float = 0.5,
    what: str = "create",
    looked: bool = False,
) -> T:
    """Create something at most once: look first, and after a failed create look again.
    `looked`: the caller has just looked and found nothing, so the first attempt creates
    at once (every retry still looks first).

    A create that timed out or got a 5xx may have happened; retrying it blindly would open
    a second pull request or add a second commit. So each retry starts by looking. A rate
    limit (429, or 403 with Retry-After) waits as long as the forge asks. A create refused
    after an uncertain attempt (say, 422 "already exists" because the slow first attempt
    went through meanwhile) looks once more before giving up.
    """
    last: Exception | None = None
    uncertain = False
    for attempt in range(attempts):
        found = None if looked and attempt == 0 else find()
        if found is not None:
            return found
        try:
            return create()
        except Exception as err:  # noqa: BLE001 - classified just below
            if not is_transient(err):
                if uncertain:
                    time.sleep(wait)
                    found = find()
                    if found is not None:
                        return found
                raise
            uncertain = True
            last = err
            time.sleep(max(wait * (2**attempt), min(retry_after(err) or 0.0, 300.0)))
    found = find()
    if found is not None:
        return found
    raise ForgeError(f"{what}: gave up after {attempts} attempts: {describe(last or Exception())}")


def repeatable(fn: Callable[[], T], attempts: int = 5, wait: float = 0.5) -> T:
    """Run a write that is safe to send again, retrying it after a transient failure.

    For POSTs whose repetition changes nothing that matters: a git commit object (a repeat
    only leaves an unreferenced object behind) or a review request (the same reviewers
    asked again). The client's own retries leave POST out, so they are retried here, with
    the same backoff and Retry-After as `create_once`.
    """
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as err:  # noqa: BLE001 - classified just below
            if not is_transient(err) or attempt == attempts - 1:
                raise
            time.sleep(max(wait * (2**attempt), min(retry_after(err) or 0.0, 300.0)))
    raise AssertionError("unreachable")


# Read helpers shared by the program (at plan time) and the providers.


def listed(items: Iterable[Any]) -> list[dict[str, Any]]:
    """The JSON of each object of a listing, as the listing served it.

    PyGithub's `raw_data` first completes a listed object with a request of its own: a
    2,000-commit compare then cost 2,000 more requests, and each check run one more. The
    listing's JSON already has what release-train reads (sha, message, author, parents,
    state, conclusion, user); a caller needing more (a commit's files) asks for it itself.
    """
    return [dict(item._rawData) for item in items]  # noqa: SLF001 - see above


def branch_head(repo: Repository, branch: str) -> str | None:
    """The commit a branch points at, or None when it does not exist."""
    from github import UnknownObjectException

    try:
        return repo.get_git_ref(f"heads/{branch}").object.sha
    except UnknownObjectException:
        return None


def is_ancestor(repo: Repository, ancestor: str, descendant: str, memo: Memo | None = None) -> bool:
    """Whether `ancestor` is reachable from `descendant` (one compare call). With `memo`,
    the answer about two full SHAs is kept (it never changes); one about a branch is not."""
    if ancestor == descendant:
        return True

    def read() -> bool:
        status = repo.compare(ancestor, descendant, comparison_commits_per_page=1).status
        return status in ("ahead", "identical")

    if memo is None:
        return read()
    return memo.recall(memo_key("ancestor", ancestor, descendant), read, is_bool)


def release_branches(repo: Repository) -> list[tuple[str, str]]:
    """Every `release/YYYY-MM-DD` branch with its head, newest date first."""
    refs = repo.get_git_matching_refs(f"heads/{RELEASE_PREFIX}")
    found = []
    for ref in refs:
        name = ref.ref.removeprefix("refs/heads/")
        if release_date_of(name) is not None:
            found.append((name, ref.object.sha))
    return sorted(found, key=lambda item: item[0], reverse=True)


def current_release(
    repo: Repository,
    env_head: str,
    exclude: str | None = None,
    limit: int = 8,
    branches: Sequence[tuple[str, str]] | None = None,
    memo: Memo | None = None,
) -> tuple[str, str] | None:
    """The newest release branch whose head the environment branch contains (`branches`:
    `release_branches(repo)` when already read).

    This is "look at the most recent merge to staging" of the process document, made exact.
    """
    listed_branches = release_branches(repo) if branches is None else list(branches)
    for name, sha in listed_branches[: limit + 1]:
        if name == exclude:
            continue
        if is_ancestor(repo, sha, env_head, memo):
            return name, sha
    return None


def env_release_merges(
    repo: Repository,
    environment: str,
    env_head: str,
    record: StackRecord | None = None,
    limit: int = 400,
    pulls: Mapping[str, dict[str, Any]] | None = None,
    branches: Sequence[tuple[str, str]] | None = None,
    memo: Memo | None = None,
) -> Iterator[EnvMerge]:
    """The release and rollback merges on the environment branch, newest first (lazily).

    Reads the branch's commit listing a page at a time as the first-parent walk goes, the
    merged pull requests into the branch (`merged_pulls`) and the release branch heads
    (`release_branches`) once each, unless the caller already read them (`pulls`,
    `branches`); what each merge brought in is decided by `release.rules.running.name_merge`.
    With `memo`, the walk below `env_head` (a SHA: it never changes) is kept as far as it
    went (`merge_walk`); which release each merge brought in is decided anew every time.
    """
    heads: dict[str, str] | None = None
    for merge, parent in merge_walk(repo, env_head, limit, memo):
        if pulls is None:
            pulls = merged_pulls(repo, environment)
        if heads is None:
            known = release_branches(repo) if branches is None else branches
            heads = {sha: name for name, sha in known}
        second = str(merge["parents"][1]["sha"])
        head_ref = str((pulls.get(str(merge["sha"])) or {}).get("head") or "")
        title = str((merge.get("commit") or {}).get("message") or "").split("\n", 1)[0]
        if parent is None and "rollback/" in head_ref + title:
            # A rollback commit's message says what it restored; read it when the listing
            # has not reached it yet.
            parent = {"sha": second, "commit": {"message": _rollback_evidence(repo, second, memo)}}
        named = name_merge(merge, parent, record, pulls, heads or {})
        if named is not None:
            yield named


Walked = tuple[dict[str, Any], dict[str, Any] | None]


def _walked(item: Any) -> Walked:
    """A kept step of `merge_walk` ([sha, parents, title, evidence]) as the walk yields it."""
    sha, parents, title, evidence = item
    merge = {"sha": sha, "parents": [{"sha": p} for p in parents], "commit": {"message": title}}
    second = {"sha": parents[1], "commit": {"message": evidence}} if evidence is not None else None
    return merge, second


def _is_walk(value: Any) -> bool:
    def step(item: Any) -> bool:
        return (
            isinstance(item, list)
            and len(item) == 4
            and isinstance(item[0], str)
            and is_sha_list(item[1])
            and len(item[1]) > 1
            and isinstance(item[2], str)
            and (item[3] is None or isinstance(item[3], str))
        )

    return (
        isinstance(value, dict)
        and isinstance(value.get("end"), bool)
        and isinstance(value.get("m"), list)
        and all(step(item) for item in value["m"])
    )


def merge_walk(
    repo: Repository, head: str, limit: int = 400, memo: Memo | None = None
) -> Iterator[Walked]:
    """The merges on `head`'s first-parent line, newest first (lazily), each with its second
    parent as far as the listing had shown it (else None): what `env_release_merges` needs.

    With `memo` (and `head` a full SHA), what the walk yielded is kept reduced (each merge's
    SHA, parents and title, and what its second parent's message says of a rollback), and
    a later walk from the same SHA yields the kept steps without a read; only a walk that
    goes further than the kept steps reads the listing (again from `head`)."""
    name = memo_key("merges", head, extra=str(limit)) if memo is not None else None
    found, kept = memo.get(name, _is_walk) if memo is not None else (False, None)
    steps: list[Any] = list(kept["m"]) if found else []
    for item in steps:
        yield _walked(item)
    if found and kept["end"]:
        return
    seen: dict[str, dict[str, Any]] = {}

    def listing() -> Iterator[dict[str, Any]]:
        for commit in repo.get_commits(sha=head):
            raw = dict(commit._rawData)  # noqa: SLF001 - the listing's JSON, see `listed`
            seen[str(raw["sha"])] = raw
            yield raw

    done = len(steps)
    for count, merge in enumerate(first_parent_merges(listing(), head, limit), 1):
        if count <= done:
            continue
        parents = [str(p["sha"]) for p in merge.get("parents") or []]
        message = str((merge.get("commit") or {}).get("message") or "")
        parent = seen.get(parents[1])
        evidence = None
        if parent is not None:
            evidence = rollback_evidence(str((parent.get("commit") or {}).get("message") or ""))
        item = [str(merge["sha"]), parents, message.split("\n", 1)[0], evidence]
        steps.append(item)
        if memo is not None:
            memo.put(name, {"m": list(steps), "end": False})
        yield merge, parent
    if memo is not None:
        memo.put(name, {"m": steps, "end": True})


def _rollback_evidence(repo: Repository, sha: str, memo: Memo | None) -> str:
    """What commit `sha`'s message says of a rollback (`rules.running.rollback_evidence`),
    kept in `memo` (a commit's message never changes)."""

    def read() -> str:
        return rollback_evidence(repo.get_git_commit(sha).message or "")

    if memo is None:
        return read()
    return memo.recall(memo_key("rollback", sha), read, lambda v: isinstance(v, str))


def merged_pulls(repo: Repository, environment: str) -> dict[str, dict[str, Any]]:
    """The merged pull requests into `environment`, by merge commit: {number, head}."""
    return {
        str(p.merge_commit_sha): {"number": p.number, "head": p.head.ref}
        for p in repo.get_pulls(state="closed", base=environment)
        if p.merged_at is not None and p.merge_commit_sha
    }


def read_file(repo: Repository, path: str, ref: str) -> str | None:
    """A file's text at `ref`, or None when it is not there."""
    from github import UnknownObjectException

    try:
        content = repo.get_contents(path, ref=ref)
    except UnknownObjectException:
        return None
    if isinstance(content, list):
        return None
    return content.decoded_content.decode("utf-8", errors="replace")


def iter_commits(repo: Repository, branch: str) -> Iterator[str]:
    """SHAs on `branch`, newest first, fetched a page at a time as the caller goes."""
    for commit in repo.get_commits(sha=branch):
        yield commit.sha


Checks = tuple[list[dict[str, Any]], list[dict[str, Any]]]


def _unread_commit(repo: Repository, sha: str) -> Any:
    """A commit object of `repo` that is not read: its statuses and check runs are read
    without reading the commit first (on the repository's own client and connections)."""
    from github.Commit import Commit

    url = f"{repo.url}/commits/{sha}"
    return Commit(repo.requester, {}, {"sha": sha, "url": url}, completed=False)


def unread_repository(gh: Github, api_url: str, repository: str) -> Repository:
    """`repository` ("owner/name") on `api_url` as an object that is not read: its URL and
    `full_name` are known, so every call made through it (`get_pull`, `create_git_ref`,
    ...) is its own one request and no `GET /repos/{owner}/{repo}` precedes them. An
    attribute only the forge knows (`allow_merge_commit`, `html_url`) would read it."""
    from github.Repository import Repository

    url = f"{api_url.rstrip('/')}/repos/{repository}"
    attributes = {"url": url, "full_name": repository}
    return Repository(gh.requester, {}, attributes, completed=False)


def unread_git_commit(repo: Repository, sha: str) -> GitCommit:
    """The git commit `sha` of `repo` as an object that is not read: enough to name it as a
    parent of a new commit without a request."""
    from github.GitCommit import GitCommit

    url = f"{repo.url}/git/commits/{sha}"
    return GitCommit(repo.requester, {}, {"sha": sha, "url": url}, completed=False)


def unread_git_tree(repo: Repository, sha: str) -> GitTree:
    """The git tree `sha` of `repo` as an object that is not read: enough to name it as the
    tree of a new commit without a request."""
    from github.GitTree import GitTree

    url = f"{repo.url}/git/trees/{sha}"
    return GitTree(repo.requester, {}, {"sha": sha, "url": url}, completed=False)


def unread_branch_ref(repo: Repository, branch: str) -> GitRef:
    """The ref of `branch` as an object that is not read: its `edit` (a fast-forward, never
    forced unless asked) is the one request."""
    from github.GitRef import GitRef

    url = f"{repo.url}/git/refs/heads/{branch}"
    return GitRef(repo.requester, {}, {"ref": f"refs/heads/{branch}", "url": url}, completed=False)


def _check_reads(repo: Repository, sha: str) -> list[Callable[[], list[dict[str, Any]]]]:
    commit = _unread_commit(repo, sha)
    return [
        lambda: [s.raw_data for s in commit.get_combined_status().statuses],
        lambda: listed(commit.get_check_runs()),
    ]


def checks_seen_many(repo: Repository, shas: Sequence[str]) -> list[Checks]:
    """`checks_seen` of each of `shas`, their reads (statuses and check runs of every
    commit) sent together, at most `reads_in_flight(repo)` at once."""
    reads = [read for sha in shas for read in _check_reads(repo, sha)]
    done = together(reads_in_flight(repo), reads)
    return [(done[2 * i], done[2 * i + 1]) for i in range(len(shas))]


def checks_seen(repo: Repository, sha: str) -> Checks:
    """The commit statuses and the check runs on `sha` (read together): the one read of a
    commit's checks, for the newest green commit and for the merge gate."""
    return checks_seen_many(repo, [sha])[0]


def read_gate(
    repo: Repository,
    pull: GhPull,
    required_checks: Sequence[str],
    reviewers: Sequence[str],
    required_approvals: int,
    expected_head: str | None = None,
    must_approve: Sequence[str] = (),
) -> MergeGate:
    """Read a pull request's checks and reviews and decide its merge gate (reads only);
    `must_approve`: the reviewers whose own approval is required (the oncall partner)."""
    head = pull.head.sha
    statuses, runs, reviews = together(
        reads_in_flight(repo), [*_check_reads(repo, head), lambda: listed(pull.get_reviews())]
    )
    return merge_gate(
        head_sha=head,
        expected_head=expected_head,
        required_checks=list(required_checks),
        statuses=statuses,
        check_runs=runs,
        reviews=reviews,
        reviewers=list(reviewers),
        required_approvals=required_approvals,
        state=pull.state,
        mergeable=pull.mergeable,
        must_approve=list(must_approve),
    )


def find_pull(
    repo: Repository, owner: str, head: str, base: str, head_sha: str | None = None
) -> GhPull | None:
    """The open pull request of `head` into `base`, else one already merged at `head_sha`
    (one listing of them all, open and closed)."""
    pulls = list(repo.get_pulls(state="all", head=f"{owner}:{head}", base=base))
    for pull in pulls:
        if pull.state == "open":
            return pull
    if head_sha:
        for pull in pulls:
            # `merged_at`, not `merged`: a listed pull request has no `merged` (reading it
            # would cost a request per pull request).
            if pull.merged_at is not None and pull.head.sha == head_sha:
                return pull
    return None
