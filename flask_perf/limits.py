"""Caps on everything a request can make flask_perf store.

Everything a request sends — headers, query and form fields, the body, the path, the
``X-Loadtest-Run`` label — is attacker text of any size. Before it reaches a store it
goes through ``Caps`` (keys in config.py): each string at most PERF_MAX_FIELD_CHARS,
each mapping or list at most PERF_MAX_FIELDS entries, JSON nesting at most
PERF_MAX_DEPTH, a raw body at most PERF_MAX_BODY_CHARS, one serialised record at most
PERF_MAX_RECORD_CHARS. What is cut says so: ``…[truncated N chars]``,
``[N more fields truncated]``. ``run_label`` accepts the load-test label only as a
short token (``RUN_LABEL``); anything else is no group. The request-body limit itself
is body_limit.py's.
"""
import json
import re
from dataclasses import dataclass, replace

RUN_LABEL = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MORE_FIELDS_KEY = "…"


def truncated(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked when something was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[truncated {len(text) - limit} chars]"


@dataclass(frozen=True)
class Caps:
    field_chars: int = 512
    fields: int = 50
    depth: int = 8
    body_chars: int = 2048
    record_chars: int = 16_384

    @classmethod
    def of(cls, config) -> "Caps":
        return cls(int(config.get("PERF_MAX_FIELD_CHARS", cls.field_chars)),
                   int(config.get("PERF_MAX_FIELDS", cls.fields)),
                   int(config.get("PERF_MAX_DEPTH", cls.depth)),
                   int(config.get("PERF_MAX_BODY_CHARS", cls.body_chars)),
                   int(config.get("PERF_MAX_RECORD_CHARS", cls.record_chars)))

    def text(self, value) -> str:
        if isinstance(value, bytes):
            value = value[:self.field_chars * 4].decode("utf-8", "replace")
        return truncated(value if isinstance(value, str) else str(value), self.field_chars)

    def tree(self, value, depth: int = 0):
        """A JSON-able copy of ``value`` within the caps (dicts, lists, strings)."""
        if value is None or isinstance(value, (bool, int, float)):
            return value if not isinstance(value, int) or abs(value) < 10**18 else \
                f"[integer of {value.bit_length()} bits]"  # str() refuses over 4,300 digits
        if depth >= self.depth and isinstance(value, (dict, list, tuple)):
            return f"[truncated: nested deeper than {self.depth}]"
        if isinstance(value, dict):
            return self.mapping(value.items(), depth)
        if isinstance(value, (list, tuple)):
            kept = [self.tree(v, depth + 1) for v in value[:self.fields]]
            if len(value) > self.fields:
                kept.append(f"[{len(value) - self.fields} more items truncated]")
            return kept
        return self.text(value)

    def mapping(self, items, depth: int = 0) -> dict:
        """At most ``fields`` pairs of ``items``, keys and values capped."""
        kept, extra = {}, 0
        for key, value in items:
            if len(kept) >= self.fields:
                extra += 1
                continue
            kept[self.text(key)] = self.tree(value, depth + 1)
        if extra:
            kept[MORE_FIELDS_KEY] = f"[{extra} more fields truncated]"
        return kept

    def record(self, record: dict, sections) -> dict:
        """``record`` within ``record_chars`` serialised: the ``sections`` share what the
        rest leaves, the smallest kept whole first; a larger one keeps its first entries."""
        if _size(record) <= self.record_chars:
            return record
        names = sorted((n for n in sections if record.get(n)), key=lambda n: _size(record[n]))
        budget = self.record_chars - _size({k: v for k, v in record.items() if k not in names})
        for index, name in enumerate(names):
            share = max(0, budget // (len(names) - index))
            record[name] = _shrink(record[name], share)
            budget -= _size(record[name])
        return record


def _size(value) -> int:
    return len(json.dumps(value, default=str))


def _shrink(value, limit: int):
    """``value`` (a dict or a string) cut to about ``limit`` serialised characters."""
    size = _size(value)
    if size <= limit:
        return value
    if isinstance(value, dict):
        earlier = re.match(r"\[(\d+) more", str(value.get(MORE_FIELDS_KEY, "")))
        entries = [(k, v) for k, v in value.items() if k != MORE_FIELDS_KEY]
        kept, used = {}, 40  # room for the marker entry
        for key, item in entries:
            used += _size({key: item})
            if used > limit:
                break
            kept[key] = item
        dropped = len(entries) - len(kept) + (int(earlier.group(1)) if earlier else 0)
        kept[MORE_FIELDS_KEY] = f"[{dropped} more fields truncated]"
        return kept
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return truncated(text, max(0, limit - 40))


def run_label(value) -> str | None:
    """The load-test run label if ``value`` is a valid one (``RUN_LABEL``), else None."""
    if isinstance(value, str) and RUN_LABEL.fullmatch(value):
        return value
    return None


def within_record(caps: Caps, value):
    """A JSON-able copy of ``value`` as one record of its own (a statement's parameters):
    strings capped like ``Caps.text``, nesting like ``Caps.tree``, and any number of
    entries while the whole stays within ``record_chars`` serialised; past that a list
    keeps its first items and a dict its first entries, with a marker counting the rest."""
    kept = replace(caps, fields=caps.record_chars).tree(value)
    return kept if _size(kept) <= caps.record_chars else _shrink_any(kept, caps.record_chars)


def _shrink_any(value, limit: int):
    """``value`` (a list, dict or string from ``Caps.tree``) cut to about ``limit`` serialised
    characters; a list whose first item alone is too large keeps that item, shrunk."""
    if not isinstance(value, list) or _size(value) <= limit:
        return _shrink(value, limit)
    kept, used = [], 40  # room for the marker item
    for item in value:
        size = _size(item) + 2
        if used + size > limit:
            if not kept:
                kept.append(_shrink_any(item, limit - used))
            break
        kept.append(item)
        used += size
    if len(kept) < len(value):
        kept.append(f"[{len(value) - len(kept)} more items truncated]")
    return kept
