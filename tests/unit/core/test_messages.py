"""Every error code the service can answer has a message in zh-CN and en; the catalogue is well formed.

The codes are found dynamically: every module of the product packages named in pyproject.toml is imported and
every ``CallguardError`` subclass is collected, and the sources are scanned for ``code=`` / ``code = "..."``
literals at raise sites (a code another engineer adds shows up here without anyone listing it).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import tomllib
from pathlib import Path
from typing import get_args

import pytest

from compliance.decision import BlockCode
from core.errors import CallguardError
from core.i18n import fill, negotiate, placeholders, render
from core.messages import CATALOGUE, LANGUAGES, RULES, WORDS, Text

ROOT = Path(__file__).resolve().parents[3]
# an import that may fail: the optional GPL extra, loaded only by the phones process
OPTIONAL = {"pjsua2"}
_CODE_LITERAL = re.compile(r"""\bcode\s*(?::\s*str\s*)?=\s*(?:[\w.]+\s+or\s+)?["']([a-z0-9][a-z0-9_-]*)["']""")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def product_packages() -> list[str]:
    """The top-level packages pyproject.toml ships (``include = ["api*", ...]``)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(p.rstrip("*") for p in patterns)


def import_everything() -> list[str]:
    """Import every module of every product package (scripts' ``__main__`` excepted); their names."""
    names: list[str] = []
    for package in product_packages():
        pkg = importlib.import_module(package)
        names.append(package)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
            if info.name.rsplit(".", 1)[-1] == "__main__":
                continue  # runs its command when imported
            try:
                importlib.import_module(info.name)
            except ModuleNotFoundError as exc:
                if exc.name not in OPTIONAL:
                    raise
                continue
            names.append(info.name)
    return names


def error_classes() -> set[type[CallguardError]]:
    """CallguardError and every subclass, transitively."""
    seen: set[type[CallguardError]] = set()
    todo: list[type[CallguardError]] = [CallguardError]
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.add(cls)
            todo.extend(cls.__subclasses__())
    return seen


def source_codes() -> dict[str, str]:
    """Every ``code`` literal in the product sources -> one place it appears."""
    found: dict[str, str] = {}
    for package in product_packages():
        for path in sorted((ROOT / package).rglob("*.py")):
            if "versions" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            for m in _CODE_LITERAL.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                found.setdefault(m.group(1), f"{path.relative_to(ROOT)}:{line}")
    return found


def all_codes() -> dict[str, str]:
    """Every error code the service can answer -> where it comes from."""
    import_everything()
    codes = {c.code: f"{c.__module__}.{c.__qualname__}" for c in error_classes()}
    codes.update({c: "compliance.decision.BlockCode" for c in get_args(BlockCode)})
    for code, where in source_codes().items():
        codes.setdefault(code, where)
    return codes


def test_the_scan_finds_the_codes_it_must() -> None:
    codes = all_codes()
    modules = import_everything()
    # a scan that silently found nothing would pass everything: check it reaches every corner
    assert {"api.middleware", "compliance.rules", "recordings.storage.s3", "auth.throttle"} <= set(modules)
    assert {"internal-error", "no-such-call", "outside-calling-hours", "case-paid", "blocked", "no-such-route",
            "body-too-large", "rate-limited", "case-import-unsafe-xml", "retention-active"} <= set(codes)
    assert len(codes) > 80


def test_every_error_code_has_a_message_in_zh_cn_and_en() -> None:
    missing = {code: where for code, where in all_codes().items()
               if not CATALOGUE.get(code) or not all(t.zh.strip() and t.en.strip() for t in CATALOGUE[code])}
    assert not missing, f"codes without a zh-CN and an en message in core/messages.py: {missing}"


def _texts() -> list[tuple[str, Text]]:
    return ([(code, t) for code, texts in CATALOGUE.items() for t in texts]
            + [(f"RULES[{k}]", t) for k, t in RULES.items()] + [(f"WORDS[{k}]", t) for k, t in WORDS.items()])


@pytest.mark.parametrize(("name", "text"), _texts(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_text_is_chinese_and_english_with_the_same_placeholders(name: str, text: Text) -> None:
    assert _CJK.search(text.zh), f"{name}: the zh-CN text has no Chinese: {text.zh!r}"
    assert not _CJK.search(text.en), f"{name}: the en text has Chinese: {text.en!r}"
    assert sorted(placeholders(text.zh)) == sorted(placeholders(text.en)), name
    assert all(p.isidentifier() for p in placeholders(text.zh)), name


def test_the_last_text_of_each_code_needs_no_details() -> None:
    for code, texts in CATALOGUE.items():
        assert not placeholders(texts[-1].zh), f"{code}: its last text must work with no details"


def test_placeholders_are_filled_from_details_and_fall_back_without_them() -> None:
    assert render("no-such-call", {"call_id": "c-1"}, "zh-CN") == "通话 c-1 不存在。"
    assert render("no-such-call", {}, "zh-CN") == "通话不存在。"
    assert render("no-such-call", {"call_id": {"nested": 1}}, "en") == "No such call."
    assert render("upstream-unavailable", {"upstream": "database"}, "zh-CN") == "数据库暂时不可用，请稍后重试。"
    assert render("validation-failed", {"fields": ["agent", "number"]}, "zh-CN") == \
        "请求中以下字段无效：agent、number。"
    assert render("validation-failed", {"fields": ["agent", "number"]}, "en") == \
        "The request has invalid fields: agent, number."
    assert render("rate-limited", {"retry_after_s": 3}, "zh-CN") == "请求过于频繁，请在 3 秒后重试。"
    assert render("a-code-nobody-wrote", {}, "en") == "The request failed (a-code-nobody-wrote)."
    assert fill("{x}", {"x": "y" * 500}, "en") == "y" * 200 + "…"


def test_an_error_carries_both_languages_and_keeps_the_raise_sites_english() -> None:
    err = CallguardError("no call c-9 (it was never made)", code="no-such-call", status=404,
                         details={"call_id": "c-9"})
    body = err.to_body("zh-CN")["error"]
    assert body["message"] == "通话 c-9 不存在。"
    assert body["messages"] == {"zh-CN": "通话 c-9 不存在。", "en": "no call c-9 (it was never made)"}
    assert err.to_body("en")["error"]["message"] == "no call c-9 (it was never made)"
    bare = CallguardError(code="rate-limited", status=429, details={"retry_after_s": 2})
    assert bare.message == "Too many requests; retry in 2 s." and str(bare) == bare.message
    assert set(bare.messages()) == set(LANGUAGES)


@pytest.mark.parametrize(("header", "expected"), [
    ("en", "en"), ("en-US,en;q=0.9", "en"), ("zh-CN", "zh-CN"), ("zh", "zh-CN"), ("zh-Hans-CN", "zh-CN"),
    ("ZH-cn", "zh-CN"), (None, "zh-CN"), ("", "zh-CN"), ("*", "zh-CN"), ("fr-FR", "zh-CN"),
    ("fr, en;q=0.5", "en"), ("zh;q=0.4, en;q=0.8", "en"), ("en;q=0, zh", "zh-CN"), ("en;q=0", "zh-CN"),
    ("en;q=abc, zh;q=0.1", "zh-CN"), (";;;,,,=q", "zh-CN"), ("\x00\xff garbage;q=2", "zh-CN"),
    ("en, zh", "en"), ("zh, en", "zh-CN"),
])
def test_accept_language_negotiation(header: str | None, expected: str) -> None:
    assert negotiate(header, "zh-CN") == expected


def test_the_default_language_is_configurable() -> None:
    assert negotiate(None, "en") == "en"
    assert negotiate("fr", "en") == "en"
    assert negotiate("*", "en") == "en"
    assert negotiate("zh", "en") == "zh-CN"
