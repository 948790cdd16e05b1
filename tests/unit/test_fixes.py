"""The lost-fix check on plain data shaped like the compare API: cherry-pick trailers, patch
fingerprints that ignore line numbers and context, merge commits, and the error's text."""

from __future__ import annotations

from typing import Any

import pytest

from release.rules.fixes import (
    LostFix,
    LostFixError,
    cherry_pick_origins,
    lost_fixes,
    patch_fingerprint,
)

ORIGIN = "1f" * 20
OTHER_ORIGIN = "2e" * 20


def sha(n: int) -> str:
    return f"{n:040x}"


def commit(n: int, message: str, author: str = "Alice Moreau", parents: int = 1) -> dict[str, Any]:
    return {
        "sha": sha(n),
        "commit": {
            "message": message,
            "author": {"name": author, "email": "a@acme.example", "date": "2026-11-20T10:00:00Z"},
        },
        "parents": [{"sha": sha(1000 + i)} for i in range(parents)],
    }


def patch_file(filename: str, patch: str, status: str = "modified") -> dict[str, Any]:
    return {"filename": filename, "status": status, "patch": patch, "sha": "9" * 40}


FIX = patch_file(
    "app/auth.py",
    "@@ -10,7 +10,7 @@ def login(user):\n"
    "     token = issue(user)\n"
    "-    return token\n"
    "+    return token.strip()\n"
    "     # end\n",
)
# The same change, applied where the file has moved on: other line numbers, other context.
FIX_ELSEWHERE = patch_file(
    "app/auth.py",
    "@@ -42,6 +42,6 @@ class Session:\n"
    "     audit(user)\n"
    "-    return token\n"
    "+    return token.strip()   \n"
    "     log.debug('done')\n",
)
OTHER_CHANGE = patch_file(
    "app/auth.py",
    "@@ -10,7 +10,7 @@ def login(user):\n-    return token\n+    return token.lower()\n",
)


