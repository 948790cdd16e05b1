"""Pull requests: create/get/list/update, mergeability, merge, reviews, reviewers, comments."""

from __future__ import annotations

from typing import Any

from . import shapes, validate
from .api_checks import combined_for, runs_for
from .api_repos import paginate, repo_body
from .combined_state import checks_green
from .forge import (
    ApiError,
    Forge,
    RepoHandle,
    Request,
    Response,
    invalid,
    not_found,
    too_long,
    unprocessable,
)
from .gitrepo import GitError, Person
from .routes import route
from .store import now_iso

MERGE_METHODS = {
    "merge": ("allow_merge_commit", "Merge commits are not allowed on this repository."),
    "squash": ("allow_squash_merge", "Squash merges are not allowed on this repository."),
    "rebase": ("allow_rebase_merge", "Rebase merges are not allowed on this repository."),
}


def review_error(message: str) -> ApiError:
    """422 as GitHub answers it for reviews: `errors` is a list of plain sentences."""
    return ApiError(422, "Unprocessable Entity", [message])


def _check_lengths(req: Request, resource: str = "Issue") -> None:
    """A pull request's title and body within GitHub's limits (422 as GitHub words it)."""
    body = req.json_object()
    if validate.too_long(body.get("title"), validate.PULL_TITLE):
        raise too_long(resource, "title", validate.PULL_TITLE)
    if validate.too_long(body.get("body"), validate.ISSUE_BODY):
        raise too_long(resource, "body", validate.ISSUE_BODY)


def _comment_too_long(text: object) -> None:
    if validate.too_long(text, validate.ISSUE_BODY):
        raise ApiError(
            422,
            "Validation Failed",
            [
                {
                    "resource": "IssueComment",
                    "code": "unprocessable",
                    "field": "data",
                    "message": f"Body is too long (maximum is {validate.ISSUE_BODY} characters)",
                }
            ],
        )


def _comment_body(req: Request) -> str:
    """An issue comment's body: given, not empty, and within GitHub's length (else 422)."""
    text = req.string("body", "IssueComment", required=True)
    if not text:
        raise invalid("body is missing", "IssueComment", "body", "missing_field")
    _comment_too_long(text)
    return text


REVIEW_EVENTS = {
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    "COMMENT": "COMMENTED",
}


# -- state ----------------------------------------------------------------------------
def _pull(handle: RepoHandle, number: str | int) -> dict[str, Any]:
    pr = handle.meta["pulls"].get(str(number))
    if pr is None:
        raise not_found()
    return pr


def _tips(handle: RepoHandle, pr: dict[str, Any]) -> tuple[str, str]:
    """(head sha, base sha): live branch tips while open, frozen once closed."""
    if pr["state"] == "open":
        head = handle.git.ref_sha(f"refs/heads/{pr['head_ref']}") or pr["head_sha"]
        base = handle.git.ref_sha(f"refs/heads/{pr['base_ref']}") or pr["base_sha"]
        if head != pr["head_sha"] or base != pr["base_sha"]:
            if base != pr["base_sha"] and handle.git.is_ancestor(head, base):
                _merged_by_push(handle, pr, head, base)
                return pr["head_sha"], pr["base_sha"]
            pr["head_sha"], pr["base_sha"] = head, base
            handle.git.run("update-ref", f"refs/pull/{pr['number']}/head", head, check=False)
        return head, base
    return pr["head_sha"], pr["base_sha"]


def _merged_by_push(handle: RepoHandle, pr: dict[str, Any], head: str, base: str) -> None:
    """GitHub marks an open pull request merged once a push makes its head reachable from
    its base; the merge commit is the first commit on base's first-parent line holding it."""
    merge_sha = head
    rows = handle.git.out(
        "rev-list", "--topo-order", "--ancestry-path", "--parents", f"{head}..{base}"
    )
    for row in rows.splitlines():
        sha, *parents = row.split()
        if head in parents:
            merge_sha = sha  # keep the oldest commit that has the head as a parent
    shas = handle.git.rev_list("--reverse", "--topo-order", f"{pr['base_sha']}..{head}")
    now = now_iso()
    pr.update(
        {
            "state": "closed",
            "closed_at": now,
            "merged_at": now,
            "updated_at": now,
            "merged_by": None,
            "merge_commit_sha": merge_sha,
            "merge_method": "push",
            "head_sha": head,
            "base_sha": base,
            "commit_count": len(shas),
            "commit_shas": shas,
        }
    )


