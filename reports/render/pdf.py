"""PDF: the monthly statement (A4 landscape, its chart on the first page) and the patient's slip
(one A4 page), set with ReportLab in a font with Chinese glyphs (fonts.py), English beside."""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .. import labels
from ..slip import Slip, slip_facts
from ..statement import Section, Statement
from .chart import statement_chart
from .fonts import pdf_font

INK = colors.HexColor("#1d2630")
MUTED = colors.HexColor("#5b6670")
RULE = colors.HexColor("#b9c2cb")
HEAD = colors.HexColor("#e8eef4")
ACCENT = colors.HexColor("#2f5d8a")


def yuan(value: Decimal | None) -> str:
    """An amount as printed: thousands separated, two decimals; — for none."""
    return "—" if value is None else f"{value:,.2f}"


def signed(value: Decimal) -> str:
    return f"{value:+,.2f}" if value else "0.00"


class Styles:
    def __init__(self, font: str, scale: float = 1.0) -> None:
        s = lambda size: size * scale  # noqa: E731
        self.title = ParagraphStyle("title", fontName=font, fontSize=s(16), leading=s(20), textColor=INK)
        self.subtitle = ParagraphStyle("subtitle", fontName=font, fontSize=s(8.5), leading=s(11), textColor=MUTED)
        self.h2 = ParagraphStyle(
            "h2", fontName=font, fontSize=s(11), leading=s(14), textColor=ACCENT, spaceBefore=s(6), spaceAfter=s(3)
        )
        self.body = ParagraphStyle("body", fontName=font, fontSize=s(8.5), leading=s(11), textColor=INK)
        self.small = ParagraphStyle("small", fontName=font, fontSize=s(7), leading=s(9), textColor=MUTED)
        self.cell = ParagraphStyle("cell", fontName=font, fontSize=s(8), leading=s(10), textColor=INK)
        self.cell_en = ParagraphStyle("cell_en", fontName=font, fontSize=s(6.5), leading=s(8), textColor=MUTED)
        self.number = ParagraphStyle("number", parent=self.cell, alignment=TA_RIGHT)
        self.big = ParagraphStyle(
            "big", fontName=font, fontSize=s(15), leading=s(19), textColor=INK, alignment=TA_RIGHT
        )
        self.font = font
        self.scale = scale


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _two(zh: str, en: str, st: Styles, number: bool = False) -> list:
    """A cell with the Chinese name above the English one."""
    return [
        _p(zh, st.number if number else st.cell),
        _p(en, ParagraphStyle("en", parent=st.cell_en, alignment=TA_RIGHT if number else 0)),
    ]


