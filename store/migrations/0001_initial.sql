-- 0001: the ledger of onestop. Money is numeric(14,2) (yuan, exact to the fen), never float.
-- Each table's primary key is the idempotency key of the effect it records.

-- Intake: every claim as first received, with the identity snapshot attached then.
CREATE TABLE claims_received (
    claim_id     text PRIMARY KEY,
    psn_no       text NOT NULL,
    digest       text NOT NULL,
    payload      jsonb NOT NULL,
    snapshot     jsonb NOT NULL,
    topic        text NOT NULL,
    "partition"  integer,
    "offset"     bigint,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX claims_received_psn_no ON claims_received (psn_no);

-- Eligibility: every change as received (the source of truth) ...
CREATE TABLE identity_events (
    event_id     text PRIMARY KEY,
    psn_no       text NOT NULL,
    category     text NOT NULL,
    action       text NOT NULL CHECK (action IN ('grant', 'revoke')),
    valid_from   date NOT NULL,
    valid_to     date CHECK (valid_to IS NULL OR valid_to >= valid_from),
    authority    text NOT NULL,
    recorded_at  timestamptz NOT NULL,
    event        jsonb NOT NULL,
    seq          bigserial NOT NULL UNIQUE,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX identity_events_psn_category ON identity_events (psn_no, category);

-- ... and the periods they add up to, recomputed from all events of a (person, category).
CREATE TABLE identity_periods (
    psn_no      text NOT NULL,
    category    text NOT NULL,
    valid_from  date NOT NULL,
    valid_to    date CHECK (valid_to IS NULL OR valid_to >= valid_from),
    authority   text NOT NULL,
    event_id    text NOT NULL,
    PRIMARY KEY (psn_no, category, valid_from)
);

-- Payers: one line per (claim, payer); its amount is counted in year_totals in the same transaction.
CREATE TABLE payments (
    claim_id  text NOT NULL,
    payer     text NOT NULL,
    psn_no    text NOT NULL,
    year      integer NOT NULL,
    account   text,
    amount    numeric(14,2) NOT NULL,
    line      jsonb NOT NULL,
    seq       bigserial NOT NULL UNIQUE,
    paid_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (claim_id, payer)
);
CREATE INDEX payments_psn_year_account ON payments (psn_no, year, account);

CREATE TABLE year_totals (
    psn_no                    text NOT NULL,
    year                      integer NOT NULL,
    account                   text NOT NULL,
    base                      numeric(14,2) NOT NULL DEFAULT 0,
    paid                      numeric(14,2) NOT NULL DEFAULT 0,
    paid_by_day               jsonb NOT NULL DEFAULT '{}'::jsonb,
    assisted_visits_by_month  jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at                timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (psn_no, year, account)
);

-- Ledger: settlements for finance, published in seq order.
CREATE TABLE settlements (
    settlement_id    text PRIMARY KEY,
    claim_id         text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('settlement', 'adjustment', 'reversal')),
    psn_no           text NOT NULL,
    record           jsonb NOT NULL,
    medfee_sumamt    numeric(14,2) NOT NULL,
    fund_pay_sumamt  numeric(14,2) NOT NULL,
    psn_part_amt     numeric(14,2) NOT NULL,
    published        boolean NOT NULL DEFAULT false,
    seq              bigserial NOT NULL UNIQUE,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX settlements_claim_id ON settlements (claim_id);
CREATE INDEX settlements_unpublished ON settlements (seq) WHERE NOT published;

-- Bad input, kept with where it came from and why it was refused.
CREATE TABLE rejections (
    id           bigserial PRIMARY KEY,
    topic        text NOT NULL,
    reason       text NOT NULL,
    original     text NOT NULL,
    "partition"  integer,
    "offset"     bigint,
    rejected_at  timestamptz NOT NULL DEFAULT now()
);