def sync_pulls(forge: Forge, handle: RepoHandle) -> None:
    """After a push or ref update: mark open pull requests whose head reached their base merged."""
    changed = False
    for pr in handle.meta["pulls"].values():
        if pr["state"] == "open":
            before = (pr["head_sha"], pr["base_sha"], pr["state"])
            _tips(handle, pr)
            changed = changed or before != (pr["head_sha"], pr["base_sha"], pr["state"])
    if changed:
        forge.save(handle)


def test_merge(handle: RepoHandle, pr: dict[str, Any], head: str, base: str) -> str | None:
    """The test merge commit of head into base (refs/pull/N/merge), None on conflict."""
    cached = pr.get("test_merge") or {}
    if cached.get("head") == head and cached.get("base") == base:
        return cached.get("sha")
    tree, _ = handle.git.merge_tree(base, head)
    sha = None
    if tree is not None:
        message = f"Merge {head} into {base}"
        sha = handle.git.commit_tree(tree, [base, head], message)
        handle.git.run("update-ref", f"refs/pull/{pr['number']}/merge", sha, check=False)
    pr["test_merge"] = {"head": head, "base": base, "sha": sha}
    return sha


def mergeability(handle: RepoHandle, pr: dict[str, Any]) -> tuple[bool | None, str, str | None]:
    """(mergeable, mergeable_state, merge_commit_sha) as GitHub reports them."""
    if pr["state"] != "open":
        return None, "unknown", pr.get("merge_commit_sha")
    head, base = _tips(handle, pr)
    sha = test_merge(handle, pr, head, base)
    if sha is None:
        return False, "dirty", None
    if pr.get("draft"):
        return True, "draft", sha
    state, latest = combined_for(handle, head)
    runs = runs_for(handle, head)
    statuses_bad = bool(latest) and state != "success"
    checks_bad = bool(runs) and checks_green(runs) is not True
    return True, ("unstable" if statuses_bad or checks_bad else "clean"), sha


def _branch_obj(forge: Forge, handle: RepoHandle, ref: str, sha: str, login: str) -> dict[str, Any]:
    owner = handle.full_name.split("/")[0]
    return {
        "label": f"{owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": shapes.simple_user(forge.links, owner, forge.owner_kind(owner)),
        "repo": repo_body(forge, handle, login),
    }