class Lookups:
    """The callables lost_fixes is given, counting their use."""

    def __init__(
        self,
        new_commits: set[str] = frozenset(),  # type: ignore[assignment]
        new_files: list[list[dict[str, Any]]] = (),  # type: ignore[assignment]
        files_of: dict[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        self.new_commits = set(new_commits)
        self.new_files = list(new_files)
        self.files_of = files_of or {}
        self.fingerprint_calls = 0
        self.fingerprinted: list[str] = []

    def new_has(self, commit_sha: str) -> bool:
        return commit_sha in self.new_commits

    def new_fingerprints(self) -> set[str]:
        self.fingerprint_calls += 1
        return {patch_fingerprint(files) for files in self.new_files}

    def fingerprint_of(self, commit_sha: str) -> str:
        self.fingerprinted.append(commit_sha)
        return patch_fingerprint(self.files_of[commit_sha])

    def run(self, previous_only: list[dict[str, Any]]) -> list[LostFix]:
        return lost_fixes(previous_only, self.new_has, self.new_fingerprints, self.fingerprint_of)


# -- trailers --------------------------------------------------------------------------------------


def test_trailer_of_git_cherry_pick_x() -> None:
    message = f"Fix token handling\n\nLonger text.\n\n(cherry picked from commit {ORIGIN})\n"
    assert cherry_pick_origins(message) == [ORIGIN]


def test_several_trailers_and_abbreviated_shas() -> None:
    message = (
        "Squash two fixes\n\n"
        f"(cherry picked from commit {ORIGIN})\n"
        "(cherry picked from commit 2e2e2e2)\n"
    )
    assert cherry_pick_origins(message) == [ORIGIN, "2e2e2e2"]


@pytest.mark.parametrize(
    "message",
    ["", "Fix token handling", "cherry picked from commit abc", "(cherry picked from commit xyz)"],
)
def test_no_trailer(message: str) -> None:
    assert cherry_pick_origins(message) == []


# -- fingerprints ----------------------------------------------------------------------------------


def test_fingerprint_ignores_line_numbers_context_and_trailing_space() -> None:
    assert patch_fingerprint([FIX]) == patch_fingerprint([FIX_ELSEWHERE])


def test_fingerprint_tells_changes_apart() -> None:
    assert patch_fingerprint([FIX]) != patch_fingerprint([OTHER_CHANGE])
    moved = {**FIX, "filename": "app/session.py"}
    assert patch_fingerprint([FIX]) != patch_fingerprint([moved])
    # A line added is not the same change as the line removed.
    flipped = patch_file(
        "app/auth.py", "@@ -1 +1 @@\n+    return token\n-    return token.strip()\n"
    )
    assert patch_fingerprint([FIX]) != patch_fingerprint([flipped])


def test_fingerprint_ignores_the_order_of_files() -> None:
    docs = patch_file("README.md", "@@ -1 +1 @@\n-old\n+new\n")
    assert patch_fingerprint([FIX, docs]) == patch_fingerprint([docs, FIX_ELSEWHERE])
    assert patch_fingerprint([FIX, docs]) != patch_fingerprint([FIX])


def test_fingerprint_counts_changed_lines_that_look_like_diff_headers() -> None:
    """The forge's per-file patch has no ---/+++ headers: a removed SQL comment ('-- ...')
    or an added '++i;' is a changed line like any other."""
    one = patch_file("db/schema.sql", "@@ -3,2 +3,2 @@\n--- keep the index\n+-- drop the index\n")
    two = patch_file("db/schema.sql", "@@ -3,2 +3,2 @@\n--- other comment\n+-- drop the index\n")
    assert patch_fingerprint([one]) != patch_fingerprint([two])
    inc = patch_file("src/loop.c", "@@ -7 +7 @@\n-i++;\n+++i;\n")
    dec = patch_file("src/loop.c", "@@ -7 +7 @@\n-i++;\n+++j;\n")
    assert patch_fingerprint([inc]) != patch_fingerprint([dec])


def test_fingerprint_skips_headers_of_a_full_git_diff() -> None:
    bare = patch_file("README.md", "@@ -1 +1 @@\n-old\n+new\n")
    full = patch_file("README.md", "--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-old\n+new\n")
    assert patch_fingerprint([bare]) == patch_fingerprint([full])


def test_changes_without_a_patch_are_told_apart_by_their_content() -> None:
    """The forge leaves out `patch` for binary files and very large diffs."""
    logo_a = {"filename": "static/logo.png", "status": "modified", "sha": "a" * 40}
    logo_b = {"filename": "static/logo.png", "status": "modified", "sha": "b" * 40}
    assert patch_fingerprint([logo_a]) != patch_fingerprint([logo_b])
    assert patch_fingerprint([logo_a]) == patch_fingerprint([dict(logo_a)])


# -- lost fixes ------------------------------------------------------------------------------------


def test_a_pick_whose_origin_the_new_release_has_is_safe() -> None:
    pick = commit(1, f"Fix token handling\n\n(cherry picked from commit {ORIGIN})")
    lookups = Lookups(new_commits={ORIGIN})
    assert lookups.run([pick]) == []
    assert lookups.fingerprint_calls == 0 and lookups.fingerprinted == []


def test_a_pick_without_trailer_but_with_the_same_patch_is_safe() -> None:
    pick = commit(2, "Fix token handling")
    lookups = Lookups(new_files=[[FIX_ELSEWHERE]], files_of={sha(2): [FIX]})
    assert lookups.run([pick]) == []
    assert lookups.fingerprint_calls == 1


def test_a_pick_whose_origin_is_not_in_the_new_release_falls_back_to_the_patch() -> None:
    pick = commit(3, f"Fix token handling\n\n(cherry picked from commit {ORIGIN})")
    lookups = Lookups(new_files=[[FIX]], files_of={sha(3): [FIX]})
    assert lookups.run([pick]) == []
    lookups = Lookups(new_files=[[OTHER_CHANGE]], files_of={sha(3): [FIX]})
    assert [fix.sha for fix in lookups.run([pick])] == [sha(3)]


def test_every_origin_must_be_in_the_new_release() -> None:
    message = f"Two fixes\n\n(cherry picked from commit {ORIGIN})\n(cherry picked from commit {OTHER_ORIGIN})"
    lookups = Lookups(new_commits={ORIGIN}, files_of={sha(4): [FIX]})
    assert [fix.sha for fix in lookups.run([commit(4, message)])] == [sha(4)]
    lookups = Lookups(new_commits={ORIGIN, OTHER_ORIGIN})
    assert lookups.run([commit(4, message)]) == []


def test_merge_commits_are_skipped() -> None:
    merge = commit(5, "Merge pull request #41 from acme/release/2026-11-12", parents=2)
    lookups = Lookups()
    assert lookups.run([merge]) == []
    assert lookups.fingerprint_calls == 0 and lookups.fingerprinted == []


def test_a_genuine_fix_only_on_the_previous_release_is_reported() -> None:
    fix = commit(6, "Fix the session timeout\n\nCustomers were logged out.", "Bilal Haddad")
    lookups = Lookups(new_files=[[OTHER_CHANGE]], files_of={sha(6): [FIX]})
    assert lookups.run([fix]) == [LostFix(sha(6), "Fix the session timeout", "Bilal Haddad")]


def test_new_fingerprints_are_read_at_most_once_and_only_when_needed() -> None:
    previous_only = [
        commit(7, "Merge branch 'release/2026-11-05'", parents=2),
        commit(8, f"Pick\n\n(cherry picked from commit {ORIGIN})"),
        commit(9, "Fix A"),
        commit(10, "Fix B"),
        commit(11, "Fix C"),
    ]
    files = {sha(9): [FIX], sha(10): [OTHER_CHANGE], sha(11): [FIX_ELSEWHERE]}
    lookups = Lookups(new_commits={ORIGIN}, new_files=[[FIX]], files_of=files)
    lost = lookups.run(previous_only)
    assert [fix.title for fix in lost] == ["Fix B"]
    assert lookups.fingerprint_calls == 1
    assert lookups.fingerprinted == [sha(9), sha(10), sha(11)]


def test_nothing_only_on_the_previous_release() -> None:
    lookups = Lookups()
    assert lookups.run([]) == [] and lookups.fingerprint_calls == 0


def test_a_commit_with_an_empty_message_is_still_reported() -> None:
    lookups = Lookups(files_of={sha(12): [FIX]})
    lost = lookups.run([commit(12, "", "Chen Wu")])
    assert lost == [LostFix(sha(12), "", "Chen Wu")]


def test_a_commit_without_author_details() -> None:
    bare = {"sha": sha(13), "commit": {"message": "Fix"}, "parents": [{"sha": sha(1)}]}
    lookups = Lookups(files_of={sha(13): [FIX]})
    assert lookups.run([bare]) == [LostFix(sha(13), "Fix", "")]


# -- the error -------------------------------------------------------------------------------------


def test_lost_fix_error_lists_the_fixes_and_says_what_to_do() -> None:
    fixes = [
        LostFix(sha(6), "Fix the session timeout", "Bilal Haddad"),
        LostFix(sha(14), "Guard against empty tokens", "Alice Moreau"),
    ]
    err = LostFixError("release/2026-11-19", "release/2026-11-26", fixes)
    text = str(err)
    assert err.fixes == fixes
    assert text.startswith(
        "2 fix(es) exist only on release/2026-11-19 (the release the environment runs) and "
        "would be lost by promoting release/2026-11-26:"
    )
    assert f"  - {sha(6)[:12]} Fix the session timeout (Bilal Haddad)" in text
    assert f"  - {sha(14)[:12]} Guard against empty tokens (Alice Moreau)" in text
    assert "Nothing was written" in text and "land each fix on master first" in text
    assert f'--carry {sha(6)} --carry {sha(14)} --reason "..."' in text


def test_lost_fix_describe() -> None:
    assert LostFix(sha(6), "Fix", "Bilal").describe() == f"{sha(6)[:12]} Fix (Bilal)"


def test_a_fix_reverted_on_the_previous_release_cancels_out():
    def raw(sha, message):
        return {
            "sha": sha,
            "commit": {"message": message, "author": {"name": "e"}},
            "parents": [{}],
        }

    fix = "a" * 40
    revert = raw("b" * 40, f'Revert "Risky change"\n\nThis reverts commit {fix}.')
    lost = lost_fixes(
        [raw(fix, "Risky change"), revert],
        new_has=lambda sha: False,
        new_fingerprints=set,
        fingerprint_of=lambda sha: sha,
    )
    assert lost == []


def test_a_fix_listed_in_picks_is_carried_not_lost():
    fix, origin = "c" * 40, "d" * 40
    commits = [
        {
            "sha": fix,
            "commit": {"message": f"Fix\n\n(cherry picked from commit {origin})", "author": {}},
            "parents": [{}],
        },
        {
            "sha": "e" * 40,
            "commit": {"message": "Other fix", "author": {"name": "x"}},
            "parents": [{}],
        },
    ]
    kwargs = dict(new_has=lambda sha: False, new_fingerprints=set, fingerprint_of=lambda s: s)
    assert [f.sha for f in lost_fixes(commits, **kwargs)] == [fix, "e" * 40]
    assert [f.sha for f in lost_fixes(commits, carried=[origin], **kwargs)] == ["e" * 40]
    assert lost_fixes(commits, carried=[fix[:12], "e" * 40], **kwargs) == []
