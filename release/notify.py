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
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

from release.rules.text import slack

log = logging.getLogger(__name__)

EVENTS: dict[str, tuple[str, str]] = {
    # event: (emoji, headline template)
    "cut": (":scissors:", "Release {release} cut for {environment}"),
    "merged": (":white_check_mark:", "Release {release} merged into {environment}"),
    "blocked": (":no_entry:", "Release {release} blocked on {environment}"),
    "rolled_back": (":rewind:", "{environment} rolled back to {release}"),
    "ppc_wave_failed": (":rotating_light:", "PPC wave failed for {release} on {environment}"),
}

# Slack's documented limits for a section block.
MAX_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD = 2000

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 3
BACKOFF = 0.25  # seconds before the 2nd attempt, doubled before each later one

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


def format_message(event: str, release: str, environment: str, detail: str = "") -> dict:
    """The webhook body for one train event, e.g. ``format_message("merged", "release/2024-05-02",
    "staging", "merge commit abc1234")``. Pure; raises ValueError for an unknown event."""
    _, template = _event(event)
    text = template.format(release=release, environment=environment)
    fields = {"release": release, "environment": environment}
    if detail:
        fields["detail"] = detail
    return build_payload(event, text, fields)


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

    cause = "no attempt made"
    for attempt in range(1, max(attempts, 1) + 1):
        if attempt > 1:
            time.sleep(pause * 2 ** (attempt - 2))
        retry, cause = _attempt(webhook_url, body, timeout)
        if cause is None:
            return True
        if not retry:
            break
    log.warning(
        "notification %r not delivered after %d attempt(s): %s",
        event,
        attempt,
        _redact(cause, webhook_url),
    )
    return False


def _attempt(webhook_url: str, body: bytes, timeout: float) -> tuple[bool, str | None]:
    """One POST. Returns (worth retrying, cause of failure or None on success)."""
    request = urllib.request.Request(
        webhook_url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return False, None
    except urllib.error.HTTPError as error:
        reply = _read_reply(error)
        cause = f"HTTP {error.code}" + (f" ({reply})" if reply else "")
        return error.code in RETRY_STATUSES, cause
    except urllib.error.URLError as error:
        return True, f"connection failed: {error.reason}"
    except (TimeoutError, ConnectionError) as error:
        return True, f"connection failed: {type(error).__name__}: {error}"
    except Exception as error:  # e.g. a malformed URL; not worth retrying
        return False, f"{type(error).__name__}: {error}"


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