def pull_body(
    forge: Forge, handle: RepoHandle, pr: dict[str, Any], login: str, full: bool = True
) -> dict[str, Any]:
    links = forge.links
    base_url = links.repo(handle.full_name)
    n = pr["number"]
    url = f"{base_url}/pulls/{n}"
    html = f"{links.html(handle.full_name)}/pull/{n}"
    head, base = _tips(handle, pr)
    body: dict[str, Any] = {
        "url": url,
        "id": pr["id"],
        "node_id": shapes.node_id("PR", pr["id"]),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{base_url}/issues/{n}",
        "commits_url": f"{url}/commits",
        "review_comments_url": f"{url}/comments",
        "review_comment_url": f"{base_url}/pulls/comments{{/number}}",
        "comments_url": f"{base_url}/issues/{n}/comments",
        "statuses_url": f"{base_url}/statuses/{head}",
        "number": n,
        "state": pr["state"],
        "locked": False,
        "title": pr["title"],
        "user": shapes.simple_user(links, pr["user"]),
        "body": pr.get("body"),
        "labels": [],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": pr["created_at"],
        "updated_at": pr["updated_at"],
        "closed_at": pr.get("closed_at"),
        "merged_at": pr.get("merged_at"),
        "merge_commit_sha": pr.get("merge_commit_sha"),
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [
            shapes.simple_user(links, u) for u in pr.get("requested_reviewers", [])
        ],
        "requested_teams": [],
        "head": _branch_obj(forge, handle, pr["head_ref"], head, login),
        "base": _branch_obj(forge, handle, pr["base_ref"], base, login),
        "_links": {
            "self": {"href": url},
            "html": {"href": html},
            "issue": {"href": f"{base_url}/issues/{n}"},
            "comments": {"href": f"{base_url}/issues/{n}/comments"},
            "review_comments": {"href": f"{url}/comments"},
            "review_comment": {"href": f"{base_url}/pulls/comments{{/number}}"},
            "commits": {"href": f"{url}/commits"},
            "statuses": {"href": f"{base_url}/statuses/{head}"},
        },
        "author_association": "COLLABORATOR",
        "auto_merge": None,
        "draft": bool(pr.get("draft")),
    }
    if full:
        mergeable, mergeable_state, merge_sha = mergeability(handle, pr)
        if pr["state"] == "open":
            body["merge_commit_sha"] = merge_sha
        merge_base = handle.git.merge_base(base, head) or base
        files = handle.git.diff_files(merge_base, head, with_patch=False)
        body.update(
            {
                "merged": bool(pr.get("merged_at")),
                "mergeable": mergeable,
                "rebaseable": mergeable,
                "mergeable_state": mergeable_state,
                "merged_by": shapes.simple_user(links, pr["merged_by"])
                if pr.get("merged_by")
                else None,
                "comments": sum(1 for c in handle.meta["comments"] if c["number"] == n),
                "review_comments": 0,
                "maintainer_can_modify": bool(pr.get("maintainer_can_modify", False)),
                "commits": handle.git.count(f"{base}..{head}")
                if pr["state"] == "open"
                else pr.get("commit_count", 0),
                "additions": sum(f.additions for f in files),
                "deletions": sum(f.deletions for f in files),
                "changed_files": len(files),
            }
        )
    return body


def _save_and_show(
    forge: Forge, handle: RepoHandle, pr: dict[str, Any], login: str, status: int = 200
) -> Response:
    body = pull_body(forge, handle, pr, login)
    forge.save(handle)
    headers = {"Location": body["url"]} if status == 201 else {}
    return Response(status, body, headers)


def _head_branch(handle: RepoHandle, head: str) -> str:
    owner = handle.full_name.split("/")[0]
    if ":" in head:
        head_owner, _, branch = head.partition(":")
        if head_owner != owner:
            raise invalid(
                f"head {head} is not a branch of {handle.full_name}", "PullRequest", "head"
            )
        return branch
    return head


