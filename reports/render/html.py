"""HTML: the statement and the slip as self-contained printable pages (inline CSS, A4 print
rules, the chart as inline SVG), in Chinese with the English beside."""

from __future__ import annotations

from decimal import Decimal
from html import escape

from .. import labels
from ..slip import Slip, slip_facts
from ..statement import Section, Statement
from .chart import as_svg, statement_chart
from .fonts import pdf_font
from .pdf import signed, yuan

CSS = """
@page { size: A4 %(orientation)s; margin: 14mm; }
* { box-sizing: border-box; }
body { font-family: 'Noto Sans CJK SC','Microsoft YaHei','PingFang SC','WenQuanYi Micro Hei',sans-serif;
       color: #1d2630; font-size: 10pt; line-height: 1.35; margin: 0 auto; max-width: %(width)s; padding: 12px; }
h1 { font-size: 18pt; font-weight: 600; margin: 0; }
h2 { font-size: 12pt; color: #2f5d8a; font-weight: 600; margin: 14px 0 4px; break-after: avoid; }
.sub, .en, .small { color: #5b6670; }
.sub { font-size: 8.5pt; margin: 2px 0 10px; }
.en { display: block; font-size: 7pt; }
.small { font-size: 8pt; }
table { width: 100%%; border-collapse: collapse; margin: 2px 0 6px; }
th, td { padding: 3px 5px; vertical-align: top; border-bottom: 1px solid #d5dbe1; text-align: left; }
th { background: #e8eef4; font-weight: 600; border-bottom: 1.2px solid #1d2630; font-size: 8.5pt; }
td.n, th.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.total td { border-top: 1.2px solid #1d2630; background: #f4f6f8; font-weight: 600; }
.figures { display: flex; gap: 12px; border-bottom: 1.2px solid #1d2630; margin-bottom: 8px; }
.figures div { flex: 1; text-align: right; padding: 4px 0; }
.figures b { display: block; font-size: 17pt; font-weight: 500; }
.pay { border: 2px solid #2f5d8a; background: #f1f6fb; display: flex; justify-content: space-between;
       align-items: center; padding: 8px 12px; margin: 8px 0; }
.pay b { font-size: 18pt; font-weight: 600; }
.info td { border-bottom: 1px solid #e3e7eb; }
.info td.k { width: 14%%; }
.explain { font-size: 8.5pt; }
svg { width: 100%%; height: auto; }
@media print { body { max-width: none; padding: 0; } }
"""


