"""GitHub REST v3 response bodies built from git objects and forge metadata.

Pure functions: each takes plain data plus a `Links` (where the forge is served) and
returns the JSON object GitHub documents for that resource, with every required field
present and nullable fields set to null rather than left out.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .gitrepo import CommitInfo, FileChange, Person, TreeEntry

DOCS = "https://docs.github.com/rest"
EPOCH = "2020-01-01T00:00:00Z"


@dataclass(frozen=True)
class Links:
    web: str  # http://127.0.0.1:PORT
    api: str  # http://127.0.0.1:PORT/api/v3

    def repo(self, full_name: str) -> str:
        return f"{self.api}/repos/{full_name}"

    def html(self, full_name: str) -> str:
        return f"{self.web}/{full_name}"


def node_id(kind: str, ident: object) -> str:
    return base64.b64encode(f"0:{kind}{ident}".encode()).decode().rstrip("=")


def user_id(login: str) -> int:
    """Stable numeric id for a login (the same across restarts)."""
    return 10000 + zlib.crc32(login.encode()) % 9_000_000


def simple_user(links: Links, login: str, kind: str = "User") -> dict[str, Any]:
    uid = user_id(login)
    u = f"{links.api}/users/{login}"
    return {
        "login": login,
        "id": uid,
        "node_id": node_id("U", uid),
        "avatar_url": f"{links.web}/avatars/{login}",
        "gravatar_id": "",
        "url": u,
        "html_url": f"{links.web}/{login}",
        "followers_url": f"{u}/followers",
        "following_url": f"{u}/following{{/other_user}}",
        "gists_url": f"{u}/gists{{/gist_id}}",
        "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{u}/subscriptions",
        "organizations_url": f"{u}/orgs",
        "repos_url": f"{u}/repos",
        "events_url": f"{u}/events{{/privacy}}",
        "received_events_url": f"{u}/received_events",
        "type": kind,
        "user_view_type": "public",
        "site_admin": False,
    }


def public_user(links: Links, login: str, kind: str = "User") -> dict[str, Any]:
    body = simple_user(links, login, kind)
    body.update(
        {
            "name": login,
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "public_repos": 0,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": EPOCH,
            "updated_at": EPOCH,
        }
    )
    return body


def private_user(links: Links, login: str) -> dict[str, Any]:
    body = public_user(links, login)
    body.update(
        {
            "user_view_type": "private",
            "email": email_for(login),
            "private_gists": 0,
            "total_private_repos": 0,
            "owned_private_repos": 0,
            "disk_usage": 0,
            "collaborators": 0,
            "two_factor_authentication": False,
        }
    )
    return body


def email_for(login: str) -> str:
    return f"{login}@users.noreply.sandbox.invalid"


_REPO_URL_TEMPLATES = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def minimal_repo(
    links: Links, full_name: str, meta: dict[str, Any], owner_kind: str
) -> dict[str, Any]:
    owner, name = full_name.split("/", 1)
    base = links.repo(full_name)
    body: dict[str, Any] = {
        "id": meta["id"],
        "node_id": node_id("R", meta["id"]),
        "name": name,
        "full_name": full_name,
        "owner": simple_user(links, owner, owner_kind),
        "private": bool(meta["settings"].get("private", False)),
        "html_url": links.html(full_name),
        "description": meta["settings"].get("description"),
        "fork": False,
        "url": base,
    }
    for key, suffix in _REPO_URL_TEMPLATES.items():
        body[key] = base + suffix
    return body


def full_repo(
    links: Links,
    full_name: str,
    meta: dict[str, Any],
    owner_kind: str,
    pushed_at: str | None,
    open_pulls: int,
    permissions: dict[str, bool],
) -> dict[str, Any]:
    s = meta["settings"]
    body = minimal_repo(links, full_name, meta, owner_kind)
    body.update(
        {
            "clone_url": f"{links.web}/{full_name}.git",
            "git_url": f"{links.web.replace('http://', 'git://')}/{full_name}.git",
            "ssh_url": f"git@sandbox.invalid:{full_name}.git",
            "svn_url": links.html(full_name),
            "mirror_url": None,
            "homepage": s.get("homepage"),
            "language": None,
            "forks": 0,
            "forks_count": 0,
            "stargazers_count": 0,
            "watchers": 0,
            "watchers_count": 0,
            "size": 0,
            "default_branch": meta["default_branch"],
            "open_issues": open_pulls,
            "open_issues_count": open_pulls,
            "is_template": False,
            "topics": [],
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_downloads": False,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "private" if s.get("private") else "public",
            "pushed_at": pushed_at,
            "created_at": meta["created_at"],
            "updated_at": meta.get("updated_at", meta["created_at"]),
            "permissions": permissions,
            "allow_rebase_merge": bool(s["allow_rebase_merge"]),
            "allow_squash_merge": bool(s["allow_squash_merge"]),
            "allow_merge_commit": bool(s["allow_merge_commit"]),
            "allow_auto_merge": False,
            "delete_branch_on_merge": bool(s.get("delete_branch_on_merge", False)),
            "allow_update_branch": False,
            "use_squash_pr_title_as_default": False,
            "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
            "squash_merge_commit_message": "COMMIT_MESSAGES",
            "merge_commit_title": "MERGE_MESSAGE",
            "merge_commit_message": "PR_TITLE",
            "allow_forking": True,
            "web_commit_signoff_required": False,
            "license": None,
            "network_count": 0,
            "subscribers_count": 0,
        }
    )
    if owner_kind == "Organization":
        body["organization"] = simple_user(links, full_name.split("/")[0], "Organization")
    return body


def git_person(p: Person) -> dict[str, Any]:
    return {"name": p.name, "email": p.email, "date": p.date}


def verification() -> dict[str, Any]:
    return {
        "verified": False,
        "reason": "unsigned",
        "signature": None,
        "payload": None,
        "verified_at": None,
    }


def git_commit(links: Links, full_name: str, c: CommitInfo) -> dict[str, Any]:
    base = links.repo(full_name)
    return {
        "sha": c.sha,
        "node_id": node_id("C", c.sha),
        "url": f"{base}/git/commits/{c.sha}",
        "html_url": f"{links.html(full_name)}/commit/{c.sha}",
        "author": git_person(c.author),
        "committer": git_person(c.committer),
        "tree": {"sha": c.tree, "url": f"{base}/git/trees/{c.tree}"},
        "message": c.message,
        "parents": [
            {
                "sha": p,
                "url": f"{base}/git/commits/{p}",
                "html_url": f"{links.html(full_name)}/commit/{p}",
            }
            for p in c.parents
        ],
        "verification": verification(),
    }


def commit(
    links: Links,
    full_name: str,
    c: CommitInfo,
    user_for_email: Any,
    files: list[FileChange] | None = None,
) -> dict[str, Any]:
    """A commit as the commits API shows it; `files` adds `files` and `stats`."""
    base = links.repo(full_name)
    author_login = user_for_email(c.author)
    committer_login = user_for_email(c.committer)
    body: dict[str, Any] = {
        "sha": c.sha,
        "node_id": node_id("C", c.sha),
        "commit": {
            "author": git_person(c.author),
            "committer": git_person(c.committer),
            "message": c.message,
            "tree": {"sha": c.tree, "url": f"{base}/git/trees/{c.tree}"},
            "url": f"{base}/git/commits/{c.sha}",
            "comment_count": 0,
            "verification": verification(),
        },
        "url": f"{base}/commits/{c.sha}",
        "html_url": f"{links.html(full_name)}/commit/{c.sha}",
        "comments_url": f"{base}/commits/{c.sha}/comments",
        "author": simple_user(links, author_login) if author_login else None,
        "committer": simple_user(links, committer_login) if committer_login else None,
        "parents": [
            {
                "sha": p,
                "url": f"{base}/commits/{p}",
                "html_url": f"{links.html(full_name)}/commit/{p}",
            }
            for p in c.parents
        ],
    }
    if files is not None:
        add = sum(f.additions for f in files)
        dele = sum(f.deletions for f in files)
        body["stats"] = {"total": add + dele, "additions": add, "deletions": dele}
        body["files"] = [diff_entry(links, full_name, c.sha, f) for f in files]
    return body


def diff_entry(links: Links, full_name: str, ref: str, f: FileChange) -> dict[str, Any]:
    base = links.repo(full_name)
    qpath = quote(f.filename)
    body: dict[str, Any] = {
        "sha": f.sha,
        "filename": f.filename,
        "status": f.status,
        "additions": f.additions,
        "deletions": f.deletions,
        "changes": f.additions + f.deletions,
        "blob_url": f"{links.html(full_name)}/blob/{ref}/{qpath}",
        "raw_url": f"{links.html(full_name)}/raw/{ref}/{qpath}",
        "contents_url": f"{base}/contents/{qpath}?ref={ref}",
    }
    if f.patch is not None:
        body["patch"] = f.patch
    if f.previous_filename:
        body["previous_filename"] = f.previous_filename
    return body


def git_ref(links: Links, full_name: str, ref: str, sha: str, typ: str) -> dict[str, Any]:
    base = links.repo(full_name)
    kind = {"commit": "commits", "tree": "trees", "blob": "blobs", "tag": "tags"}.get(
        typ, "commits"
    )
    return {
        "ref": ref,
        "node_id": node_id("REF", f"{full_name}:{ref}"),
        "url": f"{base}/git/{quote(ref)}",
        "object": {"type": typ, "sha": sha, "url": f"{base}/git/{kind}/{sha}"},
    }


def short_branch(links: Links, full_name: str, name: str, sha: str) -> dict[str, Any]:
    base = links.repo(full_name)
    return {
        "name": name,
        "commit": {"sha": sha, "url": f"{base}/commits/{sha}"},
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": f"{base}/branches/{quote(name)}/protection",
    }


def branch(links: Links, full_name: str, name: str, commit_body: dict[str, Any]) -> dict[str, Any]:
    base = links.repo(full_name)
    return {
        "name": name,
        "commit": commit_body,
        "_links": {
            "self": f"{base}/branches/{quote(name)}",
            "html": f"{links.html(full_name)}/tree/{name}",
        },
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": f"{base}/branches/{quote(name)}/protection",
    }


def tree(links: Links, full_name: str, sha: str, entries: list[TreeEntry]) -> dict[str, Any]:
    base = links.repo(full_name)
    items = []
    for e in entries:
        item: dict[str, Any] = {"path": e.path, "mode": e.mode, "type": e.type, "sha": e.sha}
        if e.type == "blob":
            item["size"] = e.size
            item["url"] = f"{base}/git/blobs/{e.sha}"
        elif e.type == "tree":
            item["url"] = f"{base}/git/trees/{e.sha}"
        items.append(item)
    return {"sha": sha, "url": f"{base}/git/trees/{sha}", "tree": items, "truncated": False}


def blob(links: Links, full_name: str, sha: str, data: bytes) -> dict[str, Any]:
    return {
        "sha": sha,
        "node_id": node_id("B", sha),
        "size": len(data),
        "url": f"{links.repo(full_name)}/git/blobs/{sha}",
        "content": base64.encodebytes(data).decode(),
        "encoding": "base64",
    }


def content_item(
    links: Links, full_name: str, ref: str, e: TreeEntry, data: bytes | None = None
) -> dict[str, Any]:
    base = links.repo(full_name)
    typ = {"blob": "file", "tree": "dir", "commit": "submodule"}.get(e.type, "file")
    if e.mode == "120000":
        typ = "symlink"
    qpath = quote(e.path)
    url = f"{base}/contents/{qpath}?ref={quote(ref, safe='')}"
    git_url = f"{base}/git/{'trees' if e.type == 'tree' else 'blobs'}/{e.sha}"
    html = f"{links.html(full_name)}/{'tree' if e.type == 'tree' else 'blob'}/{ref}/{qpath}"
    body: dict[str, Any] = {
        "type": typ,
        "size": e.size or 0,
        "name": e.path.rsplit("/", 1)[-1],
        "path": e.path,
        "sha": e.sha,
        "url": url,
        "git_url": git_url,
        "html_url": html,
        "download_url": f"{links.html(full_name)}/raw/{ref}/{qpath}" if typ == "file" else None,
        "_links": {"self": url, "git": git_url, "html": html},
    }
    if data is not None:
        body["content"] = base64.encodebytes(data).decode()
        body["encoding"] = "base64"
    return body


def status(links: Links, full_name: str, s: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": f"{links.repo(full_name)}/statuses/{s['sha']}",
        "avatar_url": None,
        "id": s["id"],
        "node_id": node_id("SC", s["id"]),
        "state": s["state"],
        "description": s.get("description"),
        "target_url": s.get("target_url"),
        "context": s["context"],
        "created_at": s["created_at"],
        "updated_at": s["created_at"],
        "creator": simple_user(links, s["creator"]) if s.get("creator") else None,
    }


def integration(links: Links) -> dict[str, Any]:
    return {
        "id": 1,
        "slug": "sandbox-checks",
        "node_id": node_id("A", 1),
        "owner": simple_user(links, "sandbox", "Organization"),
        "name": "Sandbox Checks",
        "description": "Check runs created through the sandbox forge",
        "external_url": links.web,
        "html_url": f"{links.web}/apps/sandbox-checks",
        "created_at": EPOCH,
        "updated_at": EPOCH,
        "permissions": {"checks": "write", "statuses": "write"},
        "events": [],
    }


def check_run(links: Links, full_name: str, r: dict[str, Any]) -> dict[str, Any]:
    base = links.repo(full_name)
    out = r.get("output") or {}
    return {
        "id": r["id"],
        "node_id": node_id("CR", r["id"]),
        "head_sha": r["head_sha"],
        "external_id": r.get("external_id"),
        "url": f"{base}/check-runs/{r['id']}",
        "html_url": f"{links.html(full_name)}/runs/{r['id']}",
        "details_url": r.get("details_url"),
        "status": r["status"],
        "conclusion": r.get("conclusion"),
        "started_at": r.get("started_at"),
        "completed_at": r.get("completed_at"),
        "output": {
            "title": out.get("title"),
            "summary": out.get("summary"),
            "text": out.get("text"),
            "annotations_count": 0,
            "annotations_url": f"{base}/check-runs/{r['id']}/annotations",
        },
        "name": r["name"],
        "check_suite": {"id": r["check_suite_id"]},
        "app": integration(links),
        "pull_requests": [],
    }


def review(links: Links, full_name: str, number: int, r: dict[str, Any]) -> dict[str, Any]:
    html = f"{links.html(full_name)}/pull/{number}#pullrequestreview-{r['id']}"
    pr_url = f"{links.repo(full_name)}/pulls/{number}"
    body: dict[str, Any] = {
        "id": r["id"],
        "node_id": node_id("PRR", r["id"]),
        "user": simple_user(links, r["user"]),
        "body": r.get("body") or "",
        "state": r["state"],
        "html_url": html,
        "pull_request_url": pr_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": pr_url}},
        "commit_id": r.get("commit_id"),
        "author_association": "COLLABORATOR",
    }
    if r.get("submitted_at"):
        body["submitted_at"] = r["submitted_at"]
    return body


def issue_comment(links: Links, full_name: str, c: dict[str, Any]) -> dict[str, Any]:
    base = links.repo(full_name)
    return {
        "id": c["id"],
        "node_id": node_id("IC", c["id"]),
        "url": f"{base}/issues/comments/{c['id']}",
        "html_url": f"{links.html(full_name)}/pull/{c['number']}#issuecomment-{c['id']}",
        "issue_url": f"{base}/issues/{c['number']}",
        "body": c["body"],
        "user": simple_user(links, c["user"]),
        "created_at": c["created_at"],
        "updated_at": c.get("updated_at", c["created_at"]),
        "author_association": "COLLABORATOR",
        "performed_via_github_app": None,
    }


def error(
    message: str, errors: list[Any] | None = None, status: int | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS}
    if errors is not None:
        body["errors"] = errors
    if status is not None:
        body["status"] = str(status)
    return body
