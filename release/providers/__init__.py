"""Dynamic providers: each forge object the release process touches, as a Pulumi resource.

They are built on PyGithub rather than pulumi-github because the process needs things the
GitHub provider does not model: a ref created at an exact commit and never deleted, an
"ours" merge commit, a merge gated on checks and approvals, cherry-picks through the API.
"""
