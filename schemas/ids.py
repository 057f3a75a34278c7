"""The keys the system builds for its own records, from ids that came in.

Ids that come in (``claim_id``, ``event_id``, ``fixmedins_code``, ``psn_no``) are 1–64 characters of
``A–Z a–z 0–9 . _ : -`` (CONTRACTS.md), never ``/``. Every key built here joins parts with ``/``,
so no id that came in can equal one of them, and two keys of different kinds or parts never meet:

- a claim is its hospital's and its id together (``claim_key``): two hospitals may use the same
  claim_id without touching each other's claims; a claim without a hospital (version 1 of the
  contract) is of the hospital "", and its key is its claim_id;
- a cancellation is its hospital's and its event_id together (``cancellation_key``), so that
  another hospital's cancellation with the same event_id is another cancellation;
- what caused a record (``cause``) names its kind, so that a cancellation and a grant with the
  same event_id cause two different adjustments.
"""

from __future__ import annotations


def claim_key(fixmedins_code: str | None, claim_id: str) -> str:
    """The claim of hospital ``fixmedins_code`` with id ``claim_id``: ``<hospital>/<claim_id>``,
    or the bare claim_id for a claim that names no hospital."""
    return f"{fixmedins_code}/{claim_id}" if fixmedins_code else claim_id


def cancellation_key(fixmedins_code: str | None, event_id: str) -> str:
    """A hospital's cancellation ``event_id``: ``cancellation/<hospital>/<event_id>``, or
    ``cancellation/<event_id>`` for one that names no hospital."""
    return f"cancellation/{claim_key(fixmedins_code, event_id)}"


def cause(kind: str, *parts: str) -> str:
    """What caused a record, by kind: ``claim/<claim key>``, ``eligibility/<authority>/<event_id>``, …"""
    return "/".join((kind, *parts))
