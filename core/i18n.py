"""Languages of an answer: Accept-Language negotiation, and the catalogue's sentences filled from details.

The words are in ``core.messages``; this module only chooses among them and fills them in.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any, cast

from core.messages import CATALOGUE, DEFAULT_LANGUAGE, RULES, WORDS, Language, Text

_MAX_VALUE_CHARS = 200
_MAX_LIST_ITEMS = 20

_FALLBACK = Text("请求未能完成（{code}）。", "The request failed ({code}).")
_FORMATTER = string.Formatter()


def negotiate(header: str | None, default: Language = DEFAULT_LANGUAGE) -> Language:
    """The language of an answer from an ``Accept-Language`` header (RFC 9110 q-values; ``default`` otherwise).

    Any ``zh`` tag (zh, zh-CN, zh-Hans, ...) is zh-CN, any ``en`` tag is en, ``*`` is ``default``; a missing,
    empty or garbage header is ``default``; among equal weights the first listed wins.
    """
    if not header:
        return default
    best: Language | None = None
    best_q = 0.0
    for part in header[:1024].split(",")[:32]:
        tag, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = -1.0
        if not 0 < q <= 1:
            continue
        language = _language_of(tag.lower(), default)
        if language is not None and q > best_q:
            best, best_q = language, q
    return best or default


def _language_of(tag: str, default: Language) -> Language | None:
    if tag == "*":
        return default
    primary = tag.split("-", 1)[0]
    if primary == "zh":
        return "zh-CN"
    if primary == "en":
        return "en"
    return None


def render(code: str, details: Mapping[str, Any], language: Language) -> str:
    """The catalogue's message for ``code`` in ``language``, filled from ``details``."""
    for text in CATALOGUE.get(code, ()):
        filled = fill(text.get(language), details, language)
        if filled is not None:
            return filled
    return fill(_FALLBACK.get(language), {"code": code}, language) or code


def rule_text(key: str, params: Mapping[str, Any], language: Language) -> str | None:
    """A gate rule's explanation (``RULES[key]``) filled from ``params``; None without the key or a value."""
    text = RULES.get(key)
    return None if text is None else fill(text.get(language), params, language)


def word(key: str, value: Any, language: Language) -> str:
    """``value`` of details key ``key`` as shown in ``language`` (``WORDS``, else its text)."""
    text = WORDS.get(f"{key}:{value}")
    return text.get(language) if text is not None else str(value)


def placeholders(template: str) -> list[str]:
    """The ``{names}`` in ``template``."""
    return [name for _, name, _, _ in _FORMATTER.parse(template) if name is not None]


def fill(template: str, values: Mapping[str, Any], language: Language) -> str | None:
    """``template`` with every placeholder shown from ``values``; None when one has no showable value."""
    shown: dict[str, str] = {}
    for name in placeholders(template):
        value = _show(name, values.get(name), language)
        if value is None:
            return None
        shown[name] = value
    return template.format_map(shown)


def _show(key: str, value: Any, language: Language) -> str | None:
    """A details value as text: scalars (through ``WORDS``) and lists of them; None for anything else."""
    if value is None or value == "" or isinstance(value, dict):
        return None
    if isinstance(value, list | tuple):
        items = [_show(key, v, language) for v in cast(list[Any], value)[:_MAX_LIST_ITEMS]]
        if not items or any(i is None for i in items):
            return None
        joined = ("、" if language == "zh-CN" else ", ").join(cast(list[str], items))
        return joined + ("…" if len(value) > _MAX_LIST_ITEMS else "")
    if isinstance(value, bool):
        return {"zh-CN": "是" if value else "否", "en": "yes" if value else "no"}[language]
    text = word(key, value, language)
    return text if len(text) <= _MAX_VALUE_CHARS else text[:_MAX_VALUE_CHARS] + "…"
