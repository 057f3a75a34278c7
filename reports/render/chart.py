"""The statement's chart: the month per fund — settlements, adjustments, reversals and the net —
as one ReportLab Drawing, drawn into the PDF and as SVG into the HTML.

Amounts become floats here only to place bars; every printed amount is the exact Decimal.
"""

from __future__ import annotations

import re

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.lib import colors

from ..statement import Statement

SERIES = (
    ("settlement", "结算 settlements", colors.HexColor("#4a7ab8")),
    ("adjustment", "调整 adjustments", colors.HexColor("#e0a030")),
    ("reversal", "撤销 reversals", colors.HexColor("#c8463c")),
    ("net", "应付净额 net payable", colors.HexColor("#2f7d4f")),
)


def _axis_label(value: float) -> str:
    return f"{value:,.0f}"


def statement_chart(statement: Statement, font: str, width: float = 500, height: float = 220) -> Drawing:
    """Grouped bars per fund (region, code and name) for the statement's month."""
    drawing = Drawing(width, height)
    rows = statement.fund_codes
    title = f"{statement.month} 各基金本月金额（各统筹区合计） the month per fund, all regions (元 yuan)"
    drawing.add(String(0, height - 12, title, fontName=font, fontSize=10))
    if not rows:
        drawing.add(
            String(
                width / 2,
                height / 2,
                "本月无记录 no records this month",
                fontName=font,
                fontSize=10,
                textAnchor="middle",
                fillColor=colors.grey,
            )
        )
        return drawing
    data = []
    for kind, _, _ in SERIES:
        amounts = [row.net if kind == "net" else row.kinds[kind].amount for row in rows]
        data.append([float(a) for a in amounts])
    chart = VerticalBarChart()
    chart.x, chart.y = 60, 58
    chart.width, chart.height = width - 75, height - 105
    chart.data = data
    chart.groupSpacing = 8
    chart.barSpacing = 1
    for index, (_, _, colour) in enumerate(SERIES):
        chart.bars[index].fillColor = colour
        chart.bars[index].strokeColor = None
    low = min(0.0, *(v for series in data for v in series))
    high = max(0.0, *(v for series in data for v in series))
    chart.valueAxis.valueMin = low * 1.1 if low < 0 else 0
    chart.valueAxis.valueMax = high * 1.1 if high > 0 else 1
    chart.valueAxis.labelTextFormat = _axis_label
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.strokeColor = colors.grey
    chart.valueAxis.gridStrokeColor = colors.HexColor("#dddddd")
    chart.valueAxis.visibleGrid = True
    chart.categoryAxis.categoryNames = [f"{row.fund_pay_type}\n{_short(row.fund_name)}" for row in rows]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.boxAnchor = "n"
    chart.categoryAxis.labels.dy = -4
    chart.categoryAxis.visibleTicks = False
    chart.categoryAxis.strokeColor = colors.grey
    chart.categoryAxis.joinAxisMode = "bottom"
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = 60, height - 26
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.fontName = font
    legend.fontSize = 8
    legend.dx = legend.dy = 7
    legend.deltax = 110
    legend.colorNamePairs = [(colour, label) for _, label, colour in SERIES]
    drawing.add(legend)
    if low < 0:  # the zero line, where bars below it begin
        zero = chart.y + chart.height * (0 - chart.valueAxis.valueMin) / (
            chart.valueAxis.valueMax - chart.valueAxis.valueMin
        )
        drawing.add(Line(chart.x, zero, chart.x + chart.width, zero, strokeColor=colors.black, strokeWidth=0.5))
    return drawing


def _short(name: str, most: int = 12) -> str:
    return name if len(name) <= most else name[: most - 1] + "…"


def as_svg(drawing: Drawing, font: str) -> str:
    """The drawing as inline SVG for the HTML, its text in the page's own font."""
    from reportlab.graphics import renderSVG

    svg = renderSVG.drawToString(drawing)
    svg = svg[svg.find("<svg") :]  # no XML declaration or doctype inside HTML
    return re.sub(
        rf"font-family:\s*{re.escape(font)}",
        "font-family: 'Noto Sans CJK SC','Microsoft YaHei','PingFang SC','WenQuanYi Micro Hei',sans-serif",
        svg,
    )