def _page(title: str, body: str, landscape: bool) -> str:
    css = CSS % {"orientation": "landscape" if landscape else "portrait", "width": "1100px" if landscape else "800px"}
    return (
        f'<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)}</title>\n'
        f"<style>{css}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _two(zh: str, en: str) -> str:
    return f'{escape(zh)}<span class="en">{escape(en)}</span>'


# --- the statement ----------------------------------------------------------------------------------


def _fund_table(section: Section, kinds: tuple[str, ...]) -> str:
    head = "<tr><th>" + _two("基金", "fund") + "</th><th>" + _two("统筹区", "region") + "</th>"
    for kind in kinds:
        zh, en = labels.KIND[kind]
        head += f'<th class="n">{_two(zh + "笔数", "count")}</th><th class="n">{_two(zh + "金额", en + "s")}</th>'
    head += f'<th class="n">{_two("应付净额", "net payable")}</th></tr>'
    rows = []
    for row in section.funds:
        cells = "".join(
            f'<td class="n">{row.kinds[k].count}</td><td class="n">{yuan(row.kinds[k].amount)}</td>' for k in kinds
        )
        rows.append(
            f'<tr><td>{escape(row.fund_pay_type)} {escape(row.fund_name)}<span class="en">{escape(row.setlinfo_field)}'
            f'</span></td><td>{escape(row.region_name)}</td>{cells}<td class="n">{yuan(row.net)}</td></tr>'
        )
    totals = "".join(
        f'<td class="n">{section.records.get(k, 0)}</td>'
        f'<td class="n">{yuan(sum((r.kinds[k].amount for r in section.funds), start=Decimal(0)))}</td>'
        for k in kinds
    )
    rows.append(
        f'<tr class="total"><td>{_two("合计", "total (counts: records)")}</td><td></td>{totals}'
        f'<td class="n">{yuan(section.net)}</td></tr>'
    )
    return f"<table>\n{head}\n" + "\n".join(rows) + "\n</table>"


def _summary(section: Section) -> str:
    counts = " · ".join(f"{labels.KIND[k][0]} {labels.KIND[k][1]} {n}" for k, n in section.records.items() if n)
    return (
        f'<p class="small">记录 records: {escape(counts or "0")}；'
        f"医疗费总额 total bills {yuan(section.medfee_sumamt)}；"
        f"基金支付 funds {yuan(section.fund_pay_sumamt)}；个人负担 patients {yuan(section.psn_part_amt)}</p>"
    )


def statement_html(statement: Statement) -> str:
    font = pdf_font().name
    who = f"医院 hospital {statement.hospital}" if statement.hospital else "全部医院 all hospitals"
    parts = [
        f"<h1>医保基金月度清算单 Monthly clearing statement — {escape(statement.month)}</h1>",
        f'<p class="sub">{escape(who)} · 按结算时间（北京时间）计入月份 records by their time, China Standard Time · '
        f"生成于 generated {statement.generated_at:%Y-%m-%d %H:%M} · 金额单位：元 amounts in yuan</p>",
        '<div class="figures">'
        f"<div>{_two('应付医院净额', 'net payable to hospitals')}<b>{yuan(statement.net)}</b></div>"
        f"<div>{_two('医院数', 'hospitals')}<b>{len(statement.hospitals)}</b></div>"
        f"<div>{_two('年终清算付个人', 'year-end, paid to persons')}"
        f"<b>{yuan(statement.year_end_net) if statement.year_end is not None else '—'}</b></div></div>",
        as_svg(statement_chart(statement, font, width=760, height=220), font),
    ]
    if statement.empty:
        parts.append("<p>本月没有记录。No records this month: nothing to pay.</p>")
    for section in statement.hospitals:
        title = (
            f"{section.code} {section.name or ''}"
            if section.code
            else f"{labels.UNKNOWN_HOSPITAL[0]} {labels.UNKNOWN_HOSPITAL[1]} — "
            "未注明医院的结算 records naming no hospital"
        )
        parts += [
            f"<h2>{escape(title)}</h2>",
            _summary(section),
            _fund_table(section, ("settlement", "adjustment", "reversal")),
        ]
    if statement.year_end is not None and statement.year_end.record_count:
        parts += [
            "<h2>年终清算（付个人，不付医院） Year-end payments — to persons, not hospitals</h2>",
            _summary(statement.year_end),
            _fund_table(statement.year_end, ("year_end", "adjustment")),
        ]
    if statement.premiums is not None and statement.premiums.record_count:
        parts += [
            "<h2>参保资助（代缴个人缴费，按基金） Premium subsidies — persons' contributions, per fund</h2>",
            _summary(statement.premiums),
            _fund_table(statement.premiums, ("premium",)),
        ]
    return _page(f"医保基金月度清算单 {statement.month}", "\n".join(parts), landscape=True)


# --- the slip -------------------------------------------------------------------------------------


def slip_html(slip: Slip) -> str:
    info = slip_facts(slip)
    rows = []
    for i in range(0, len(info), 2):
        rows.append(
            "<tr>"
            + "".join(f'<td class="k">{_two(zh, en)}</td><td>{escape(value)}</td>' for zh, en, value in info[i : i + 2])
            + "</tr>"
        )
    parts = [
        "<h1>一站式结算单 One-stop settlement slip</h1>",
        f'<p class="sub">{escape(slip.region_name)} {escape(slip.region_name_en)} · {escape(slip.document)}</p>',
        '<table class="info">' + "".join(rows) + "</table>",
        "<h2>费用 The bill</h2><table><tr>"
        + "".join(f'<th class="n">{_two(zh, en)}</th>' for _, zh, en in labels.BILL_PARTS)
        + "</tr><tr>"
        + "".join(f'<td class="n">{yuan(slip.bill[p])}</td>' for p, _, _ in labels.BILL_PARTS)
        + "</tr></table>",
        "<h2>各项基金支付 What each fund paid, and by which rule</h2>",
        f'<table><tr><th>{_two("基金", "fund")}</th><th class="n">{_two("支付", "paid")}</th>'
        f"<th>{_two('计算方法', 'how it was computed')}</th></tr>"
        + "".join(
            f'<tr><td>{escape(f.name_zh)}<span class="en">{escape(f.name_en)} · {escape(f.fund_pay_type)}</span></td>'
            f'<td class="n">{yuan(f.amount)}</td><td class="explain">{escape(f.explanation_zh)}'
            f'<span class="en">{escape(f.explanation_en)}</span></td></tr>'
            for f in slip.funds
        )
        + f'<tr class="total"><td>{_two("基金支付合计", "funds pay")}</td>'
        f'<td class="n">{yuan(slip.fund_pay_sumamt)}</td><td></td></tr></table>',
        f'<div class="pay"><span>个人负担<span class="en">you pay (medfee_sumamt − funds)</span></span>'
        f"<b>{yuan(slip.psn_part_amt)} 元</b></div>",
    ]
    if slip.totals:
        head = "".join(
            f'<th class="n">{_two(zh, en)}</th>'
            for zh, en in (
                ("本年累计基数", "yearly base"),
                ("起付线", "deductible"),
                ("尚差起付线", "to reach it"),
                ("本年已支付", "paid this year"),
                ("年度限额", "annual cap"),
                ("剩余限额", "cap left"),
            )
        )
        body = []
        for t in slip.totals:
            deductible = "—" if t.deductible is None else yuan(t.deductible) + (" 每次" if t.per_stay else "")
            left = (
                ("每次 per stay" if t.per_stay else "—")
                if t.deductible_left is None
                else ("已达 met" if t.deductible_left == 0 else yuan(t.deductible_left))
            )
            cap = "不封顶 none" if t.uncapped else yuan(t.cap)
            cells = [
                "—" if t.per_stay else yuan(t.yearly_base),
                deductible,
                left,
                yuan(t.paid),
                cap,
                "—" if t.cap_left is None else yuan(t.cap_left),
            ]
            body.append(
                f"<tr><td>{_two(t.name_zh, t.name_en)}</td>"
                + "".join(f'<td class="n">{escape(c)}</td>' for c in cells)
                + "</tr>"
            )
        parts += [
            f"<h2>{slip.year} 年度累计（截至 {slip.generated_at:%Y-%m-%d}） The year so far, as known now</h2>",
            f"<table><tr><th>{_two('账户', 'account')}</th>{head}</tr>" + "".join(body) + "</table>",
        ]
    parts.append("<h2>其后的调整与撤销 Later adjustments and reversals of this claim</h2>")
    if slip.later:
        body = []
        for later in slip.later:
            zh, en = labels.KIND.get(later.kind, (later.kind, later.kind))
            changes = "；".join(f"{p} {signed(a)}" for p, a in later.by_payer.items())
            body.append(
                f"<tr><td>{later.settled_at.astimezone(slip.generated_at.tzinfo):%Y-%m-%d %H:%M}</td>"
                f'<td>{_two(zh, en)}</td><td>{escape(later.reason)}<span class="en">{escape(changes)}</span></td>'
                f'<td class="n">{signed(later.fund_pay_sumamt)}</td>'
                f'<td class="n">{signed(later.psn_part_amt)}</td></tr>'
            )
        body.append(
            f'<tr class="total"><td>{_two("现应付", "owed now")}</td><td></td>'
            f"<td>医疗费总额 total {yuan(slip.now.medfee_sumamt)}</td>"
            f'<td class="n">{yuan(slip.now.fund_pay_sumamt)}</td><td class="n">{yuan(slip.now.psn_part_amt)}</td></tr>'
        )
        parts.append(
            f"<table><tr><th>{_two('时间', 'when')}</th><th>{_two('类别', 'kind')}</th>"
            f"<th>{_two('原因', 'reason')}</th>"
            f'<th class="n">{_two("基金变动", "funds")}</th><th class="n">{_two("个人负担变动", "you pay")}</th></tr>'
            + "".join(body)
            + "</table>"
        )
    else:
        parts.append("<p>无。None: this settlement stands as settled.</p>")
    parts.append(
        '<p class="small">金额单位：元 amounts in yuan · '
        f"打印于 printed {slip.generated_at:%Y-%m-%d %H:%M} 北京时间 CST · "
        "一站式结算：基本医保、大病保险、补充保险与医疗救助按序支付，个人只付余下部分。 "
        "One stop: each fund pays its part in order; you pay only what is left.</p>"
    )
    return _page(f"一站式结算单 {slip.claim_id}", "\n".join(parts), landscape=False)