# -- pulls ------------------------------------------------------------------------------
@route("POST", "/repos/{owner}/{repo}/pulls")
def create_pull(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    handle = forge.open(owner, repo)
    title = req.string("title", "PullRequest", required=True) or ""
    head_in = req.string("head", "PullRequest", required=True) or ""
    base_ref = req.string("base", "PullRequest", required=True) or ""
    body = req.string("body", "PullRequest")
    draft = req.boolean("draft", "PullRequest", default=False)
    _check_lengths(req)
    head_ref = _head_branch(handle, head_in)
    base = handle.git.ref_sha(f"refs/heads/{base_ref}") if base_ref else None
    if base is None:
        raise invalid(f"base {base_ref} does not exist", "PullRequest", "base")
    head = handle.git.ref_sha(f"refs/heads/{head_ref}") if head_ref else None
    if head is None:
        raise invalid(f"head {head_in} does not exist", "PullRequest", "head")
    for pr in handle.meta["pulls"].values():
        if pr["state"] == "open" and pr["head_ref"] == head_ref and pr["base_ref"] == base_ref:
            raise invalid(
                f"A pull request already exists for {owner}:{head_ref}.",
                "PullRequest",
                None,
                "custom",
            )
    if handle.git.is_ancestor(head, base):
        raise invalid(
            f"No commits between {base_ref} and {head_ref}", "PullRequest", None, "custom"
        )
    number = handle.meta["next_number"]
    handle.meta["next_number"] = number + 1
    now = now_iso()
    pr = {
        "number": number,
        "id": forge.store.new_id(),
        "title": title,
        "body": body,
        "state": "open",
        "draft": bool(draft),
        "head_ref": head_ref,
        "base_ref": base_ref,
        "head_sha": head,
        "base_sha": base,
        "user": req.login,
        "created_at": now,
        "updated_at": now,
        "closed_at": None,
        "merged_at": None,
        "merged_by": None,
        "merge_commit_sha": None,
        "requested_reviewers": [],
        "maintainer_can_modify": bool(
            req.boolean("maintainer_can_modify", "PullRequest", default=False)
        ),
    }
    handle.meta["pulls"][str(number)] = pr
    handle.git.run("update-ref", f"refs/pull/{number}/head", head)
    return _save_and_show(forge, handle, pr, req.login, 201)


@route("GET", "/repos/{owner}/{repo}/pulls/{number}")
def get_pull(forge: Forge, req: Request, owner: str, repo: str, number: str) -> Response:
    handle = forge.open(owner, repo)
    pr = _pull(handle, number)
    return _save_and_show(forge, handle, pr, req.login)


@route("GET", "/repos/{owner}/{repo}/pulls")
def list_pulls(forge: Forge, req: Request, owner: str, repo: str) -> Response:
    handle = forge.open(owner, repo)
    state = req.params.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise invalid("state must be open, closed or all", "PullRequest", "state")
    pulls = list(handle.meta["pulls"].values())
    if state != "all":
        pulls = [p for p in pulls if p["state"] == state]
    head = req.params.get("head")
    if head:
        head_owner, sep, branch = head.partition(":")
        if sep and head_owner != owner:
            pulls = []
        else:
            pulls = [p for p in pulls if p["head_ref"] == (branch if sep else head)]
    if req.params.get("base"):
        pulls = [p for p in pulls if p["base_ref"] == req.params["base"]]
    sort = req.params.get("sort", "created")
    key = "updated_at" if sort in ("updated", "long-running") else "created_at"
    pulls.sort(
        key=lambda p: (p[key], p["number"]), reverse=req.params.get("direction", "desc") != "asc"
    )
    page, headers = paginate(forge, req, pulls)
    items = [pull_body(forge, handle, p, req.login, full=False) for p in page]
    forge.save(handle)
    return Response(200, items, headers)


@route("PATCH", "/repos/{owner}/{repo}/pulls/{number}")
def update_pull(forge: Forge, req: Request, owner: str, repo: str, number: str) -> Response:
    handle = forge.open(owner, repo)
    pr = _pull(handle, number)
    body = req.json_object()
    _check_lengths(req)
    if "title" in body:
        pr["title"] = req.string("title", "PullRequest") or pr["title"]
    if "body" in body:
        pr["body"] = req.string("body", "PullRequest")
    if "base" in body:
        base_ref = req.string("base", "PullRequest") or ""
        if handle.git.ref_sha(f"refs/heads/{base_ref}") is None:
            raise invalid(f"base {base_ref} does not exist", "PullRequest", "base")
        pr["base_ref"] = base_ref
    if "state" in body:
        state = req.string("state", "PullRequest")
        if state not in ("open", "closed"):
            raise invalid("state must be open or closed", "PullRequest", "state")
        if state == "closed" and pr["state"] == "open":
            _tips(handle, pr)
            pr["state"], pr["closed_at"] = "closed", now_iso()
        elif state == "open" and pr["state"] == "closed":
            if pr.get("merged_at"):
                raise unprocessable(
                    "state cannot be changed. The pull request cannot be reopened because it was merged.",
                    "PullRequest",
                    "state",
                )
            if handle.git.ref_sha(f"refs/heads/{pr['head_ref']}") is None:
                raise unprocessable(
                    "state cannot be changed. The head branch was deleted.", "PullRequest", "state"
                )
            pr["state"], pr["closed_at"] = "open", None
    pr["updated_at"] = now_iso()
    return _save_and_show(forge, handle, pr, req.login)


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/commits")
def list_pull_commits(forge: Forge, req: Request, owner: str, repo: str, number: str) -> Response:
    handle = forge.open(owner, repo)
    pr = _pull(handle, number)
    head, base = _tips(handle, pr)
    shas = (
        handle.git.rev_list("--reverse", "--topo-order", f"{base}..{head}")
        if pr["state"] == "open"
        else pr.get("commit_shas", [])
    )
    page, headers = paginate(forge, req, shas[:250])
    infos = handle.git.commit_infos(page)
    return Response(
        200,
        [shapes.commit(forge.links, handle.full_name, c, forge.login_for) for c in infos],
        headers,
    )


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/files")
def list_pull_files(forge: Forge, req: Request, owner: str, repo: str, number: str) -> Response:
    handle = forge.open(owner, repo)
    pr = _pull(handle, number)
    head, base = _tips(handle, pr)
    merge_base = handle.git.merge_base(base, head) or base
    files = handle.git.diff_files(merge_base, head)
    items = [shapes.diff_entry(forge.links, handle.full_name, head, f) for f in files]
    page, headers = paginate(forge, req, items)
    return Response(200, page, headers)


# -- merging ---------------------------------------------------------------------------
@route("GET", "/repos/{owner}/{repo}/pulls/{number}/merge")
def is_merged(forge: Forge, req: Request, owner: str, repo: str, number: str) -> Response:
    handle = forge.open(owner, repo)
    pr = _pull(handle, number)
    return Response(204) if pr.get("merged_at") else Response(404, shapes.error("Not Found"))


def _squash_message(handle: RepoHandle, base: str, head: str) -> str:
    infos = handle.git.commit_infos(handle.git.rev_list("--reverse", f"{base}..{head}"))
    return "\n\n".join(f"* {c.message}" for c in infos)


@route("PUT", "/repos/{owner}/{repo}/pulls/{number}/merge")
def merge_pull(forge: Forge, req: Request, owner: str, repo: str, number: str) -> Response:
    handle = forge.open(owner, repo)
    pr = _pull(handle, number)
    method = req.string("merge_method", "PullRequest", default="merge") or "merge"
    if method not in MERGE_METHODS:
        raise invalid(
            "merge_method must be one of merge, squash, rebase", "PullRequest", "merge_method"
        )
    setting, refusal = MERGE_METHODS[method]
    if not handle.meta["settings"].get(setting, True):
        raise ApiError(405, refusal)
    if pr["state"] != "open":
        raise ApiError(405, "Pull Request is not mergeable")
    head, base = _tips(handle, pr)
    expected = req.string("sha", "PullRequest")
    if expected is not None and expected != head:
        raise ApiError(409, "Head branch was modified. Review and try the merge again.")
    tree, _ = handle.git.merge_tree(base, head)
    if tree is None:
        raise ApiError(405, "Pull Request is not mergeable")
    title = req.string("commit_title", "PullRequest")
    message = req.string("commit_message", "PullRequest")
    merger = forge.identity(req.login)
    commit_shas = handle.git.rev_list("--reverse", "--topo-order", f"{base}..{head}")
    if method == "merge":
        title = title or f"Merge pull request #{pr['number']} from {owner}/{pr['head_ref']}"
        text = f"{title}\n\n{message if message is not None else pr['title']}".rstrip() + "\n"
        sha = handle.git.commit_tree(tree, [base, head], text, merger)
    elif method == "squash":
        title = title or f"{pr['title']} (#{pr['number']})"
        detail = message if message is not None else _squash_message(handle, base, head)
        author = Person(pr["user"], shapes.email_for(pr["user"]), now_iso())
        sha = handle.git.commit_tree(tree, [base], f"{title}\n\n{detail}".rstrip() + "\n", author)
    else:
        picks = handle.git.rev_list("--reverse", "--topo-order", "--no-merges", f"{base}..{head}")
        rebased = handle.git.cherry_pick_onto(
            base, picks, Person("Sandbox Forge", "forge@sandbox.invalid", now_iso())
        )
        if rebased is None:
            raise ApiError(405, "Pull Request is not mergeable")
        sha = rebased
    try:
        handle.git.update_ref(f"refs/heads/{pr['base_ref']}", sha, base)
    except GitError as exc:
        raise ApiError(409, "Base branch was modified. Review and try the merge again.") from exc
    now = now_iso()
    pr.update(
        {
            "state": "closed",
            "closed_at": now,
            "merged_at": now,
            "updated_at": now,
            "merged_by": req.login,
            "merge_commit_sha": sha,
            "merge_method": method,
            "head_sha": head,
            "base_sha": base,
            "commit_count": len(commit_shas),
            "commit_shas": commit_shas,
        }
    )
    handle.meta["pushed_at"] = now
    forge.save(handle)
    return Response(
        200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}
    )


