-- 0007: whose claim it is, and one writer of money.
--
-- A claim is its hospital's and its id (CONTRACTS.md): two hospitals may use the same claim_id
-- without touching each other's claims, and a correction or cancellation acts only on the
-- sender's own. Its key (schemas/ids.py) is <fixmedins_code>/<claim_id>, or the bare claim_id for
-- a claim that names no hospital; incoming ids never contain '/', so no key meets another.
ALTER TABLE claims_received ADD COLUMN fixmedins_code text NOT NULL DEFAULT '';
UPDATE claims_received SET fixmedins_code = coalesce(payload ->> 'fixmedins_code', '');
ALTER TABLE claims_received ADD COLUMN claim_key text NOT NULL GENERATED ALWAYS AS (
    CASE WHEN fixmedins_code = '' THEN claim_id ELSE fixmedins_code || '/' || claim_id END) STORED;
ALTER TABLE claims_received DROP CONSTRAINT claims_received_pkey;
ALTER TABLE claims_received ADD PRIMARY KEY (claim_key, revision);

-- A cancellation is its hospital's and its event_id; it cancels only that hospital's claim.
ALTER TABLE cancellations ADD COLUMN fixmedins_code text NOT NULL DEFAULT '';
UPDATE cancellations SET fixmedins_code = coalesce(event ->> 'fixmedins_code', '');
ALTER TABLE cancellations ADD COLUMN cancellation_key text NOT NULL GENERATED ALWAYS AS (
    CASE WHEN fixmedins_code = '' THEN 'cancellation/' || event_id
         ELSE 'cancellation/' || fixmedins_code || '/' || event_id END) STORED;
ALTER TABLE cancellations ADD COLUMN claim_key text NOT NULL GENERATED ALWAYS AS (
    CASE WHEN fixmedins_code = '' THEN claim_id ELSE fixmedins_code || '/' || claim_id END) STORED;
ALTER TABLE cancellations DROP CONSTRAINT cancellations_pkey;
ALTER TABLE cancellations ADD PRIMARY KEY (fixmedins_code, event_id);
DROP INDEX cancellations_claim;
CREATE INDEX cancellations_claim ON cancellations (claim_key);

-- An eligibility change is its authority's and its event_id.
ALTER TABLE identity_events DROP CONSTRAINT identity_events_pkey;
ALTER TABLE identity_events ADD PRIMARY KEY (authority, event_id);

-- The queue names claims and cancellations by their keys; a ready input that waits too long (its
-- wake-up lost) is found by when it was queued.
UPDATE person_queue AS q SET ref = c.claim_key FROM claims_received AS c
WHERE q.kind IN ('claim', 'correction') AND c.claim_id = q.ref AND c.psn_no = q.psn_no AND c.snapshot IS NOT NULL;
UPDATE person_queue AS q SET ref = c.cancellation_key FROM cancellations AS c
WHERE q.kind = 'cancellation' AND c.event_id = q.ref AND c.psn_no = q.psn_no;
ALTER TABLE person_queue ADD COLUMN queued_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX person_queue_ready ON person_queue (queued_at) WHERE ready;

-- Records are found by their claim's key.
ALTER TABLE settlements ADD COLUMN claim_key text NOT NULL GENERATED ALWAYS AS (
    CASE WHEN coalesce(record ->> 'fixmedins_code', '') = '' THEN claim_id
         ELSE (record ->> 'fixmedins_code') || '/' || claim_id END) STORED;
DROP INDEX settlements_claim_id;
CREATE INDEX settlements_claim_key ON settlements (claim_key);
-- A claim's first settlement never pays below zero nor more than its bill (the ledger checks every
-- line before it writes; the database holds the sums to it as well).
ALTER TABLE settlements ADD CONSTRAINT settlements_first_within_bill
    CHECK (kind <> 'settlement' OR (fund_pay_sumamt >= 0 AND fund_pay_sumamt <= medfee_sumamt));

-- One writer of money: the payers compute their line on the claim in flight and keep nothing; the
-- ledger settles every claim itself and is the only writer of records and year totals.
DROP TABLE payments;
ALTER TABLE year_totals DROP COLUMN last_seq;