def _grid(font: str, header_rows: int = 1, total_row: bool = False, size: float = 8) -> TableStyle:
    style = [
        ("FONT", (0, 0), (-1, -1), font, size),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, header_rows - 1), (-1, header_rows - 1), 0.6, INK),
        ("BACKGROUND", (0, 0), (-1, header_rows - 1), HEAD),
        ("LINEBELOW", (0, header_rows), (-1, -1), 0.25, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if total_row:
        style += [
            ("LINEABOVE", (0, -1), (-1, -1), 0.6, INK),
            ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f4f6f8")),
        ]
    return TableStyle(style)


def _footer(text: str, font: str) -> Callable:
    def draw(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.setFillColor(MUTED)
        canvas.drawString(doc.leftMargin, 10 * mm, text)
        canvas.drawRightString(doc.pagesize[0] - doc.rightMargin, 10 * mm, f"第 {doc.page} 页 page {doc.page}")
        canvas.restoreState()

    return draw


# --- the statement ----------------------------------------------------------------------------------


def _fund_table(section: Section, st: Styles, kinds: tuple[str, ...], width: float) -> Table:
    header = [_two("基金", "fund", st), _two("统筹区", "region", st)]
    for kind in kinds:
        zh, en = labels.KIND[kind]
        header += [_two(f"{zh}笔数", "count", st, True), _two(f"{zh}金额", f"{en}s", st, True)]
    header.append(_two("应付净额", "net payable", st, True))
    rows = [header]
    for row in section.funds:
        rows.append(
            [
                [_p(f"{row.fund_pay_type} {row.fund_name}", st.cell), _p(row.setlinfo_field, st.cell_en)],
                _p(row.region_name, st.cell),
                *[
                    _p(value, st.number)
                    for kind in kinds
                    for value in (str(row.kinds[kind].count), yuan(row.kinds[kind].amount))
                ],
                _p(yuan(row.net), st.number),
            ]
        )
    rows.append(
        [
            _two("合计", "total (counts: records)", st),
            "",
            *[
                _p(value, st.number)
                for kind in kinds
                for value in (
                    str(section.records.get(kind, 0)),
                    yuan(sum((r.kinds[kind].amount for r in section.funds), start=Decimal(0))),
                )
            ],
            _p(yuan(section.net), st.number),
        ]
    )
    fixed = 2 * len(kinds) + 1
    first = width * 0.26
    region = width * 0.10
    rest = (width - first - region) / fixed
    widths = [first, region] + [rest * (0.7 if i % 2 == 0 else 1.3) for i in range(2 * len(kinds))] + [rest]
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(_grid(st.font, total_row=True))
    return table


def _keep(flowable):
    """Kept on the page of what follows it (a heading with its table)."""
    flowable.keepWithNext = True
    return flowable


def _section_summary(section: Section, st: Styles) -> Paragraph:
    counts = " · ".join(f"{labels.KIND[k][0]} {labels.KIND[k][1]} {n}" for k, n in section.records.items() if n)
    return _p(
        f"记录 records: {counts or '0'}；医疗费总额 total bills {yuan(section.medfee_sumamt)}；"
        f"基金支付 funds {yuan(section.fund_pay_sumamt)}；个人负担 patients {yuan(section.psn_part_amt)}",
        st.small,
    )


def statement_pdf(statement: Statement) -> bytes:
    font = pdf_font().name
    st = Styles(font)
    buffer = io.BytesIO()
    page = landscape(A4)
    doc = SimpleDocTemplate(
        buffer,
        pagesize=page,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=12 * mm,
        bottomMargin=16 * mm,
        title=f"医保基金月度清算单 {statement.month}",
        author="onestop",
    )
    width = page[0] - doc.leftMargin - doc.rightMargin
    who = f"医院 hospital {statement.hospital}" if statement.hospital else "全部医院 all hospitals"
    story: list = [
        _p(f"医保基金月度清算单  Monthly clearing statement — {statement.month}", st.title),
        _p(
            f"{who} · 按结算时间（北京时间）计入月份 records by their time, China Standard Time · "
            f"生成于 generated {statement.generated_at:%Y-%m-%d %H:%M} · 金额单位：元 amounts in yuan",
            st.subtitle,
        ),
        Spacer(1, 4 * mm),
    ]
    summary = [
        [
            _two("应付医院净额", "net payable to hospitals", st, True),
            _two("医院数", "hospitals", st, True),
            _two("年终清算付个人", "year-end, paid to persons", st, True),
        ],
        [
            _p(yuan(statement.net), st.big),
            _p(str(len(statement.hospitals)), st.big),
            _p(yuan(statement.year_end_net) if statement.year_end is not None else "—", st.big),
        ],
    ]
    table = Table(summary, colWidths=[width / 3] * 3)
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM"), ("LINEBELOW", (0, 1), (-1, 1), 0.6, INK)]))
    story += [table, Spacer(1, 3 * mm), statement_chart(statement, font, width=width, height=200), Spacer(1, 2 * mm)]
    if statement.empty:
        story.append(_p("本月没有记录。No records this month: nothing to pay.", st.body))
    for section in statement.hospitals:
        name = section.name or ""
        title = (
            f"{section.code} {name}"
            if section.code
            else f"{labels.UNKNOWN_HOSPITAL[0]} {labels.UNKNOWN_HOSPITAL[1]}"
            " — 未注明医院的结算 records naming no hospital"
        )
        story += [
            _keep(_p(title, st.h2)),
            _keep(_section_summary(section, st)),
            _keep(Spacer(1, 1.5 * mm)),
            _fund_table(section, st, ("settlement", "adjustment", "reversal"), width),
        ]
    if statement.year_end is not None and statement.year_end.record_count:
        story += [
            _keep(_p("年终清算（付个人，不付医院） Year-end payments — to persons, not hospitals", st.h2)),
            _keep(_section_summary(statement.year_end, st)),
            _keep(Spacer(1, 1.5 * mm)),
            _fund_table(statement.year_end, st, ("year_end", "adjustment"), width),
        ]
    if statement.premiums is not None and statement.premiums.record_count:
        title = "参保资助（代缴个人缴费，按基金） Premium subsidies — persons' contributions, per fund"
        story += [
            _keep(_p(title, st.h2)),
            _keep(_section_summary(statement.premiums, st)),
            _keep(Spacer(1, 1.5 * mm)),
            _fund_table(statement.premiums, st, ("premium",), width),
        ]
    footer = _footer(f"onestop · 医保基金月度清算单 {statement.month} · 金额单位：元", font)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


# --- the slip -------------------------------------------------------------------------------------


def _slip_story(slip: Slip, st: Styles, width: float) -> list:
    gap = lambda h: Spacer(1, h * mm * st.scale)  # noqa: E731
    story: list = [
        _p("一站式结算单  One-stop settlement slip", st.title),
        _p(f"{slip.region_name} {slip.region_name_en} · {slip.document}", st.subtitle),
        gap(3),
    ]
    info = slip_facts(slip)
    cells = []
    for i in range(0, len(info), 2):
        row = []
        for zh, en, value in info[i : i + 2]:
            row += [_two(zh, en, st), _p(value, st.cell)]
        cells.append(row)
    table = Table(cells, colWidths=[width * 0.14, width * 0.36, width * 0.14, width * 0.36])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    story += [table, gap(3)]

    story.append(_p("费用 The bill", st.h2))
    bill = Table(
        [
            [_two(zh, en, st, True) for _, zh, en in labels.BILL_PARTS],
            [_p(yuan(slip.bill[part]), st.number) for part, _, _ in labels.BILL_PARTS],
        ],
        colWidths=[width / 5] * 5,
    )
    bill.setStyle(_grid(st.font))
    story += [bill, gap(2)]

    story.append(_p("各项基金支付 What each fund paid, and by which rule", st.h2))
    rows = [[_two("基金", "fund", st), _two("支付", "paid", st, True), _two("计算方法", "how it was computed", st)]]
    for fund in slip.funds:
        rows.append(
            [
                [_p(fund.name_zh, st.cell), _p(f"{fund.name_en} · {fund.fund_pay_type}", st.cell_en)],
                _p(yuan(fund.amount), st.number),
                [_p(fund.explanation_zh, st.cell), _p(fund.explanation_en, st.cell_en)],
            ]
        )
    rows.append([_two("基金支付合计", "funds pay", st), _p(yuan(slip.fund_pay_sumamt), st.number), ""])
    table = Table(rows, colWidths=[width * 0.2, width * 0.13, width * 0.67], repeatRows=1)
    table.setStyle(_grid(st.font, total_row=True))
    story += [table, gap(2.5)]

    pays = Table(
        [
            [
                [_p("个人负担", st.body), _p("you pay (medfee_sumamt − funds)", st.cell_en)],
                _p(f"{yuan(slip.psn_part_amt)} 元", st.big),
            ]
        ],
        colWidths=[width * 0.6, width * 0.4],
    )
    pays.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 1.2, ACCENT),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f1f6fb")),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    story += [pays, gap(2)]

    if slip.totals:
        story.append(
            _p(f"{slip.year} 年度累计（截至 {slip.generated_at:%Y-%m-%d}） The year so far, as known now", st.h2)
        )
        rows = [
            [
                _two("账户", "account", st),
                _two("本年累计基数", "yearly base", st, True),
                _two("起付线", "deductible", st, True),
                _two("尚差起付线", "to reach it", st, True),
                _two("本年已支付", "paid this year", st, True),
                _two("年度限额", "annual cap", st, True),
                _two("剩余限额", "cap left", st, True),
            ]
        ]
        for t in slip.totals:
            deductible = "—" if t.deductible is None else yuan(t.deductible) + (" 每次" if t.per_stay else "")
            left = (
                ("每次 per stay" if t.per_stay else "—")
                if t.deductible_left is None
                else ("已达 met" if t.deductible_left == 0 else yuan(t.deductible_left))
            )
            cap = "不封顶 none" if t.uncapped else yuan(t.cap)
            rows.append(
                [
                    [_p(t.name_zh, st.cell), _p(t.name_en, st.cell_en)],
                    _p("—" if t.per_stay else yuan(t.yearly_base), st.number),
                    _p(deductible, st.number),
                    _p(left, st.number),
                    _p(yuan(t.paid), st.number),
                    _p(cap, st.number),
                    _p("—" if t.cap_left is None else yuan(t.cap_left), st.number),
                ]
            )
        table = Table(rows, colWidths=[width * 0.22] + [width * 0.13] * 6, repeatRows=1)
        table.setStyle(_grid(st.font))
        story += [table, gap(2)]

    story.append(_p("其后的调整与撤销 Later adjustments and reversals of this claim", st.h2))
    if slip.later:
        rows = [
            [
                _two("时间", "when", st),
                _two("类别", "kind", st),
                _two("原因", "reason", st),
                _two("基金变动", "funds", st, True),
                _two("个人负担变动", "you pay", st, True),
            ]
        ]
        for later in slip.later:
            zh, en = labels.KIND.get(later.kind, (later.kind, later.kind))
            changes = "；".join(f"{p} {signed(a)}" for p, a in later.by_payer.items())
            rows.append(
                [
                    _p(f"{later.settled_at.astimezone(slip.generated_at.tzinfo):%Y-%m-%d %H:%M}", st.cell),
                    _two(zh, en, st),
                    [_p(later.reason, st.cell), _p(changes, st.cell_en)],
                    _p(signed(later.fund_pay_sumamt), st.number),
                    _p(signed(later.psn_part_amt), st.number),
                ]
            )
        rows.append(
            [
                _two("现应付", "owed now", st),
                "",
                _p(f"医疗费总额 total {yuan(slip.now.medfee_sumamt)}", st.cell),
                _p(yuan(slip.now.fund_pay_sumamt), st.number),
                _p(yuan(slip.now.psn_part_amt), st.number),
            ]
        )
        table = Table(
            rows, colWidths=[width * 0.14, width * 0.11, width * 0.45, width * 0.15, width * 0.15], repeatRows=1
        )
        table.setStyle(_grid(st.font, total_row=True))
        story.append(table)
    else:
        story.append(_p("无。None: this settlement stands as settled.", st.body))
    story += [
        gap(3),
        _p(
            f"金额单位：元 amounts in yuan · 打印于 printed {slip.generated_at:%Y-%m-%d %H:%M} 北京时间 CST · "
            "一站式结算：基本医保、大病保险、补充保险与医疗救助按序支付，个人只付余下部分。 "
            "One stop: each fund pays its part in order; you pay only what is left.",
            st.small,
        ),
    ]
    return story


def _pages(story_of: Callable[[Styles], list], font: str, pagesize, margins: float) -> tuple[bytes, int]:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=margins,
        rightMargin=margins,
        topMargin=margins,
        bottomMargin=margins,
        title="一站式结算单 One-stop settlement slip",
        author="onestop",
    )
    pages = []

    def count(canvas, doc) -> None:
        pages.append(doc.page)

    doc.build(story_of(doc.width), onFirstPage=count, onLaterPages=count)
    return buffer.getvalue(), len(pages)


def slip_pdf(slip: Slip) -> bytes:
    """The slip on one A4 page: set smaller until it fits (the explanations of a long chain are long)."""
    font = pdf_font().name
    out = b""
    for scale in (1.0, 0.92, 0.85, 0.78, 0.7, 0.62):
        st = Styles(font, scale)
        out, pages = _pages(lambda width, st=st: _slip_story(slip, st, width), font, A4, 14 * mm)
        if pages == 1:
            return out
    return out
