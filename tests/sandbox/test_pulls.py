"""Pull requests: mergeability, the three merge methods, reviews, reviewers, comments."""

from __future__ import annotations

import github
import pytest


@pytest.fixture
def feature(acme, commit_files):
    """A `feature` branch one commit ahead of master; returns its head SHA."""
    acme.create_git_ref("refs/heads/feature", acme.get_branch("master").commit.sha)
    return commit_files(acme, "feature", {"feature.txt": "new\n"}, "Add feature")


def test_create_get_list_update(acme, feature):
    pr = acme.create_pull(title="Feature", body="Adds it", head="feature", base="master")
    assert pr.number == 1
    assert (pr.head.ref, pr.head.sha, pr.base.ref) == ("feature", feature, "master")
    assert pr.user.login == "release-bot"
    got = acme.get_pull(1)
    assert got.mergeable is True and got.mergeable_state == "clean"
    assert got.commits == 1 and got.changed_files == 1
    assert [p.number for p in acme.get_pulls(state="open", head="acme:feature", base="master")] == [
        1
    ]
    assert list(acme.get_pulls(head="acme:other")) == []
    got.edit(title="Feature, renamed", state="closed")
    assert acme.get_pull(1).state == "closed"
    assert [p.number for p in acme.get_pulls(state="closed")] == [1]
    assert list(acme.get_pulls(state="open")) == []
    got.edit(state="open")
    assert acme.get_pull(1).title == "Feature, renamed"


def test_create_refusals(acme, feature):
    acme.create_pull(title="Feature", body="", head="feature", base="master")
    with pytest.raises(github.GithubException) as err:
        acme.create_pull(title="Again", body="", head="feature", base="master")
    assert err.value.status == 422
    # GitHub's own shape, which the providers adopt on (release/providers/pull_request.py)
    assert err.value.data["message"] == "Validation Failed"
    assert err.value.data["errors"] == [
        {
            "resource": "PullRequest",
            "code": "custom",
            "message": f"A pull request already exists for {acme.owner.login}:feature.",
        }
    ]
    with pytest.raises(github.GithubException) as err:
        acme.create_pull(title="Nothing", body="", head="master", base="feature")
    assert err.value.status == 422
    assert "No commits between" in err.value.data["errors"][0]["message"]
    with pytest.raises(github.GithubException) as err:
        acme.create_pull(title="Bad", body="", head="nope", base="master")
    assert err.value.status == 422


def test_conflicting_pull_is_dirty_and_not_mergeable(acme, feature, commit_files):
    commit_files(acme, "master", {"feature.txt": "different\n"}, "Clash on master")
    pr = acme.create_pull(title="Feature", body="", head="feature", base="master")
    pr = acme.get_pull(pr.number)
    assert pr.mergeable is False and pr.mergeable_state == "dirty"
    with pytest.raises(github.GithubException) as err:
        pr.merge(merge_method="merge")
    assert err.value.status == 405


def test_merge_commit_with_sha_precondition(acme, feature, commit_files):
    master = commit_files(acme, "master", {"other.txt": "o\n"}, "Other work")
    pr = acme.create_pull(title="Feature", body="", head="feature", base="master")
    with pytest.raises(github.GithubException) as err:
        pr.merge(merge_method="merge", sha=master)
    assert err.value.status == 409
    status = pr.merge(merge_method="merge", sha=feature)
    assert status.merged is True
    merge = acme.get_git_commit(status.sha)
    assert [p.sha for p in merge.parents] == [master, feature]
    assert merge.message.startswith("Merge pull request #1 from acme/feature")
    assert acme.get_branch("master").commit.sha == status.sha
    done = acme.get_pull(1)
    assert done.merged is True and done.state == "closed"
    assert done.merged_by.login == "release-bot"
    assert done.merge_commit_sha == status.sha
    assert done.is_merged() is True
    with pytest.raises(github.GithubException) as err:
        done.merge()
    assert err.value.status == 405


def test_is_merged_false_for_open_pull(acme, feature):
    pr = acme.create_pull(title="Feature", body="", head="feature", base="master")
    assert pr.is_merged() is False


