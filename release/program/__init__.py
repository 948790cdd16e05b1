"""The Pulumi program: the stack's role, the plan (reads only) and the registration of its
resources (docs/architecture.md)."""
