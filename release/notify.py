"""Notifications: a message to a Slack-style incoming webhook when the train moves.

The events are the moments oncall wants to hear about without watching a terminal: a
release is ``cut`` (branch and PR into staging), ``merged`` into an environment,
``blocked`` by a gate (a red or pending check, a missing approval, a lost fix, a freeze),
``rolled_back``, or a PPC wave failed (``ppc_wave_failed``).

The webhook is optional (stack config, a secret). Its URL is the credential: anybody who
has it can post to the channel, so it never appears in a log line, a warning or an error
here. Sending is best effort: :func:`notify` retries briefly on a 5xx, a 429 or a dropped
connection, then gives up with a warning and returns False; it never raises into the
promotion that called it, because a chat outage must not stop a release.

:func:`format_message` and :func:`build_payload` are pure; :func:`post_message` does the
HTTP.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from release.rules.text import slack

log = logging.getLogger(__name__)

EVENTS: dict[str, tuple[str, str]] = {
    # event: (emoji, headline template)
    "cut": (":scissors:", "Release {release} cut for {environment}"),
    "merged": (":white_check_mark:", "Release {release} merged into {environment}"),
    "blocked": (":no_entry:", "Release {release} blocked on {environment}"),
    "rolled_back": (":rewind:", "{environment} rolled back to {release}"),
    "abandoned": (":wastebasket:", "Release {release} abandoned on {environment}"),
    "ppc_wave_started": (":arrow_forward:", "PPC wave started for {release} on {environment}"),
    "ppc_wave_failed": (":rotating_light:", "PPC wave failed for {release} on {environment}"),
    "ppc_wave_done": (":checkered_flag:", "PPC wave completed for {release} on {environment}"),
}

# Slack's documented limits for a section block.
MAX_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD = 2000

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 3
BACKOFF = 0.25  # seconds before the 2nd attempt, doubled before each later one
RETRY_AFTER_CAP = 10.0  # the longest a 429's Retry-After makes us wait, in seconds

USER_AGENT = "release-train-notify"


def build_payload(event: str, text: str, fields: Mapping[str, str] | None = None) -> dict:
    """The webhook body: ``text`` (the fallback shown in notifications) and ``blocks``.

    Every piece of text is escaped for Slack mrkdwn (:func:`release.rules.text.slack`): a commit
    title such as ``<!channel> *hi*`` shows as typed and pings nobody. The mrkdwn objects
    carry ``verbatim: true``, so Slack does not turn plain-text names into links or
    mentions either. Raises ValueError for an event outside :data:`EVENTS`.
    """
    emoji, _ = _event(event)
    headline = f"{emoji} {slack(text, MAX_TEXT - len(emoji) - 1)}"
    blocks: list[dict] = [{"type": "section", "text": _mrkdwn(headline)}]
    items = [(str(k), str(v)) for k, v in (fields or {}).items()]
    if items:
        if len(items) > MAX_FIELDS:
            kept, rest = items[: MAX_FIELDS - 1], items[MAX_FIELDS - 1 :]
            items = kept + [("more", ", ".join(k for k, _ in rest))]
        blocks.append({"type": "section", "fields": [_field(k, v) for k, v in items]})
    blocks.append({"type": "context", "elements": [_mrkdwn(f"release-train · {slack(event)}")]})
    return {"text": slack(text, MAX_TEXT), "blocks": blocks}


def _mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _field(key: str, value: str) -> dict:
    label = f"*{slack(key, MAX_FIELD // 2)}*\n"
    return _mrkdwn(label + slack(value, MAX_FIELD - len(label)))


def format_message(
    event: str,
    release: str,
    environment: str,
    detail: str = "",
    *,
    pr_url: str = "",
    actor: str = "",
    next_step: str = "",
) -> dict:
    """The webhook body for one train event, e.g. ``format_message("merged", "release/2024-05-02",
    "staging", "merge commit abc1234", pr_url=..., actor="ana", next_step=...)``: the release,
    the environment, the pull request's link, who acted and what is next, each escaped.
    Pure; raises ValueError for an unknown event."""
    _, template = _event(event)
    text = template.format(release=release, environment=environment)
    fields = {"release": release, "environment": environment}
    if pr_url:
        fields["pull request"] = pr_url
    if actor:
        fields["by"] = actor
    if detail:
        fields["detail"] = detail
    if next_step:
        fields["next"] = next_step
    return build_payload(event, text, fields)


@dataclass(frozen=True)
class Event:
    """One thing the train did in a run, to be posted once."""

    kind: str
    release: str
    environment: str
    detail: str = ""
    pr_url: str = ""
    actor: str = ""
    next_step: str = ""

    def message(self) -> dict:
        return format_message(
            self.kind,
            self.release,
            self.environment,
            self.detail,
            pr_url=self.pr_url,
            actor=self.actor,
            next_step=self.next_step,
        )


@dataclass(frozen=True)
class Run:
    """What one `up` (or day-two command) did, beside the stack outputs: the command, whether
    it succeeded, who ran it, and what the engine reported (reasons a gate or a check gave,
    the PPCs it updated and those that failed, with their waves)."""

    command: str  # "promote", "rollback", "abandon", ...
    ok: bool
    actor: str = ""
    cuts: bool = False  # the stack cuts releases: a new release branch is a `cut`
    release: str = ""  # the release the run was for, when the state does not say
    blocked: tuple[str, ...] = ()
    ppcs_updated: Mapping[str, int] = field(default_factory=dict)  # PPC -> wave
    ppcs_failed: Mapping[str, tuple[int, str]] = field(default_factory=dict)  # -> (wave, why)
    reason: str = ""  # an abandon's reason


TRAIN_RESOURCES = (
    "release-branch",
    "pull-request",
    "merge",
    "rollback-commit",
    "rollback-pull-request",
    "rollback-merge",
)
"""The resources whose state tells what a run did (by name: their outputs in the state)."""


def run_events(
    environment: str,
    before: Mapping[str, Mapping[str, Any]],
    after: Mapping[str, Mapping[str, Any]],
    run: Run,
) -> list[Event]:
    """The events a run produced (pure), from the state of :data:`TRAIN_RESOURCES` before and
    after it (resource name -> outputs) and what the engine reported (``run``).

    The state is written even by an `up` that fails later on, so a merge is seen once: a
    promotion is ``merged`` when the ``merge`` resource records a merge commit it did not
    record before (every promotion posts once; a re-run, or the run that continues a failed
    PPC wave, posts nothing again); a rollback likewise from ``rollback-merge``; ``cut`` when
    the release branch is new; ``abandoned`` when an abandon went through; ``blocked`` when a
    merge (or a rollback's merge) is held at its gate (``gate_state: waiting``: the up succeeded
    and merged nothing; every run that leaves it waiting posts it), or with the engine's
    reasons in plain words; and per PPC wave, its start, its failure or its completion."""
    env = environment
    pull = after.get("pull-request") or before.get("pull-request") or {}
    branch = after.get("release-branch") or {}
    release = str(pull.get("head") or branch.get("branch") or run.release or "the release")
    pr_url = str(pull.get("url") or "")
    who = run.actor
    found: list[Event] = []

    def add(kind: str, detail: str, next_step: str, rel: str = release, url: str = pr_url) -> None:
        found.append(Event(kind, rel, env, detail, url, who, next_step))

    old_branch = (before.get("release-branch") or {}).get("branch")
    if run.cuts and run.command == "promote" and branch.get("branch") not in (None, old_branch):
        add(
            "cut",
            f"branch {branch.get('branch')}",
            f"checks and approvals on the PR, then `release promote {env}` again",
            rel=str(branch.get("branch")),
        )
    if run.command != "abandon" and _new_merge(before.get("merge"), after.get("merge")):
        commit = str((after.get("merge") or {}).get("merge_commit"))
        add(
            "merged",
            f"merge commit {commit[:12]}",
            f"{env} runs {release}; watch it, then promote the next environment on its day",
        )
    held = _held(after.get("merge"), pull, env) if run.command != "abandon" else None
    if held is not None:
        add("blocked", held, _HELD_NEXT.format(env=env))
    if _new_merge(before.get("rollback-merge"), after.get("rollback-merge")):
        commit = after.get("rollback-commit") or {}
        to = str(commit.get("to_release") or "an earlier release")
        add(
            "rolled_back",
            f"replacing {commit.get('from_release') or 'the release'}",
            f"{env} runs {to} again; fix on master, then cut or cherry-pick",
            rel=to,
            url=str((after.get("rollback-pull-request") or {}).get("url") or ""),
        )
    back_pull = after.get("rollback-pull-request") or {}
    held = _held(after.get("rollback-merge"), back_pull, env)
    if held is not None:
        to = (after.get("rollback-commit") or {}).get("to_release")
        add(
            "blocked",
            f"rollback: {held}",
            _HELD_NEXT.format(env=env),
            rel=str(to or "an earlier release"),
            url=str(back_pull.get("url") or ""),
        )
    if run.command == "abandon" and run.ok:
        add(
            "abandoned",
            run.reason,
            f"{env} is back on the release before; the next release is cut on its day",
        )
    failed_waves = sorted({wave for wave, _ in run.ppcs_failed.values()})
    started = sorted({w for w in run.ppcs_updated.values()} | set(failed_waves))
    for wave in started:
        names = sorted(n for n, w in run.ppcs_updated.items() if w == wave)
        add(
            "ppc_wave_started",
            f"wave {wave}: {', '.join(names) or 'its PPCs'}",
            "wait for the wave to finish",
        )
    for wave in failed_waves:
        why = "; ".join(f"{n}: {m}" for n, (w, m) in sorted(run.ppcs_failed.items()) if w == wave)
        add(
            "ppc_wave_failed",
            f"wave {wave}: {why}. Later waves did not start",
            f"fix it and run `release promote {env}` again: PPCs already updated are not run again",
        )
    for wave in started:
        if run.ok or (failed_waves and wave < failed_waves[0]):
            add("ppc_wave_done", f"wave {wave}", "the next wave, if any, follows")
    if run.blocked and not run.ok:
        add(
            "blocked",
            "; ".join(plain_reason(r, env) for r in run.blocked),
            f"fix what is listed, then run `release {run.command} {env}` again",
        )
    return found


_HELD_NEXT = "checks and approvals on the PR, then `release promote {env}` again (it merges)"


def _held(merge: Mapping[str, Any] | None, pull: Mapping[str, Any], environment: str) -> str | None:
    """Why a merge resource is held at its gate, when it records ``gate_state: waiting`` (the
    up succeeded, nothing merged): the pull request's number and the gate's reasons in plain
    words; None when it merged or is not there."""
    if not merge or merge.get("gate_state") != "waiting" or merge.get("merged"):
        return None
    number = merge.get("number") or pull.get("number")
    reasons = "; ".join(plain_reason(str(r), environment) for r in merge.get("waiting") or [])
    where = f"pull request #{number}" if number else "the pull request"
    return f"{where} waits at the merge gate" + (f": {reasons}" if reasons else "")


def _new_merge(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> bool:
    """The merge resource records a merge commit now that it did not record before."""
    commit = (after or {}).get("merge_commit")
    return bool((after or {}).get("merged") and commit) and commit != (before or {}).get(
        "merge_commit"
    )


_EXCEPTION_PREFIX = re.compile(
    r"^(?:error:\s*)?(?:[A-Za-z_][\w.]*)?(?:Error|Exception|GateClosed):\s*"
)


def plain_reason(message: str, environment: str) -> str:
    """A gate's or a check's refusal in plain words: no exception class in front, no "run up
    again" (the reader runs `release promote ENV`). Pure."""
    text = " ".join(message.split())
    while True:
        stripped = _EXCEPTION_PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    text = re.sub(
        r"[Rr]un up again",
        f"run `release promote {environment}` again",
        text,
    )
    return text