# -- reviews ---------------------------------------------------------------------------
def _review(handle: RepoHandle, number: int, review_id: str) -> dict[str, Any]:
    for r in handle.meta["reviews"]:
        if r["number"] == number and str(r["id"]) == review_id:
            return r
    raise not_found()


@route("POST", "/repos/{owner}/{repo}/pulls/{number}/reviews")
def create_review(forge: Forge, req: Request, owner: str, repo: str, number: str) -> Response:
    handle = forge.open(owner, repo)
    pr = _pull(handle, number)
    event = req.string("event", "PullRequestReview")
    text = req.string("body", "PullRequestReview")
    if event is not None and event not in REVIEW_EVENTS:
        raise review_error("event must be APPROVE, REQUEST_CHANGES or COMMENT")
    if validate.too_long(text, validate.ISSUE_BODY):
        raise review_error(f"Body is too long (maximum is {validate.ISSUE_BODY} characters)")
    if event in ("REQUEST_CHANGES", "COMMENT") and not text:
        raise review_error(f"Review body is required for {event}")
    if req.login == pr["user"] and event == "APPROVE":
        raise review_error("Can not approve your own pull request")
    if req.login == pr["user"] and event == "REQUEST_CHANGES":
        raise review_error("Can not request changes on your own pull request")
    head, _ = _tips(handle, pr)
    commit_id = req.string("commit_id", "PullRequestReview") or head
    full = handle.git.resolve(commit_id)
    if full is None:
        raise review_error(f"No commit found for SHA: {commit_id}")
    state = REVIEW_EVENTS[event] if event else "PENDING"
    record = {
        "id": forge.store.new_id(),
        "number": pr["number"],
        "user": req.login,
        "body": text or "",
        "state": state,
        "commit_id": full,
        "submitted_at": now_iso() if state != "PENDING" else None,
    }
    handle.meta["reviews"].append(record)
    if state != "PENDING" and req.login in pr.get("requested_reviewers", []):
        pr["requested_reviewers"].remove(req.login)
    forge.save(handle)
    return Response(200, shapes.review(forge.links, handle.full_name, pr["number"], record))


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/reviews")
def list_reviews(forge: Forge, req: Request, owner: str, repo: str, number: str) -> Response:
    handle = forge.open(owner, repo)
    pr = _pull(handle, number)
    reviews = [
        r
        for r in handle.meta["reviews"]
        if r["number"] == pr["number"] and (r["state"] != "PENDING" or r["user"] == req.login)
    ]
    items = [shapes.review(forge.links, handle.full_name, pr["number"], r) for r in reviews]
    page, headers = paginate(forge, req, items)
    return Response(200, page, headers)


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/reviews/{review_id}")
def get_review(
    forge: Forge, req: Request, owner: str, repo: str, number: str, review_id: str
) -> Response:
    handle = forge.open(owner, repo)
    pr = _pull(handle, number)
    record = _review(handle, pr["number"], review_id)
    return Response(200, shapes.review(forge.links, handle.full_name, pr["number"], record))


