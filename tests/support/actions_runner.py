"""A small GitHub Actions runner for the tests: runs a workflow's jobs on this machine as a
hosted runner would, for one event.

- Triggers: the event must be one of the workflow's `on:` (with its `paths` for pull
  requests); each job's `if:` is evaluated with GitHub's expression rules (the operators,
  `contains`, `fromJSON`, `startsWith`, `format`, the status functions, loose equality).
- Jobs run in `needs` order; a job whose needs did not succeed is skipped unless its `if:`
  says otherwise. Job `env`, `environment`, `concurrency`, `permissions` and `outputs` are
  evaluated.
- `run:` steps: `${{ }}` substituted (inputs, secrets, vars, github, env, steps, needs), the
  script written to a file and run with the step's shell (`bash -e`, or
  `bash --noprofile --norc -eo pipefail` for `shell: bash`), with the workflow's, the job's
  and the step's env, the runner's default variables, and fresh GITHUB_OUTPUT, GITHUB_ENV,
  GITHUB_PATH and GITHUB_STEP_SUMMARY files read back after the step as the runner does.
  Workflow commands on stdout (`::notice`, `::error`, `::warning`, `::stop-commands::`) are
  collected as annotations.
- `uses:` steps are not run: a handler given for the action stands in for it (upload and
  download of artifacts, for example), else the step is recorded as stubbed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# --- expressions ------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[!<>(),\[\]])|(?P<name>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_*-]+)*))"
)


class ExpressionError(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if not found or found.end() == pos:
            raise ExpressionError(f"cannot read {text[pos:]!r} in {text!r}")
        kind = found.lastgroup or ""
        out.append((kind, found.group(kind)))
        pos = found.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if value.strip() == "":
            return 0.0
        try:
            return float(value)
        except ValueError:
            return float("nan")
    return float("nan")


def truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str):
        return value != ""
    return True


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    if type(left) is type(right) and not isinstance(left, str):
        return left == right
    if isinstance(left, dict | list) or isinstance(right, dict | list):
        return left is right
    return _number(left) == _number(right)


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class _Parser:
    def __init__(self, text: str, context: dict[str, Any], functions: dict[str, Callable]):
        self.tokens = _tokens(text)
        self.pos = 0
        self.context = context
        self.functions = functions
        self.text = text

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"expected {value!r} in {self.text!r}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()} in {self.text!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.compare()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.compare()
            value = right if truthy(value) else value
        return value

    def compare(self) -> Any:
        value = self.unary()
        while self.peek() and self.peek()[1] in ("==", "!=", "<", ">", "<=", ">="):
            op = self.take()[1]
            right = self.unary()
            if op == "==":
                value = _equal(value, right)
            elif op == "!=":
                value = not _equal(value, right)
            else:
                a, b = _number(value), _number(right)
                value = {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "num":
            return float(value)
        if kind == "op" and value == "(":
            inner = self.or_()
            self.take(")")
            return inner
        if kind == "name":
            if self.peek() == ("op", "("):
                self.take("(")
                args = []
                while self.peek() != ("op", ")"):
                    args.append(self.or_())
                    if self.peek() == ("op", ","):
                        self.take(",")
                self.take(")")
                name = value.lower()
                if name not in self.functions:
                    raise ExpressionError(f"unknown function {value} in {self.text!r}")
                return self.functions[name](*args)
            if value in ("true", "false"):
                return value == "true"
            if value == "null":
                return None
            return self.lookup(value)
        raise ExpressionError(f"unexpected {value!r} in {self.text!r}")

    def lookup(self, path: str) -> Any:
        current: Any = self.context
        for part in path.split("."):
            if isinstance(current, dict):
                matches = [k for k in current if str(k).lower() == part.lower()]
                current = current[matches[0]] if matches else None
            else:
                return None
        return current


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return any(_equal(item, needle) for item in haystack)
    return as_text(needle).lower() in as_text(haystack).lower()


def _format(template: str, *args: Any) -> str:
    return re.sub(r"\{(\d+)\}", lambda m: as_text(args[int(m.group(1))]), template)


def evaluate(text: str, context: dict[str, Any], status: Callable[[str], bool]) -> Any:
    functions: dict[str, Callable] = {
        "contains": _contains,
        "startswith": lambda a, b: as_text(a).lower().startswith(as_text(b).lower()),
        "endswith": lambda a, b: as_text(a).lower().endswith(as_text(b).lower()),
        "fromjson": lambda s: json.loads(s),
        "tojson": lambda v: json.dumps(v, indent=2),
        "format": _format,
        "join": lambda items, sep=",": as_text(sep).join(as_text(i) for i in items or []),
        "hashfiles": lambda *patterns: "hash-of-" + "-".join(patterns),
        "success": lambda: status("success"),
        "failure": lambda: status("failure"),
        "always": lambda: True,
        "cancelled": lambda: False,
    }
    return _Parser(text, context, functions).parse()


_EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def interpolate(text: Any, context: dict[str, Any], status: Callable[[str], bool]) -> Any:
    if not isinstance(text, str):
        return text
    whole = _EXPR.fullmatch(text.strip())
    if whole:
        return evaluate(whole.group(1), context, status)
    return _EXPR.sub(lambda m: as_text(evaluate(m.group(1), context, status)), text)


def condition(text: Any, context: dict[str, Any], status: Callable[[str], bool]) -> bool:
    """An `if:`: with or without ${{ }}, success() implied unless a status function is used."""
    if text is None or text == "":
        return status("success")
    if isinstance(text, bool):
        return text
    expression = text.strip()
    whole = _EXPR.fullmatch(expression)
    if whole:
        expression = whole.group(1).strip()
    if not re.search(r"\b(success|failure|always|cancelled)\s*\(", expression):
        expression = f"success() && ({expression})"
    return truthy(evaluate(expression, context, status))


# --- the runner -------------------------------------------------------------------------------


@dataclass
class Event:
    """What started the run: `name` (schedule, pull_request, ...) and github.event."""

    name: str
    payload: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    changed_files: tuple[str, ...] = ()
    ref: str = "refs/heads/main"
    sha: str = "0" * 40


@dataclass
class Annotation:
    level: str
    title: str
    message: str


@dataclass
class StepResult:
    name: str
    id: str | None
    kind: str  # run, uses, skipped
    outcome: str  # success, failure, skipped
    exit_code: int | None = None
    output: str = ""
    env: dict[str, str] = field(default_factory=dict)
    script: str = ""
    uses: str = ""
    with_: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class JobResult:
    id: str
    name: str
    result: str  # success, failure, skipped
    environment: str | None = None
    concurrency: Any = None
    permissions: Any = None
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    annotations: list[Annotation] = field(default_factory=list)

    def step(self, name: str) -> StepResult:
        matches = [s for s in self.steps if s.name == name or s.id == name]
        if len(matches) != 1:
            raise KeyError(f"{name!r}: {[s.name for s in self.steps]}")
        return matches[0]

    @property
    def log(self) -> str:
        return "\n".join(f"--- {s.name} ({s.outcome})\n{s.output}" for s in self.steps)


Handler = Callable[[StepResult, "JobContext"], dict[str, str] | None]


@dataclass
class JobContext:
    runner: Runner
    job_id: str
    workspace: Path
    env: dict[str, str]


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on: {}}
    if isinstance(on, list):
        return {name: {} for name in on}
    return {name: (spec or {}) for name, spec in on.items()}


def paths_match(patterns: list[str], files: tuple[str, ...]) -> bool:
    def match(path: str, pattern: str) -> bool:
        regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        return re.fullmatch(regex, path) is not None

    return any(match(path, pattern) for path in files for pattern in patterns)


@dataclass
class Runner:
    """Runs `workflow` (a path) in `workspace` (the checkout) for one event at a time."""

    workflow_path: Path
    workspace: Path
    temp: Path
    secrets: dict[str, str] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)
    machine_env: dict[str, str] = field(default_factory=dict)
    handlers: dict[str, Handler] = field(default_factory=dict)
    runner_environment: str = "self-hosted"
    repository: str = "acme/release-train"
    step_timeout: float = 600

    def __post_init__(self) -> None:
        self.workflow = yaml.safe_load(self.workflow_path.read_text())
        self.artifacts = self.temp / "artifacts"

    def triggered(self, event: Event) -> bool:
        spec = triggers(self.workflow).get(event.name)
        if spec is None:
            return False
        patterns = spec.get("paths") if isinstance(spec, dict) else None
        if patterns and event.name.startswith("pull_request"):
            return paths_match(list(patterns), event.changed_files)
        return True

    def github_context(self, event: Event) -> dict[str, Any]:
        return {
            "event_name": event.name,
            "event": {**event.payload, "inputs": event.inputs} if event.inputs else event.payload,
            "ref": event.ref,
            "sha": event.sha,
            "repository": self.repository,
            "token": "ghs_job_token_of_this_run",
            "base_ref": (event.payload.get("pull_request") or {}).get("base", {}).get("ref", ""),
            "workflow": self.workflow.get("name", ""),
            "run_id": "4242",
            "server_url": "https://github.com",
        }

    def run(self, event: Event) -> dict[str, JobResult]:
        if not self.triggered(event):
            return {}
        github = self.github_context(event)
        results: dict[str, JobResult] = {}
        jobs: dict[str, dict[str, Any]] = self.workflow["jobs"]
        pending = list(jobs)
        while pending:
            ready = [j for j in pending if all(n in results for n in _needs(jobs[j]))]
            if not ready:
                raise ExpressionError(f"a cycle in needs: {pending}")
            for job_id in ready:
                pending.remove(job_id)
                results[job_id] = self.run_job(job_id, jobs[job_id], event, github, results)
        return results

    def run_job(
        self,
        job_id: str,
        job: dict[str, Any],
        event: Event,
        github: dict[str, Any],
        done: dict[str, JobResult],
    ) -> JobResult:
        needs = {n: {"result": done[n].result, "outputs": done[n].outputs} for n in _needs(job)}
        needs_ok = all(done[n].result == "success" for n in _needs(job))

        def job_status(kind: str) -> bool:
            return needs_ok if kind == "success" else (not needs_ok and kind == "failure")

        base = {
            "github": github,
            "inputs": event.inputs,
            "vars": self.vars,
            "needs": needs,
            "runner": {"os": "Linux", "temp": str(self.temp)},
        }
        name = as_text(interpolate(job.get("name", job_id), base, job_status))
        if not condition(job.get("if"), base, job_status):
            return JobResult(job_id, name, "skipped")
        workflow_env = {
            k: as_text(interpolate(v, base, job_status))
            for k, v in (self.workflow.get("env") or {}).items()
        }
        ctx = {**base, "secrets": self.secrets, "env": workflow_env}
        env = dict(workflow_env)
        for key, value in (job.get("env") or {}).items():
            env[key] = as_text(interpolate(value, ctx, job_status))
        environment = interpolate(job.get("environment"), ctx, job_status)
        if isinstance(environment, dict):
            environment = interpolate(environment.get("name"), ctx, job_status)
        concurrency = job.get("concurrency")
        if isinstance(concurrency, dict):
            concurrency = {k: interpolate(v, ctx, job_status) for k, v in concurrency.items()}
        result = JobResult(
            job_id,
            name,
            "success",
            environment=as_text(environment) or None,
            concurrency=concurrency,
            permissions=job.get("permissions", self.workflow.get("permissions")),
        )
        job_dir = self.temp / f"job-{job_id}-{uuid.uuid4().hex[:8]}"
        runner_temp = job_dir / "runner-temp"
        runner_temp.mkdir(parents=True)
        extra_path: list[str] = []
        steps: dict[str, dict[str, Any]] = {}
        failed = False
        shell_default = ((self.workflow.get("defaults") or {}).get("run") or {}).get("shell")
        for index, step in enumerate(job.get("steps") or []):

            def step_status(kind: str, failed: bool = failed) -> bool:
                return (not failed) if kind == "success" else (failed and kind == "failure")

            sctx = {**ctx, "env": dict(env), "steps": steps}
            label = as_text(
                interpolate(
                    step.get("name") or step.get("uses") or step.get("run", ""), sctx, step_status
                )
            ).splitlines()[0]
            record = StepResult(label, step.get("id"), "skipped", "skipped")
            result.steps.append(record)
            if not condition(step.get("if"), sctx, step_status):
                if record.id:
                    steps[record.id] = {
                        "outcome": "skipped",
                        "conclusion": "skipped",
                        "outputs": {},
                    }
                continue
            step_env = dict(env)
            for key, value in (step.get("env") or {}).items():
                step_env[key] = as_text(interpolate(value, sctx, step_status))
            outputs: dict[str, str] = {}
            if "uses" in step:
                record.kind = "uses"
                record.uses = step["uses"]
                record.with_ = {
                    k: interpolate(v, {**sctx, "env": step_env}, step_status)
                    for k, v in (step.get("with") or {}).items()
                }
                record.env = step_env
                handler = self.handlers.get(step["uses"].split("@", 1)[0])
                record.outcome = "success"
                if handler is not None:
                    outputs = (
                        handler(record, JobContext(self, job_id, self.workspace, step_env)) or {}
                    )
            else:
                record.kind = "run"
                files = {
                    name: job_dir / f"{name.lower()}-{index}"
                    for name in (
                        "GITHUB_OUTPUT",
                        "GITHUB_ENV",
                        "GITHUB_PATH",
                        "GITHUB_STEP_SUMMARY",
                    )
                }
                for path in files.values():
                    path.write_text("")
                script = interpolate(step["run"], {**sctx, "env": step_env}, step_status)
                record.script = script
                script_file = job_dir / f"step-{index}.sh"
                script_file.write_text(script)
                shell = step.get("shell", shell_default)
                if shell == "bash":
                    argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)]
                elif shell is None:
                    argv = ["bash", "-e", str(script_file)]
                else:
                    raise ExpressionError(f"shell {shell!r} is not emulated")
                path = os.pathsep.join(
                    [*reversed(extra_path), self.machine_env.get("PATH", os.environ["PATH"])]
                )
                process_env = {
                    **self.machine_env,
                    "PATH": path,
                    "CI": "true",
                    "GITHUB_ACTIONS": "true",
                    "GITHUB_EVENT_NAME": event.name,
                    "GITHUB_SHA": event.sha,
                    "GITHUB_REF": event.ref,
                    "GITHUB_REPOSITORY": self.repository,
                    "GITHUB_WORKSPACE": str(self.workspace),
                    "GITHUB_RUN_ID": "4242",
                    "GITHUB_JOB": job_id,
                    "GITHUB_SERVER_URL": "https://github.com",
                    "RUNNER_OS": "Linux",
                    "RUNNER_TEMP": str(runner_temp),
                    "RUNNER_ENVIRONMENT": self.runner_environment,
                    **{k: str(v) for k, v in files.items()},
                    **step_env,
                }
                proc = subprocess.run(
                    argv,
                    cwd=self.workspace,
                    env=process_env,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=self.step_timeout,
                )
                record.exit_code = proc.returncode
                record.output = proc.stdout + proc.stderr
                record.env = step_env
                record.outcome = "success" if proc.returncode == 0 else "failure"
                result.annotations += workflow_commands(proc.stdout)
                outputs = read_key_values(files["GITHUB_OUTPUT"].read_text())
                env.update(read_key_values(files["GITHUB_ENV"].read_text()))
                extra_path += [p for p in files["GITHUB_PATH"].read_text().splitlines() if p]
                result.summary += files["GITHUB_STEP_SUMMARY"].read_text()
            record.outputs = outputs
            conclusion = record.outcome
            if record.outcome == "failure" and step.get("continue-on-error"):
                conclusion = "success"
            if conclusion == "failure":
                failed = True
            if record.id:
                steps[record.id] = {
                    "outcome": record.outcome,
                    "conclusion": conclusion,
                    "outputs": outputs,
                }
        result.result = "failure" if failed else "success"
        octx = {**ctx, "env": env, "steps": steps}
        result.outputs = {
            k: as_text(interpolate(v, octx, lambda kind: kind == "success"))
            for k, v in (job.get("outputs") or {}).items()
        }
        return result


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def read_key_values(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV: `name=value` lines and `name<<DELIMITER` blocks."""
    values: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            i += 1
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        i += 1
    return values


