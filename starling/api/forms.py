"""One parser for every request's parameters.

Mastodon clients send the same parameters as a query string, form-encoded or multipart
bodies, or JSON; lists arrive as `key[]`, objects as `key[sub]` and booleans as
'1'/'0'/'true'/'false'. All of it is merged into one dict (body over query) and validated
by the endpoint's pydantic model, whose failures become 422 {"error": ...}.
See docs/subsystems/api.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ConfigDict, ValidationError

from starling.api.errors import ApiError, describe
from starling.errors import NotFound

Params = dict[str, Any]
M = TypeVar("M", bound="Form")

NESTED_KEY_RE = re.compile(r"([^\[\]]+)((?:\[[^\[\]]+\])+)")
KEY_PART_RE = re.compile(r"\[([^\[\]]+)\]")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_ID = 2**63 - 1  # ids are signed 64-bit in every store


class Form(BaseModel):
    """Base of endpoint parameter models: unknown keys are ignored, as Mastodon does."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, frozen=True)


def merge_pairs(pairs: Iterable[tuple[str, Any]], into: Params | None = None) -> Params:
    """Folds `key[]` pairs into lists under `key` and `key[sub]` into a dict under `key`
    (Rails' nesting, so `poll[options][]=a` is {"poll": {"options": ["a"]}}, as a JSON body
    says it); a plain key keeps its last value.

    Blank and null values count as not given (clients send `in_reply_to_id=` or
    `"spoiler_text": null` for "none"), so the model's default applies."""
    params: Params = {} if into is None else into
    for key, value in pairs:
        if value is None or value == "":
            continue
        *parents, name = key_path(key.removesuffix("[]"))
        target = params
        for parent in parents:
            if not isinstance(target.get(parent), dict):
                target[parent] = {}
            target = target[parent]
        if key.endswith("[]"):
            existing = target.get(name)
            target[name] = [*existing, value] if isinstance(existing, list) else [value]
        else:
            target[name] = value
    return params


def key_path(key: str) -> list[str]:
    """'poll[options]' is ['poll', 'options']; a key of any other shape is one name."""
    match = NESTED_KEY_RE.fullmatch(key)
    return [key] if match is None else [match[1], *KEY_PART_RE.findall(match[2])]


def _json_object(raw: bytes) -> Params:
    try:
        decoded = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Request body is not valid JSON") from None
    if not isinstance(decoded, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return decoded


async def read_params(request: Request) -> Params:
    """Query parameters overlaid with the body's, whatever its encoding."""
    params = merge_pairs(request.query_params.multi_items())
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        async with request.form() as form:
            # Uploaded files are not supported; only text fields count.
            text_items = ((k, v) for k, v in form.multi_items() if isinstance(v, str))
            return merge_pairs(text_items, params)
    raw = await request.body()
    if content_type.endswith("json") or (not content_type and raw.strip()[:1] == b"{"):
        return merge_pairs(_json_object(raw).items(), params)
    return params


def validate(model: type[M], params: Params) -> M:
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise ApiError(422, describe(exc.errors())) from None


def parsed(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A FastAPI dependency that reads and validates the request into `model`."""

    async def dependency(request: Request) -> M:
        return validate(model, await read_params(request))

    return dependency


def record_id(value: str) -> int:
    """The id of a record named by the client; anything not an id is simply not found."""
    number = parse_uint(value)
    if number is None or not 0 < number <= MAX_ID:
        raise NotFound("Record not found")
    return number


def parse_uint(value: str) -> int | None:
    """Digits only (no sign, spaces or underscores), at most 20 of them; else None."""
    if not value.isascii() or not value.isdigit() or len(value) > 20:
        return None
    return int(value)
