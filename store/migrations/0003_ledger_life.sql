-- 0003: the ledger's whole life. Every input is archived as received; each person's inputs take
-- effect in the order received (person_queue); corrected bills, cancellations, year-end closes;
-- rejections and parked messages kept once each.

-- The archive: every input as received, accepted or not. Its seq is the order inputs take effect in.
CREATE TABLE inputs (
    seq          bigserial PRIMARY KEY,
    topic        text NOT NULL,
    "partition"  integer,
    "offset"     bigint,
    digest       text NOT NULL,           -- sha256 of raw: a message at the same place with other bytes is another input
    raw          bytea NOT NULL,
    psn_no       text,
    kind         text NOT NULL CHECK (kind IN ('claim', 'cancellation', 'eligibility', 'close', 'other')),
    outcome      text NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'repeat')),
    reason       text,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX inputs_position ON inputs (topic, "partition", "offset", digest)
    WHERE "partition" IS NOT NULL AND "offset" IS NOT NULL;
CREATE INDEX inputs_psn_no ON inputs (psn_no, seq);

-- Claims already received get archive rows, in the order they were received.
INSERT INTO inputs (topic, "partition", "offset", digest, raw, psn_no, kind, outcome, received_at)
SELECT topic, "partition", "offset", digest, convert_to(payload::text, 'UTF8'), psn_no, 'claim', 'accepted', received_at
FROM claims_received ORDER BY received_at, claim_id;

-- A claim is received once per revision (a corrected bill carries a higher one).
ALTER TABLE claims_received ADD COLUMN revision integer NOT NULL DEFAULT 0;
ALTER TABLE claims_received ADD COLUMN seq bigint;
ALTER TABLE claims_received ADD COLUMN year integer;
ALTER TABLE claims_received ADD COLUMN region text;
UPDATE claims_received AS c SET
    seq = i.seq,
    year = extract(year FROM (c.payload ->> 'enddate')::date)::integer,
    region = c.snapshot -> 'policy' ->> 'region'
FROM inputs AS i WHERE i.kind = 'claim' AND i.digest = c.digest AND i.psn_no = c.psn_no;
ALTER TABLE claims_received ALTER COLUMN seq SET NOT NULL;
ALTER TABLE claims_received ALTER COLUMN year SET NOT NULL;
ALTER TABLE claims_received DROP CONSTRAINT claims_received_pkey;
ALTER TABLE claims_received ADD PRIMARY KEY (claim_id, revision);
ALTER TABLE claims_received ALTER COLUMN snapshot DROP NOT NULL;  -- only the first receipt travels
CREATE INDEX claims_received_region_year ON claims_received (region, year);

-- Eligibility changes take their place in the same order.
ALTER TABLE identity_events ADD COLUMN input_seq bigint;
WITH ordered AS (
    INSERT INTO inputs (topic, digest, raw, psn_no, kind, outcome, received_at)
    SELECT 'eligibility.changes', md5(event::text), convert_to(event::text, 'UTF8'), psn_no, 'eligibility', 'accepted', received_at
    FROM identity_events ORDER BY received_at, seq
    RETURNING seq, convert_from(raw, 'UTF8')::jsonb ->> 'event_id' AS event_id
)
UPDATE identity_events AS e SET input_seq = o.seq FROM ordered AS o WHERE o.event_id = e.event_id;

-- Cancellations: applied to their claim, or waiting for it.
CREATE TABLE cancellations (
    event_id      text PRIMARY KEY,
    input_seq     bigint NOT NULL,
    claim_id      text NOT NULL,
    psn_no        text NOT NULL,
    reason        text NOT NULL DEFAULT '',
    cancelled_at  timestamptz NOT NULL,
    event         jsonb NOT NULL,
    status        text NOT NULL CHECK (status IN ('applied', 'waiting')),
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cancellations_claim ON cancellations (claim_id);
CREATE INDEX cancellations_waiting ON cancellations (received_at) WHERE status = 'waiting';

-- Year-end closes: once per region and year.
CREATE TABLE year_closes (
    region     text NOT NULL,
    year       integer NOT NULL,
    event_id   text NOT NULL UNIQUE,
    input_seq  bigint NOT NULL,
    closed_at  timestamptz NOT NULL,
    PRIMARY KEY (region, year)
);

-- Each person's inputs waiting to take effect, in (seq, sub) order.
CREATE TABLE person_queue (
    psn_no   text NOT NULL,
    seq      bigint NOT NULL,
    sub      smallint NOT NULL DEFAULT 0,
    kind     text NOT NULL CHECK (kind IN ('claim', 'correction', 'cancellation', 'eligibility', 'close')),
    ref      text NOT NULL,
    ready    boolean NOT NULL,
    flagged  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (psn_no, seq, sub)
);

-- Payers: what each payment added to its accounts (folded back in after a re-settlement), and
-- the order of the claims an account counted (a claim seen out of its order is settled by the rules).
ALTER TABLE payments ADD COLUMN contributions jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE year_totals ADD COLUMN last_seq bigint NOT NULL DEFAULT 0;

-- Ledger: the year and cause of each record; adjustments' lines live in their record.
ALTER TABLE settlements ADD COLUMN year integer;
UPDATE settlements SET year = (record ->> 'year')::integer;
ALTER TABLE settlements DROP CONSTRAINT settlements_kind_check;
ALTER TABLE settlements ADD CONSTRAINT settlements_kind_check CHECK (kind IN ('settlement', 'adjustment', 'reversal', 'year_end'));
CREATE INDEX settlements_psn_no ON settlements (psn_no, seq);
DROP TABLE payment_adjustments;
DROP TABLE resettlements;

-- Early warnings, published like the records.
CREATE TABLE alerts (
    alert_id   text PRIMARY KEY,
    psn_no     text NOT NULL,
    alert      jsonb NOT NULL,
    published  boolean NOT NULL DEFAULT false,
    seq        bigserial NOT NULL UNIQUE
);
CREATE INDEX alerts_unpublished ON alerts (seq) WHERE NOT published;

-- A rejection is kept once per place it came from.
DELETE FROM rejections AS r USING rejections AS s
WHERE r.id > s.id AND r.topic = s.topic AND r."partition" = s."partition" AND r."offset" = s."offset";
CREATE UNIQUE INDEX rejections_position ON rejections (topic, "partition", "offset")
    WHERE "partition" IS NOT NULL AND "offset" IS NOT NULL;

-- Messages a worker could not handle: kept with the error; a person's later ones wait behind them.
CREATE TABLE parked (
    parked_id    bigserial PRIMARY KEY,
    worker       text NOT NULL,
    topic        text NOT NULL,
    "partition"  integer,
    "offset"     bigint,
    msg_key      bytea,
    msg_value    bytea,
    error        text NOT NULL,
    behind       boolean NOT NULL,
    parked_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parked_worker_key ON parked (worker, msg_key);
CREATE UNIQUE INDEX parked_position ON parked (worker, topic, "partition", "offset")
    WHERE "partition" IS NOT NULL AND "offset" IS NOT NULL;
