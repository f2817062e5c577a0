"""Messages in the interface's language: Chinese on the pages, English where the query was.

The core and the JSON API speak English to programs ("the query is empty…", chat tools and
clients match on it); a consultant reading the page should get the same message in
Chinese, or in English when they wrote in English. Known messages are translated by
pattern; anything else is shown as it is (it is escaped by the template either way).
"""

from __future__ import annotations

import re
from typing import Any

from tongdian.core.config import MAX_K

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")

#: (pattern on the English message, Chinese template using its groups)
_ZH: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^the query is empty"), "没有输入内容：请用一两句话描述银行遇到的具体问题。"),
    (re.compile(r"^the query must be text"), "查询内容必须是文字。"),
    (re.compile(r"^the query is (\d+) characters long; the maximum is (\d+)"),
     "这段文字共 {0} 字，超过了上限 {1} 字。请删去与问题无关的部分（寒暄、参会名单、议程）再提交。"),
    (re.compile(r"^k must be a whole number"), f"结果数 k 必须是 1 到 {MAX_K} 之间的整数。"),
    (re.compile(r"^not found: pain point '([^']*)'"), "没有这个痛点：“{0}”。痛点编号为 P01 至 P20。"),
    (re.compile(r"^not found: (.*)$"), "页面不存在：{0}"),
    (re.compile(r"^malformed JSON body"), "请求内容不是合法的 JSON。"),
    (re.compile(r"^no pain point matches this text"),
     "这段文字没有匹配到任何痛点，没有可以写进简报的内容。请先描述业务上遇到的具体困难。"),
    (re.compile(r"^unknown (technology|risk) '([^']*)'"), "没有这个筛选条件：“{1}”。"),
    (re.compile(r"^request body too large"), "提交的内容太大。"),
]


def is_english(text: str | None) -> bool:
    """A query written in English: Latin words and no Chinese characters."""
    return bool(text) and not _CJK.search(text or "") and bool(_LATIN_WORD.search(text or ""))


#: A library's "see our website" tail (pydantic appends one to every message): a reader of
#: the page needs to know what to fix, not where a library documents its error codes.
_LIBRARY_URL = re.compile(r"\s*\[?For further information visit https?://\S+|\s*https?://errors\.pydantic\.dev\S*")
_INVALID = re.compile(r"^invalid (?:request(?: body)?|feedback|form)\b:?\s*(.*)$", re.DOTALL)

#: Form and query fields by the name a reader sees on the page.
FIELD_ZH = {
    "q": "查询内容", "query": "查询内容", "k": "结果数 k", "key": "短链接编号",
    "correction": "“应该是”一栏", "useful": "“有帮助 / 没帮助”", "shown": "显示过的结果",
    "revision": "知识库版本", "client": "客户名称", "date": "会谈日期", "title": "标题",
    "format": "文件格式", "tech": "技术筛选", "risk": "风险筛选", "body": "提交的内容",
    "message": "修改说明", "text": "正文",
}
#: What a field takes, said after its error so the reader knows what to type instead.
FIELD_HINT = {
    "correction": "请填痛点编号，如 P07；不是银行痛点请填 none",
    "k": f"1 到 {MAX_K} 之间的整数",
    "date": "如 2026-12-01",
}
#: pydantic error types in words.
_TYPE_ZH = {
    "missing": "没有填写", "string_too_long": "太长了", "string_too_short": "不能为空",
    "too_long": "条目太多", "int_parsing": "必须是整数", "int_type": "必须是整数",
    "bool_parsing": "请选择一项", "bool_type": "请选择一项", "literal_error": "不是可选的值",
    "less_than_equal": "超出了允许的范围", "greater_than_equal": "超出了允许的范围",
    "less_than": "超出了允许的范围", "greater_than": "超出了允许的范围",
    "string_pattern_mismatch": "格式不对", "extra_forbidden": "不是这个表单的字段",
    "value_error": "取值不对", "string_type": "必须是文字", "json_invalid": "不是合法的 JSON",
}


def field_name(loc: list[str] | tuple[str, ...] | str) -> str:
    """The page's name for the field at ``loc`` (pydantic's location, e.g. ["body", "k"])."""
    parts = [loc] if isinstance(loc, str) else [str(p) for p in loc]
    names = [p for p in parts if p not in ("body", "query", "path") or len(parts) == 1]
    key = (names or parts or ["body"])[-1]
    return FIELD_ZH.get(key, key)


def _spaced(name: str) -> str:
    """A field name that ends in Latin ("结果数 k") gets a space before the Chinese after it."""
    return f"{name} " if name[-1:].isascii() and name[-1:].isalnum() else name


def field_errors(detail: Any) -> list[str]:
    """Each field error of a 422 as a Chinese sentence naming the field ("客户名称太长了")."""
    if not isinstance(detail, list):
        return []
    out = []
    for e in detail:
        if not isinstance(e, dict):
            continue
        loc = e.get("loc") or ["body"]
        name = field_name(loc)
        what = _TYPE_ZH.get(str(e.get("type", "")), "取值不对")
        hint = FIELD_HINT.get(str(loc[-1]) if isinstance(loc, list | tuple) else str(loc))
        line = f"{_spaced(name)}{what}" + (f"（{hint}）" if hint else "")
        if line not in out:
            out.append(line)
    return out


def _invalid_zh(rest: str, detail: Any) -> str:
    """An "invalid …" message in Chinese: the fields from ``detail`` when it has them, else
    the field names the message itself mentions."""
    fields = field_errors(detail)
    if not fields:
        named = [key for key in FIELD_ZH
                 if re.search(rf"(?<![A-Za-z_]){re.escape(key)}(?![A-Za-z_])", rest)]
        fields = [f"{_spaced(FIELD_ZH[k])}取值不对" + (f"（{FIELD_HINT[k]}）" if k in FIELD_HINT else "")
                  for k in named]
    return "提交的内容有误：" + ("；".join(fields) if fields else "请检查填写的内容") + "。"


def page_message(message: str, query: str | None = None, detail: Any = None) -> str:
    """``message`` in the page's language: English for an English query, else Chinese.

    Never a library's URL: pydantic's "For further information visit …" is cut, and an
    "invalid …" message becomes a sentence naming the fields to fix.
    """
    message = _LIBRARY_URL.sub("", message).strip()
    if is_english(query):
        return message
    m = _INVALID.match(message)
    if m:
        return _invalid_zh(m.group(1), detail)
    for pattern, zh in _ZH:
        m = pattern.match(message)
        if m:
            return zh.format(*m.groups())
    return message
