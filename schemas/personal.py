"""Personal data as it may be shown: identity numbers are never written to logs, messages or
metrics in clear (ARCHITECTURE.md, rule 6). The one masking rule of the project lives here."""

from __future__ import annotations


def mask(psn_no: str) -> str:
    """A person number fit for logs and messages: its first two and last two characters only
    (enough for a caseworker to tell two people apart in a list, not to identify one)."""
    return f"{psn_no[:2]}***{psn_no[-2:]}" if len(psn_no) > 6 else "***"


def mask_name(name: str) -> str:
    """A name fit for logs: its first character only."""
    return name[:1] + "*" * max(0, len(name) - 1)
