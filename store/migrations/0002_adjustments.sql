-- 0002: re-settlement after a category granted back in time (Zhangye's on-application assistance).

-- One row per grant whose re-settlement was done: the idempotency key of the whole effect,
-- so the same grant delivered again changes nothing (even when it changed no claim).
CREATE TABLE resettlements (
    grant_event_id  text PRIMARY KEY,
    psn_no          text NOT NULL,
    claims_changed  integer NOT NULL,
    done_at         timestamptz NOT NULL DEFAULT now()
);

-- The differences paid (or recovered) per (adjustment, payer); counted in year_totals with payments.
CREATE TABLE payment_adjustments (
    adjustment_id   text NOT NULL,
    claim_id        text NOT NULL,
    payer           text NOT NULL,
    psn_no          text NOT NULL,
    year            integer NOT NULL,
    account         text,
    amount          numeric(14,2) NOT NULL,
    line            jsonb NOT NULL,
    grant_event_id  text NOT NULL REFERENCES resettlements (grant_event_id),
    seq             bigserial NOT NULL UNIQUE,
    PRIMARY KEY (adjustment_id, payer)
);
CREATE INDEX payment_adjustments_claim ON payment_adjustments (claim_id);
CREATE INDEX payment_adjustments_psn_year_account ON payment_adjustments (psn_no, year, account);
