-- 0013: premium subsidies (参保资助, issue 29): who is insured where (enrollment.changes) and the
-- year's roll of a region (premiums.rolls), both inputs of a person's ledger; a premium subsidy is a
-- record like any other (kind premium), made by the ledger.
--
-- Distributable by person, as 0011 laid out: every table of a person's rows has psn_no in every
-- unique key; the rolls received are a small reference table, like year_closes; each roll takes its
-- place in the order of each person it may subsidise (person_rolls, like person_closes).

-- enrollment changes as received (the source of truth) ...
CREATE TABLE enrollment_events (
    psn_no          text NOT NULL,
    event_id        text NOT NULL,
    insutype        text NOT NULL CHECK (insutype IN ('390', '310')),
    insuplc_admdvs  text NOT NULL,
    valid_from      date NOT NULL,
    valid_to        date CHECK (valid_to IS NULL OR valid_to >= valid_from),
    recorded_at     timestamptz NOT NULL,
    event           jsonb NOT NULL,
    input_seq       bigint NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (psn_no, event_id)
);

-- ... and the periods they add up to (policies/enrollment.py), folded again from all of a person's
CREATE TABLE enrollment_periods (
    psn_no          text NOT NULL,
    valid_from      date NOT NULL,
    valid_to        date CHECK (valid_to IS NULL OR valid_to >= valid_from),
    insutype        text NOT NULL,
    insuplc_admdvs  text NOT NULL,
    event_id        text NOT NULL,
    PRIMARY KEY (psn_no, valid_from)
);
-- a roll looks for everyone insured with resident insurance in its pooled city
CREATE INDEX enrollment_periods_resident ON enrollment_periods (left(insuplc_admdvs, 4), valid_from)
    WHERE insutype = '390';

-- a region's year rolled, once
CREATE TABLE premium_rolls (
    region       text NOT NULL,
    year         integer NOT NULL,
    event_id     text NOT NULL,
    input_seq    bigint NOT NULL,
    recorded_at  timestamptz NOT NULL,
    PRIMARY KEY (region, year)
);

-- the rolls a person's ledger has taken, at their place in the person's order
CREATE TABLE person_rolls (
    psn_no    text NOT NULL,
    region    text NOT NULL,
    year      integer NOT NULL,
    seq       bigint NOT NULL,
    event_id  text NOT NULL,
    PRIMARY KEY (psn_no, region, year)
);

-- the new kinds of input, of queued input and of record; a premium record, like a claim's first
-- settlement, never pays below zero nor more than the bill (the contribution)
ALTER TABLE inputs DROP CONSTRAINT inputs_kind_check;
ALTER TABLE inputs ADD CONSTRAINT inputs_kind_check
    CHECK (kind IN ('claim', 'cancellation', 'eligibility', 'close', 'other', 'enrollment', 'roll'));
ALTER TABLE person_queue DROP CONSTRAINT person_queue_kind_check;
ALTER TABLE person_queue ADD CONSTRAINT person_queue_kind_check
    CHECK (kind IN ('claim', 'correction', 'cancellation', 'eligibility', 'close', 'enrollment', 'roll'));
ALTER TABLE settlements DROP CONSTRAINT settlements_kind_check;
ALTER TABLE settlements ADD CONSTRAINT settlements_kind_check
    CHECK (kind IN ('settlement', 'adjustment', 'reversal', 'year_end', 'premium'));
ALTER TABLE settlements ADD CONSTRAINT settlements_premium_within_contribution
    CHECK (kind <> 'premium' OR (fund_pay_sumamt >= 0 AND fund_pay_sumamt <= medfee_sumamt));

-- the roles (0009): the enrollment worker records enrollment changes, the premiums worker rolls; each
-- puts a roll in the order of the persons it concerns, as eligibility does for a grant after a roll
DO $$
DECLARE
    kind text;
BEGIN
    FOREACH kind IN ARRAY ARRAY['enrollment', 'premiums'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'onestop_' || kind) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', 'onestop_' || kind);
        END IF;
        EXECUTE format('GRANT onestop_worker TO %I', 'onestop_' || kind);
    END LOOP;
END
$$;
GRANT SELECT ON signing_keys TO onestop_enrollment, onestop_premiums;

GRANT SELECT, INSERT ON enrollment_events, person_queue, person_rolls TO onestop_enrollment;
GRANT SELECT, INSERT, DELETE ON enrollment_periods TO onestop_enrollment;
GRANT SELECT ON claims_received, identity_periods, premium_rolls TO onestop_enrollment;

GRANT SELECT, INSERT ON person_rolls TO onestop_eligibility;
GRANT SELECT ON enrollment_periods, premium_rolls TO onestop_eligibility;

GRANT SELECT, INSERT ON premium_rolls, person_rolls, person_queue TO onestop_premiums;
GRANT SELECT ON enrollment_periods, identity_periods TO onestop_premiums;

-- the ledger and presettle read every input a person's ledger is built from
GRANT SELECT ON enrollment_events, premium_rolls, person_rolls TO onestop_ledger, onestop_presettle;
-- the console (0012) shows a person's insurance and premium subsidies, and reads their history
GRANT SELECT ON enrollment_events, premium_rolls, person_rolls TO onestop_console;