def notify(
    webhook_url: str,
    event: str,
    text: str,
    fields: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> bool:
    """Post one event to the webhook. True when it was delivered; never raises.

    On failure it logs a warning naming the event and the cause, never the URL.
    """
    try:
        payload = build_payload(event, text, fields)
    except Exception as error:  # a notification must never stop the caller
        log.warning("notification %r not sent: %s", event, _redact(str(error), webhook_url))
        return False
    return post_message(webhook_url, payload, timeout=timeout, event=event)


def post_message(
    webhook_url: str,
    payload: dict,
    timeout: float = 5.0,
    event: str = "message",
    attempts: int = ATTEMPTS,
    backoff: float | None = None,
) -> bool:
    """POST ``payload`` as JSON, retrying on 5xx/429/connection errors. Never raises.

    ``backoff`` (default :data:`BACKOFF`) is the pause before the second attempt, doubled
    before each later one.
    """
    pause = BACKOFF if backoff is None else backoff
    try:
        scheme = urllib.parse.urlsplit(webhook_url or "").scheme
        if scheme not in ("http", "https"):
            log.warning("notification %r not sent: the webhook URL is not an http(s) URL", event)
            return False
        body = json.dumps(payload).encode()
    except Exception as error:
        log.warning("notification %r not sent: %s", event, _redact(str(error), webhook_url))
        return False

    cause: str | None = "no attempt made"
    wait: float | None = None
    for attempt in range(1, max(attempts, 1) + 1):
        if attempt > 1:
            time.sleep(pause * 2 ** (attempt - 2) if wait is None else wait)
        retry, cause, wait = _attempt(webhook_url, body, timeout)
        if cause is None:
            return True
        if not retry:
            break
    log.warning(
        "notification %r not delivered after %d attempt(s): %s",
        event,
        attempt,
        _redact(cause or "", webhook_url),
    )
    return False


def retry_after(value: str | None, cap: float | None = None) -> float | None:
    """The pause a 429's ``Retry-After`` asks for (seconds; an HTTP date is not honoured),
    capped at :data:`RETRY_AFTER_CAP`; None when absent or unreadable (then the backoff
    applies). Pure."""
    limit = RETRY_AFTER_CAP if cap is None else cap
    try:
        seconds = float((value or "").strip())
    except ValueError:
        return None
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return min(seconds, limit)


def _attempt(
    webhook_url: str, body: bytes, timeout: float
) -> tuple[bool, str | None, float | None]:
    """One POST. Returns (worth retrying, cause of failure or None on success, the pause a
    429 asked for or None)."""
    request = urllib.request.Request(
        webhook_url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return False, None, None
    except urllib.error.HTTPError as error:
        wait = retry_after(error.headers.get("Retry-After")) if error.code == 429 else None
        reply = _read_reply(error)
        cause = f"HTTP {error.code}" + (f" ({reply})" if reply else "")
        return error.code in RETRY_STATUSES, cause, wait
    except urllib.error.URLError as error:
        return True, f"connection failed: {error.reason}", None
    except (TimeoutError, ConnectionError) as error:
        return True, f"connection failed: {type(error).__name__}: {error}", None
    except Exception as error:  # e.g. a malformed URL; not worth retrying
        return False, f"{type(error).__name__}: {error}", None


def _read_reply(error: urllib.error.HTTPError) -> str:
    """The start of an error response's body (Slack says e.g. 'invalid_token' there)."""
    try:
        return error.read(200).decode("utf-8", "replace").strip()
    except Exception:
        return ""
    finally:
        error.close()


def _redact(message: str, webhook_url: str) -> str:
    """Remove the webhook URL, and its secret path and query, from a message."""
    if not webhook_url:
        return message
    secrets = {webhook_url}
    try:
        parts = urllib.parse.urlsplit(webhook_url)
        secrets |= {parts.path, parts.query, urllib.parse.unquote(parts.path)}
    except ValueError:
        pass
    for secret in sorted((s for s in secrets if len(s) > 1), key=len, reverse=True):
        message = message.replace(secret, "<webhook>")
    return message


def _event(event: str) -> tuple[str, str]:
    try:
        return EVENTS[event]
    except KeyError:
        raise ValueError(
            f"unknown notification event {event!r}; expected one of {', '.join(EVENTS)}"
        ) from None
