"""The names things are printed with, in Chinese with the English beside."""

from __future__ import annotations

from schemas.codes import Category, category_name_zh

KIND = {
    "settlement": ("结算", "settlement"),
    "adjustment": ("调整", "adjustment"),
    "reversal": ("撤销", "reversal"),
    "year_end": ("年终清算", "year-end"),
    "premium": ("参保资助", "premium subsidy"),
}
MED_TYPE = {
    "21": ("住院", "inpatient"),
    "14": ("门诊慢特病", "chronic / special-disease outpatient"),
    "11": ("普通门诊", "general outpatient"),
}
INSUTYPE = {
    "390": ("城乡居民基本医疗保险", "resident basic insurance"),
    "310": ("职工基本医疗保险", "employee basic insurance"),
}
PAYER_EN = {
    "basic": "basic insurance",
    "critical": "critical-illness insurance",
    "tilt": "tilted payment",
    "supplementary": "supplementary insurance",
    "emergency_relief": "emergency relief",
    "assistance": "medical assistance",
    "secondary": "secondary assistance",
    "re_assistance": "re-assistance",
    "poverty_relief": "poverty-relief fund",
    "finance": "finance",
    "finance_city": "city finance",
    "finance_county": "county finance",
    "disabled_federation": "disabled persons' federation",
}
#: what the bill's parts are called (DOMAIN.md)
BILL_PARTS = (
    ("medfee_sumamt", "医疗费总额", "total bill"),
    ("fulamt_ownpay_amt", "全自费", "outside the catalogue"),
    ("overlmt_selfpay", "超限价自费", "above price limits"),
    ("preselfpay_amt", "先行自付", "class-B own share"),
    ("inscp_scp_amt", "政策范围内", "in scope"),
)
UNKNOWN_HOSPITAL = ("未知医院", "unknown hospital")


def kind(name: str) -> str:
    zh, en = KIND.get(name, (name, name))
    return f"{zh} {en}"


def category(code: str) -> str:
    try:
        return f"{category_name_zh(Category(code))} {code}"
    except (ValueError, KeyError):
        return code


def med_type(code: str | None) -> str:
    if code is None:
        return "—"
    zh, en = MED_TYPE.get(str(code), (str(code), ""))
    return f"{zh} {en}".strip()
