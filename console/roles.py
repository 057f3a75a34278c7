"""Who may see what: the roles, their scopes, and the checks every page and download makes on the
server (hiding a link is not a check).

- caseworker: the persons of its regions (one or more policy regions, e.g. ``zhengzhou``): a person
  is of the regions their claims' insured places (``insuplc_admdvs``) belong to;
- hospital: its own claims, by its one ``fixmedins_code``;
- finance, auditor, operator, admin: their pages, no person's page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from policies.loader import load_policies, policies_of_place, policy_named
from schemas.codes import identifier

ROLES = ("caseworker", "hospital", "finance", "auditor", "operator", "admin")
#: each role's first page
HOME = {
    "caseworker": "/person",
    "hospital": "/hospital/claims",
    "finance": "/finance/statement",
    "auditor": "/audit",
    "operator": "/operations",
    "admin": "/admin/accounts",
}
ROLE_NAMES = {
    "caseworker": ("经办人员", "caseworker"),
    "hospital": ("医院结算窗口", "hospital window"),
    "finance": ("财务", "finance"),
    "auditor": ("审计", "auditor"),
    "operator": ("运维", "operator"),
    "admin": ("管理员", "administrator"),
}


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    scope: tuple[str, ...]
    failures: int = 0
    locked_until: datetime | None = None
    disabled: bool = False

    @property
    def hospital(self) -> str | None:
        return self.scope[0] if self.role == "hospital" else None


class Refused(Exception):
    """Outside the account's role or scope: the page answers 403 with this reason (English, 中文)."""

    def __init__(self, reason: str, reason_zh: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.reason_zh = reason, reason_zh or reason


def region_of_division(insuplc_admdvs: str | None) -> str | None:
    """The policy region a 6-digit insured place belongs to: that of the policy file listing the
    longest prefix of it (policies.loader.policy_for)."""
    if not insuplc_admdvs:
        return None
    found = policies_of_place(insuplc_admdvs)
    return found[0].region if found else None


def scope_of(role: str, given: Iterable[str]) -> tuple[str, ...]:
    """The scope an account of ``role`` is made with, as stored (regions by their names), or
    ValueError saying what is wrong."""
    items = [s.strip() for part in given for s in part.split(",") if s.strip()]
    if role not in ROLES:
        raise ValueError(f"no role {role!r}: one of {', '.join(ROLES)}")
    if role == "caseworker":
        if not items:
            raise ValueError(
                "a caseworker needs --scope: one or more regions (e.g. zhengzhou, or its pooled city 4101)"
            )
        regions = []
        for item in items:
            named = policy_named(item)
            if not named:
                known = ", ".join(sorted({p.region for p in load_policies()}))
                raise ValueError(f"no region {item!r}; the regions: {known}")
            regions.append(named[0].region)
        return tuple(dict.fromkeys(regions))
    if role == "hospital":
        if len(items) != 1:
            raise ValueError("a hospital account needs --scope with its one fixmedins_code")
        try:
            return (identifier(items[0]),)
        except ValueError as error:
            raise ValueError(f"fixmedins_code {items[0]!r} {error}") from None
    if items:
        raise ValueError(f"a {role} account has no scope")
    return ()


def require_person(account: Account, regions: set[str]) -> None:
    """A caseworker sees a person of its regions only; a person with no claim yet is of no region."""
    if account.role != "caseworker":
        raise Refused("only caseworkers look persons up", "仅经办人员可查询人员")
    if not regions & set(account.scope):
        regions_text = ", ".join(account.scope)
        raise Refused(f"this person is not of your regions ({regions_text})", f"此人不属于您的统筹区（{regions_text}）")


def require_claim(account: Account, fixmedins_code: str | None, person_regions: set[str] | None = None) -> None:
    """A hospital sees its own claims; a caseworker the claims of persons of its regions."""
    if account.role == "hospital":
        if (fixmedins_code or "") != account.hospital:
            raise Refused("this claim is not your hospital's", "这不是本院的结算")
        return
    if account.role == "caseworker" and person_regions is not None:
        require_person(account, person_regions)
        return
    raise Refused("your role does not read claims", "您的角色不能查看结算")