@route("PUT", "/repos/{owner}/{repo}/pulls/{number}/reviews/{review_id}/dismissals")
def dismiss_review(
    forge: Forge, req: Request, owner: str, repo: str, number: str, review_id: str
) -> Response:
    handle = forge.open(owner, repo)
    pr = _pull(handle, number)
    record = _review(handle, pr["number"], review_id)
    message = req.json_object().get("message")
    if not isinstance(message, str) or not message:
        raise review_error("message is missing")
    if record["state"] == "PENDING":
        raise review_error("Can not dismiss a pending pull request review")
    if record["state"] == "COMMENTED":
        raise review_error("Can not dismiss a commented pull request review")
    record["state"] = "DISMISSED"
    record["dismissed_by"] = req.login
    record["dismissal_message"] = message
    forge.save(handle)
    return Response(200, shapes.review(forge.links, handle.full_name, pr["number"], record))


# -- requested reviewers ------------------------------------------------------------
def _logins(req: Request) -> list[str]:
    body = req.json_object()
    reviewers = body.get("reviewers", [])
    teams = body.get("team_reviewers", [])
    if not isinstance(reviewers, list) or not all(isinstance(r, str) for r in reviewers):
        raise invalid("reviewers is not an array of logins", "PullRequest", "reviewers")
    if not isinstance(teams, list):
        raise invalid("team_reviewers is not an array", "PullRequest", "team_reviewers")
    if teams:
        raise unprocessable(
            "Team reviewers are not supported by the sandbox forge", "PullRequest", "team_reviewers"
        )
    return reviewers