def test_squash_merge(acme, feature, commit_files):
    commit_files(acme, "feature", {"feature.txt": "newer\n"}, "Polish feature")
    master = acme.get_branch("master").commit.sha
    pr = acme.create_pull(title="Feature", body="", head="feature", base="master")
    status = pr.merge(merge_method="squash")
    squashed = acme.get_git_commit(status.sha)
    assert [p.sha for p in squashed.parents] == [master]
    assert squashed.message.startswith("Feature (#1)")
    assert acme.get_contents("feature.txt").decoded_content == b"newer\n"


def test_rebase_merge(acme, feature, commit_files):
    second = commit_files(acme, "feature", {"feature2.txt": "x\n"}, "Second")
    master = commit_files(acme, "master", {"m.txt": "m\n"}, "Master moved")
    pr = acme.create_pull(title="Feature", body="", head="feature", base="master")
    status = pr.merge(merge_method="rebase")
    tip = acme.get_git_commit(status.sha)
    assert tip.message == "Second" and tip.sha != second
    first = acme.get_git_commit(tip.parents[0].sha)
    assert first.message == "Add feature"
    assert first.parents[0].sha == master
    assert tip.committer.name == "Sandbox Forge"
    assert {c.path for c in acme.get_contents("")} >= {"feature.txt", "feature2.txt", "m.txt"}


def test_disallowed_merge_method_is_405(acme, feature):
    acme.edit(allow_squash_merge=False)
    pr = acme.create_pull(title="Feature", body="", head="feature", base="master")
    with pytest.raises(github.GithubException) as err:
        pr.merge(merge_method="squash")
    assert err.value.status == 405
    assert "Squash merges are not allowed" in err.value.data["message"]


def test_reviews_reviewers_and_dismissal(acme, feature, github_client, sandbox):
    pr = acme.create_pull(title="Feature", body="", head="feature", base="master")
    pr.create_review_request(reviewers=["oncall-partner"])
    users, teams = pr.get_review_requests()
    assert [u.login for u in users] == ["oncall-partner"]
    with pytest.raises(github.GithubException) as err:
        pr.create_review(event="APPROVE")  # the author cannot approve
    assert err.value.status == 422
    with pytest.raises(github.GithubException):
        pr.create_review_request(reviewers=["nobody-here"])
    partner = github_client(sandbox.reviewer_token).get_repo("acme/service").get_pull(pr.number)
    review = partner.create_review(body="LGTM", event="APPROVE")
    assert review.state == "APPROVED" and review.user.login == "oncall-partner"
    assert review.commit_id == feature
    changes = partner.create_review(body="wait", event="REQUEST_CHANGES")
    reviews = list(acme.get_pull(pr.number).get_reviews())
    assert [(r.user.login, r.state) for r in reviews] == [
        ("oncall-partner", "APPROVED"),
        ("oncall-partner", "CHANGES_REQUESTED"),
    ]
    assert list(pr.get_review_requests()[0]) == []  # reviewing fulfils the request
    changes.dismiss("stale")
    assert acme.get_pull(pr.number).get_review(changes.id).state == "DISMISSED"


def test_issue_comments_on_pull(acme, feature, github_client, sandbox):
    pr = acme.create_pull(title="Feature", body="", head="feature", base="master")
    pr.create_issue_comment("payload: abc")
    other = github_client(sandbox.reviewer_token).get_repo("acme/service").get_pull(pr.number)
    other.create_issue_comment("ack")
    comments = list(acme.get_pull(pr.number).get_issue_comments())
    assert [(c.user.login, c.body) for c in comments] == [
        ("release-bot", "payload: abc"),
        ("oncall-partner", "ack"),
    ]
    comments[0].edit("payload: def")
    assert acme.get_pull(pr.number).get_issue_comments()[0].body == "payload: def"


def test_pull_merged_by_a_push_reads_as_merged(acme, feature, commit_files):
    pr = acme.create_pull(title="Feature", body="", head="feature", base="master")
    master = acme.get_branch("master").commit.sha
    merged = acme.merge("master", "feature", "Merge feature by hand")
    assert acme.get_branch("master").commit.sha == merged.sha != master
    done = acme.get_pull(pr.number)
    assert (done.state, done.merged, done.merge_commit_sha) == ("closed", True, merged.sha)
    assert done.is_merged() is True
