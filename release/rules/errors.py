"""The one family of configuration errors.

`ConfigError` names the key, the value and the fix (`config release-train:KEY = VALUE: FIX`).
A rule that checks one value without knowing where in the stack's config it sits (the PPC
list, a command template, the guardrails, the calendar, the promotion target) raises a
`ConfigProblem`: the same family, its message the rule's own; the config parse re-raises it
as a ConfigError naming the key. Callers catch `ConfigError` for all of them.
"""

from __future__ import annotations

NAMESPACE = "release-train"


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key, the value and the fix."""

    def __init__(self, key: str, value: object, fix: str) -> None:
        self.key = key
        self.value = value
        self.fix = fix
        shown = "(not set)" if value is None else repr(value)
        super().__init__(f"config {NAMESPACE}:{key} = {shown}: {fix}")


class ConfigProblem(ConfigError):
    """A bad value found by a rule that does not name the config key itself; `str()` is the
    rule's message (also `fix`)."""

    def __init__(self, message: str, key: str = "", value: object = None) -> None:
        self.key = key
        self.value = value
        self.fix = message
        ValueError.__init__(self, message)


class StackFileError(ConfigError):
    """A stack file as a whole is wrong: missing, empty, or not YAML (names the file and line)."""

    def __init__(self, file: str, problem: str, fix: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        self.key = ""
        self.value = None
        self.fix = fix
        where = f"{file} line {line}" if line else file
        ValueError.__init__(self, f"{where}: {problem}; {fix}")
