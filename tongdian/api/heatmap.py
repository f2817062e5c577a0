"""The technology × pain-point heat map as inline SVG (no script, no external font).

Labels are escaped before they become SVG text; the page embeds the result as ``Markup``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from urllib.parse import quote

from markupsafe import Markup, escape

HEAT = ("#f1f4f8", "#a9cce3", "#4a90c2", "#1b5e96")  # 0, 1, 2, 3+ approaches


def _text_width(text: str, size: float) -> float:
    """Rough rendered width: CJK and full-width glyphs are ~1 em, others ~0.6 em."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else 0.6 * size for ch in text)


def heatmap_svg(
    rows: Sequence[tuple[str, str]],
    columns: Sequence[tuple[str, str]],
    cells: Sequence[Sequence[int]],
    cell: int = 30,
    font: int = 13,
) -> Markup:
    """Pain points × technologies as an SVG grid; every cell links to its pain point.

    ``rows`` are ``(id, title)``, ``columns`` ``(id, name)``. It is a picture a consultant
    can read without JavaScript: colour says how many approaches of the pain point use the
    technology, hovering shows a native tooltip (``<title>``), clicking opens the page.
    Label space is measured from the labels, so long titles are never clipped.
    """
    n_r, n_c = len(rows), len(columns)
    angle = 60
    longest_col = max((_text_width(n, font) for _, n in columns), default=0.0)
    row_label_width = round(max((_text_width(f"{r} {t}", font) for r, t in rows), default=0) + 20)
    header_height = round(longest_col * 0.87 + 24)  # sin 60°
    right_pad = round(longest_col * 0.5 + 8)  # cos 60°: the last label leans right
    width = row_label_width + n_c * cell + right_pad
    height = header_height + n_r * cell + 64
    e = escape
    out: list[str] = [
        f'<svg class="heatmap" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="group" '
        f'aria-labelledby="hm-title"><title id="hm-title">痛点 × 科技 热力图</title>'
    ]
    for j, (cid, name) in enumerate(columns):
        x = row_label_width + j * cell + cell / 2 + 4
        y = header_height - 8
        out.append(
            f'<a href="/?tech={quote(cid)}"><text class="hm-col" x="{x}" y="{y}" '
            f'transform="rotate(-{angle} {x} {y})">{e(name)}</text></a>'
        )
    for i, (rid, title) in enumerate(rows):
        y = header_height + i * cell
        href = f"/p/{quote(rid)}"
        out.append(
            f'<a href="{href}"><text class="hm-row" x="{row_label_width - 10}" '
            f'y="{y + cell / 2 + font * 0.38:.1f}" text-anchor="end">'
            f'<tspan class="hm-id">{e(rid)}</tspan> {e(title)}</text></a>'
        )
        for j, (_cid, name) in enumerate(columns):
            v = int(cells[i][j])
            fill = HEAT[min(v, len(HEAT) - 1)]
            x = row_label_width + j * cell
            tip = f"{rid} {title} × {name}：{v} 条应对思路" if v else f"{rid} {title} × {name}：无"
            out.append(
                f'<a href="{href}"><rect class="hm-cell{" hm-on" if v else ""}" x="{x + 1}" '
                f'y="{y + 1}" width="{cell - 2}" height="{cell - 2}" rx="4" fill="{fill}">'
                f"<title>{e(tip)}</title></rect></a>"
            )
    # column totals and legend
    y_tot = header_height + n_r * cell + 18
    out.append(f'<text class="hm-row" x="{row_label_width - 10}" y="{y_tot}" '
               f'text-anchor="end">涉及痛点数</text>')
    for j in range(n_c):
        total = sum(1 for i in range(n_r) if cells[i][j])
        x = row_label_width + j * cell + cell / 2
        out.append(
            f'<text class="hm-total" x="{x}" y="{y_tot}" text-anchor="middle">{total}</text>'
        )
    y_leg = y_tot + 30
    labels = ("未涉及", "1 条思路", "2 条", "3 条及以上")
    for k, (fill, lab) in enumerate(zip(HEAT, labels, strict=True)):
        x = row_label_width + k * 110
        out.append(f'<rect x="{x}" y="{y_leg - 12}" width="14" height="14" rx="3" fill="{fill}" '
                   f'class="hm-legend"/><text class="hm-leg" x="{x + 20}" y="{y_leg}">{lab}</text>')
    out.append("</svg>")
    return Markup("".join(out))
