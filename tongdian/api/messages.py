"""Messages in the interface's language: Chinese on the pages, English where the query was.

The core and the JSON API speak English to programs ("the query is empty…", chat tools and
clients match on it); a consultant reading the page should get the same message in
Chinese, or in English when they wrote in English. Known messages are translated by
pattern; anything else is shown as it is (it is escaped by the template either way).
"""

from __future__ import annotations

import re

from tongdian.core.config import MAX_K, MAX_NOTE_CHARS

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")

#: (pattern on the English message, Chinese template using its groups)
_ZH: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^the query is empty"), "没有输入内容：请用一两句话描述银行遇到的具体问题。"),
    (re.compile(r"^the query must be text"), "查询内容必须是文字。"),
    (re.compile(r"^the query is (\d+) characters long; the maximum is (\d+)"),
     "这段文字共 {0} 字，超过了上限 {1} 字。请删去与问题无关的部分再提交"
     f"（较长的会谈纪要请用“逐段分析”，上限 {MAX_NOTE_CHARS} 字）。"),
    (re.compile(r"^k must be a whole number"), f"结果数 k 必须是 1 到 {MAX_K} 之间的整数。"),
    (re.compile(r"^not found: pain point '([^']*)'"), "没有这个痛点：“{0}”。痛点编号为 P01 至 P20。"),
    (re.compile(r"^not found: (.*)$"), "页面不存在：{0}"),
    (re.compile(r"^malformed JSON body"), "请求内容不是合法的 JSON。"),
    (re.compile(r"^invalid request(?: body)?: (.*)$"), "请求参数有误：{0}"),
    (re.compile(r"^unknown (technology|risk) '([^']*)'"), "没有这个筛选条件：“{1}”。"),
    (re.compile(r"^request body too large"), "提交的内容太大。"),
]


def is_english(text: str | None) -> bool:
    """A query written in English: Latin words and no Chinese characters."""
    return bool(text) and not _CJK.search(text or "") and bool(_LATIN_WORD.search(text or ""))


def page_message(message: str, query: str | None = None) -> str:
    """``message`` in the page's language: English for an English query, else Chinese."""
    if is_english(query):
        return message
    for pattern, zh in _ZH:
        m = pattern.match(message)
        if m:
            return zh.format(*m.groups())
    return message
