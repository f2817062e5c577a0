"""The technologies an answer says the text names are ones it really names."""

from __future__ import annotations


def test_traditional_only_alias_needs_its_written_form(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    # 行動 (mobile, Traditional) normalises to 行动 ("action"): a Simplified note's
    # "下一步行动" names no technology
    assert [t.id for t in tiny_engine.search("好资产太难找了，下一步行动是什么").technologies] == []
    named = tiny_engine.search("好資產太難找了，想做行動支付").technologies
    assert "smart_payment" in [t.id for t in named]
    assert "blockchain" in [t.id for t in tiny_engine.search("好资产太难找了，能不能用区块链").technologies]