@route("POST", "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers")
def request_reviewers(forge: Forge, req: Request, owner: str, repo: str, number: str) -> Response:
    handle = forge.open(owner, repo)
    pr = _pull(handle, number)
    reviewers = _logins(req)
    for login in reviewers:
        if login == pr["user"]:
            raise unprocessable(
                "Review cannot be requested from pull request author.", "PullRequest", "reviewers"
            )
        if login not in forge.logins:
            raise unprocessable(
                "Reviews may only be requested from collaborators. One or more of the users or teams you "
                f"specified is not a collaborator of the {handle.full_name} repository.",
                "PullRequest",
                "reviewers",
            )
    for login in reviewers:
        if login not in pr["requested_reviewers"]:
            pr["requested_reviewers"].append(login)
    pr["updated_at"] = now_iso()
    return _save_and_show(forge, handle, pr, req.login, 201)


@route("DELETE", "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers")
def remove_reviewers(forge: Forge, req: Request, owner: str, repo: str, number: str) -> Response:
    handle = forge.open(owner, repo)
    pr = _pull(handle, number)
    for login in _logins(req):
        if login in pr["requested_reviewers"]:
            pr["requested_reviewers"].remove(login)
    pr["updated_at"] = now_iso()
    return _save_and_show(forge, handle, pr, req.login)


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers")
def list_requested_reviewers(
    forge: Forge, req: Request, owner: str, repo: str, number: str
) -> Response:
    handle = forge.open(owner, repo)
    pr = _pull(handle, number)
    users = [shapes.simple_user(forge.links, u) for u in pr.get("requested_reviewers", [])]
    return Response(200, {"users": users, "teams": []})


# -- issue comments on pull requests -----------------------------------------------
@route("POST", "/repos/{owner}/{repo}/issues/{number}/comments")
def create_comment(forge: Forge, req: Request, owner: str, repo: str, number: str) -> Response:
    handle = forge.open(owner, repo)
    pr = _pull(handle, number)
    text = _comment_body(req)
    now = now_iso()
    record = {
        "id": forge.store.new_id(),
        "number": pr["number"],
        "user": req.login,
        "body": text,
        "created_at": now,
    }
    handle.meta["comments"].append(record)
    forge.save(handle)
    body = shapes.issue_comment(forge.links, handle.full_name, record)
    return Response(201, body, {"Location": body["url"]})


@route("GET", "/repos/{owner}/{repo}/issues/{number}/comments")
def list_comments(forge: Forge, req: Request, owner: str, repo: str, number: str) -> Response:
    handle = forge.open(owner, repo)
    pr = _pull(handle, number)
    items = [
        shapes.issue_comment(forge.links, handle.full_name, c)
        for c in handle.meta["comments"]
        if c["number"] == pr["number"]
    ]
    page, headers = paginate(forge, req, items)
    return Response(200, page, headers)


def _comment(handle: RepoHandle, comment_id: str) -> dict[str, Any]:
    for c in handle.meta["comments"]:
        if str(c["id"]) == comment_id:
            return c
    raise not_found()


@route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def get_comment(forge: Forge, req: Request, owner: str, repo: str, comment_id: str) -> Response:
    handle = forge.open(owner, repo)
    return Response(
        200, shapes.issue_comment(forge.links, handle.full_name, _comment(handle, comment_id))
    )


@route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def update_comment(forge: Forge, req: Request, owner: str, repo: str, comment_id: str) -> Response:
    handle = forge.open(owner, repo)
    record = _comment(handle, comment_id)
    text = _comment_body(req)
    record["body"] = text
    record["updated_at"] = now_iso()
    forge.save(handle)
    return Response(200, shapes.issue_comment(forge.links, handle.full_name, record))