_COMMAND = re.compile(r"^::([a-z-]+)(?: (.*?))?::(.*)$")


def _unescape(text: str, property: bool = False) -> str:
    if property:
        text = text.replace("%3A", ":").replace("%2C", ",")
    return text.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def workflow_commands(stdout: str) -> list[Annotation]:
    """The annotations a runner would make of a step's stdout (honouring stop-commands)."""
    found: list[Annotation] = []
    stopped: str | None = None
    for line in stdout.splitlines():
        if stopped is not None:
            if line == f"::{stopped}::":
                stopped = None
            continue
        match = _COMMAND.match(line)
        if not match:
            continue
        command, props, message = match.groups()
        if command == "stop-commands":
            stopped = message
            continue
        if command in ("notice", "warning", "error"):
            title = ""
            for prop in (props or "").split(","):
                if prop.startswith("title="):
                    title = _unescape(prop[len("title=") :], property=True)
            found.append(Annotation(command, title, _unescape(message)))
    return found


# --- handlers for the actions the workflow uses -------------------------------------------


def upload_artifact(step: StepResult, ctx: JobContext) -> None:
    target = ctx.runner.artifacts / str(step.with_["name"])
    target.mkdir(parents=True, exist_ok=True)
    source = ctx.workspace / str(step.with_["path"])
    shutil.copy2(source, target / source.name)


def download_artifact(step: StepResult, ctx: JobContext) -> None:
    source = ctx.runner.artifacts / str(step.with_["name"])
    for path in source.iterdir():
        shutil.copy2(path, ctx.workspace / path.name)
