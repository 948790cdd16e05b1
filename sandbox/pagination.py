"""Page slicing and GitHub's `Link` header, as pure functions."""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import urlencode

T = TypeVar("T")


class PageError(ValueError):
    """A page or per_page parameter that is not a positive integer."""


def page_params(params: dict[str, str], default: int = 30, maximum: int = 100) -> tuple[int, int]:
    """(page, per_page) from query parameters, clamped the way GitHub clamps them."""
    try:
        page = int(params.get("page", "1") or "1")
        per_page = int(params.get("per_page", str(default)) or str(default))
    except ValueError as exc:
        raise PageError(str(exc)) from exc
    page = max(page, 1)
    if per_page < 1:
        per_page = default
    return page, min(per_page, maximum)


def slice_page(items: list[T], page: int, per_page: int) -> list[T]:
    start = (page - 1) * per_page
    return items[start : start + per_page]


def last_page(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def link_header(
    url: str, params: dict[str, str], page: int, per_page: int, total: int
) -> str | None:
    """GitHub's Link header (prev, next, last, first) or None when one page holds all."""
    last = last_page(total, per_page)
    if last <= 1:
        return None

    def at(n: int) -> str:
        query = {k: v for k, v in params.items() if k not in ("page", "per_page")}
        query["per_page"] = str(per_page)
        query["page"] = str(n)
        return f"{url}?{urlencode(query)}"

    rels = []
    if page > 1:
        rels.append(f'<{at(min(page - 1, last))}>; rel="prev"')
    if page < last:
        rels.append(f'<{at(page + 1)}>; rel="next"')
        rels.append(f'<{at(last)}>; rel="last"')
    if page > 1:
        rels.append(f'<{at(1)}>; rel="first"')
    return ", ".join(rels) if rels else None
