"""The national medical-security platform's shapes (医疗保障信息平台), as hospital systems read them.

A settlement record read as the platform's 2207 answer (`setlinfo` + `setldetail[]`, CONTRACTS.md),
and pre-settlement (预结算, the platform's 2206): the request a hospital window sends and the
answer it gets. Field names are the platform's; amounts travel as our contract says (JSON strings
with two decimals). Which fund code is which fund differs between provinces: the codes, names and
the `setlinfo` field each fund's payment is counted in are data in the region's policy file
(``fund_pay_type``, ``fund_name``, ``setlinfo_field`` of each payer).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from .codes import Identifier, InsuType, MedType
from .events import DischargeClaim, PaymentLine, Settlement
from .money import ZERO, SignedMoney

#: The platform's fund-payment fields of `setlinfo`, in its order: basic pooled fund, civil
#: servants' subsidy, enterprise supplementary, residents' critical illness, employees'
#: large-amount subsidy, medical assistance, other.
SetlinfoField = Literal["hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay"]
SETLINFO_FIELDS: tuple[str, ...] = (
    "hifp_pay",
    "cvlserv_pay",
    "hifes_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "oth_pay",
)
SETLINFO_FIELD_ZH = {
    "hifp_pay": "基本医疗保险统筹基金支出",
    "cvlserv_pay": "公务员医疗补助资金支出",
    "hifes_pay": "企业补充医疗保险基金支出",
    "hifmi_pay": "居民大病保险资金支出",
    "hifob_pay": "职工大额医疗费用补助基金支出",
    "maf_pay": "医疗救助基金支出",
    "oth_pay": "其他支出",
}


class _Form(BaseModel):
    model_config = ConfigDict(frozen=True)


class SetlDetail(_Form):
    """One fund of a settlement (结算基金分项信息): every payer of the record paying from that fund."""

    fund_pay_type: str  # 基金支付类型
    fund_pay_type_name: str  # 基金支付类型名称
    inscp_scp_amt: SignedMoney | None  # 符合政策范围金额: the record's in-scope amount (none on a year-end record)
    crt_payb_lmt_amt: (
        SignedMoney | None
    )  # 本次可支付限额金额: what of the bill was still unpaid when this fund began to pay
    fund_payamt: SignedMoney  # 基金支付金额
    setl_proc_info: str  # 结算过程信息: each payer's rule and arithmetic, in Chinese


class SetlInfo(_Form):
    """A settlement record as the platform's `setlinfo` (结算信息)."""

    setl_id: str  # 结算ID: our settlement_id (a reversal or adjustment is a settlement of its own, as on the platform)
    mdtrt_id: str  # 就诊ID: the claim_id
    psn_no: str
    insutype: InsuType | None = (
        None  # 险种类型, read off the funds' codes (none on a record without a basic-insurance line)
    )
    insuplc_admdvs: str
    clr_optins: str  # 清算经办机构: the insured place's agency (its division code)
    med_type: MedType | None = None
    begndate: date | None = None
    enddate: date | None = None
    setl_time: str  # 结算时间, yyyy-MM-dd HH:mm:ss, China Standard Time
    fixmedins_code: str | None = None
    fixmedins_name: str | None = None
    medfee_sumamt: SignedMoney
    fulamt_ownpay_amt: SignedMoney | None = None
    overlmt_selfpay: SignedMoney | None = None
    preselfpay_amt: SignedMoney | None = None
    inscp_scp_amt: SignedMoney | None = None
    hifp_pay: SignedMoney = ZERO
    cvlserv_pay: SignedMoney = ZERO
    hifes_pay: SignedMoney = ZERO
    hifmi_pay: SignedMoney = ZERO
    hifob_pay: SignedMoney = ZERO
    maf_pay: SignedMoney = ZERO
    oth_pay: SignedMoney = ZERO
    fund_pay_sumamt: SignedMoney
    psn_part_amt: SignedMoney  # 个人负担总金额
    acct_pay: SignedMoney = ZERO  # 个人账户支出: onestop keeps no personal accounts
    psn_cash_pay: SignedMoney  # 个人现金支出: the whole personal share
    hosp_part_amt: SignedMoney = ZERO  # 医院负担金额
    # onestop's own (the contract allows added fields): what kind of record, why, which year and policy
    setl_type: Literal["settlement", "adjustment", "reversal", "year_end", "premium"]
    reason: str | None = None
    year: int | None = None
    policy: str  # region/period/vN

    def fund_total(self) -> Decimal:
        """The sum of the fund-payment fields."""
        return sum((getattr(self, name) for name in SETLINFO_FIELDS), start=ZERO)


class NhsaSettlement(_Form):
    """`settlements.nhsa` and `onestop settlements --format nhsa`: one record as the platform's 2207 answer."""

    setlinfo: SetlInfo
    setldetail: list[SetlDetail]

    @model_validator(mode="after")
    def _adds_up(self) -> "NhsaSettlement":
        info = self.setlinfo
        funds = info.fund_total()
        details = sum((d.fund_payamt for d in self.setldetail), start=ZERO)
        if not funds == details == info.fund_pay_sumamt:
            raise ValueError(
                f"setl_id {info.setl_id}: the funds of setlinfo ({funds}), the setldetail lines ({details}) "
                f"and fund_pay_sumamt ({info.fund_pay_sumamt}) differ"
            )
        if info.fund_pay_sumamt + info.psn_part_amt != info.medfee_sumamt:
            raise ValueError(f"setl_id {info.setl_id}: fund_pay_sumamt + psn_part_amt is not medfee_sumamt")
        return self


# --- pre-settlement (预结算, 2206) -------------------------------------------------------------------


class PresettleRequest(DischargeClaim):
    """`claims.presettle`: a discharge event a hospital window wants pre-settled; recorded nowhere.

    The claim's own fields (CONTRACTS.md, `claims.discharged`; signed, as a claim is, by a key of the
    hospital it names) and an optional ``request_id`` the answer carries back (default: the claim_id)."""

    request_id: Identifier | None = None

    @property
    def answer_to(self) -> str:
        return self.request_id or self.claim_id


class PresettleReply(BaseModel):
    """`claims.presettle.replies.<fixmedins_code>`: what each fund would pay for the claim now, from
    the person's year as known now, as the asking hospital may see it (policies/withheld.py: no
    category, authority or grant id of the person); or why it cannot be pre-settled (``error``)."""

    model_config = ConfigDict(frozen=True)
    request_id: str
    claim_id: str | None = None
    psn_no: str | None = None
    answered_at: datetime
    error: str | None = None
    setlinfo: SetlInfo | None = None
    setldetail: list[SetlDetail] = []
    payments: list[PaymentLine] = []  # every payer's line with its arithmetic, zero lines included
    settlement: Settlement | None = None
    effects: list[
        Settlement
    ] = []  # the records it would make for the person's other claims (e.g. a qualifying line crossed)
    notes: list[str] = []
