-- 0011: every table of a person's rows can be distributed by the person (docs/national-load.md).
--
-- A person's order is a sequence of their own (persons.last_seq), taken under a lock on their row
-- in persons — a row lock on a table distributed like the others, not an advisory lock that holds
-- only through one coordinator; every unique key of a table holding a person's rows begins with
-- psn_no; nothing takes a table lock. An input that concerns no one person (a close as received, an
-- event too broken to name one) is the person "". The seqs already given stay: they grow within
-- each person, so they are already each person's order; new ones continue from each person's last.
--
-- Topics do not survive a restart of the embedded broker: offsets start again at 0. Each life of
-- the topics (broker_lives: a new one each time init creates the topics afresh) is part of a
-- message's place, so that nothing received after a restart is taken for something received before.

CREATE TABLE broker_lives (
    life       integer PRIMARY KEY,
    began_at   timestamptz NOT NULL DEFAULT now(),
    bootstrap  text NOT NULL DEFAULT ''
);

CREATE TABLE persons (
    psn_no    text PRIMARY KEY,
    last_seq  bigint NOT NULL DEFAULT 0
);
-- a person's next place is after every place they have: of their inputs, records and alerts alike
INSERT INTO persons (psn_no, last_seq)
SELECT n, max(s) FROM (
    SELECT coalesce(psn_no, '') AS n, seq AS s FROM inputs
    UNION ALL SELECT psn_no, seq FROM settlements
    UNION ALL SELECT psn_no, seq FROM alerts
) AS places GROUP BY n;

-- the archive: a person's inputs by (psn_no, seq); a place is (psn_no, life, topic, partition, offset, digest)
UPDATE inputs SET psn_no = '' WHERE psn_no IS NULL;
ALTER TABLE inputs ALTER COLUMN psn_no SET DEFAULT '', ALTER COLUMN psn_no SET NOT NULL;
ALTER TABLE inputs ADD COLUMN life integer NOT NULL DEFAULT 0;
ALTER TABLE inputs DROP CONSTRAINT inputs_pkey;
ALTER TABLE inputs ALTER COLUMN seq DROP DEFAULT;
DROP SEQUENCE inputs_seq_seq;
ALTER TABLE inputs ADD PRIMARY KEY (psn_no, seq);
DROP INDEX inputs_position;
CREATE UNIQUE INDEX inputs_position ON inputs (psn_no, life, topic, "partition", "offset", digest)
    WHERE "partition" IS NOT NULL AND "offset" IS NOT NULL;
DROP INDEX inputs_psn_no;
CREATE INDEX inputs_received ON inputs (received_at);

-- claims: a person's, by the claim's key (a hospital's claim id names a claim of that person)
ALTER TABLE claims_received DROP CONSTRAINT claims_received_pkey;
ALTER TABLE claims_received ADD PRIMARY KEY (psn_no, claim_key, revision);
DROP INDEX claims_received_psn_no;
-- …and a hospital's claim id names one person's claim: who it belongs to is kept by the claim's key
-- (a table distributed by claim_key, not by person: docs/national-load.md), so that the same claim
-- id sent for a second person is refused, never paid twice.
CREATE TABLE claim_owners (
    claim_key  text PRIMARY KEY,
    psn_no     text NOT NULL
);
INSERT INTO claim_owners (claim_key, psn_no)
SELECT DISTINCT ON (claim_key) claim_key, psn_no FROM claims_received ORDER BY claim_key, revision;

-- cancellations, eligibility changes: a person's
ALTER TABLE cancellations DROP CONSTRAINT cancellations_pkey;
ALTER TABLE cancellations ADD PRIMARY KEY (psn_no, fixmedins_code, event_id);
DROP INDEX cancellations_claim;
CREATE INDEX cancellations_claim ON cancellations (psn_no, claim_key);
ALTER TABLE identity_events DROP CONSTRAINT identity_events_pkey;
ALTER TABLE identity_events ADD PRIMARY KEY (psn_no, authority, event_id);
ALTER TABLE identity_events DROP COLUMN seq;
DROP INDEX identity_events_psn_category;
CREATE INDEX identity_events_psn_category ON identity_events (psn_no, category);

-- the closes a person's ledger has taken, at their place in the person's order
CREATE TABLE person_closes (
    psn_no    text NOT NULL,
    region    text NOT NULL,
    year      integer NOT NULL,
    seq       bigint NOT NULL,
    event_id  text NOT NULL,
    PRIMARY KEY (psn_no, region, year)
);
INSERT INTO person_closes (psn_no, region, year, seq, event_id)
SELECT DISTINCT ON (c.psn_no, y.region, y.year) c.psn_no, y.region, y.year, y.input_seq, y.event_id
FROM year_closes AS y JOIN claims_received AS c ON c.region = y.region AND c.year = y.year
ORDER BY c.psn_no, y.region, y.year;
-- each close already taken is in the archive of each person it settled, at the place it had (a seq
-- of the one order there was then, so after the person's earlier inputs and before their later ones)
INSERT INTO inputs (psn_no, seq, life, topic, "partition", "offset", digest, raw, kind, outcome, reason, received_at)
SELECT p.psn_no, p.seq, i.life, i.topic, i."partition", i."offset", i.digest, i.raw, i.kind, i.outcome, i.reason, i.received_at
FROM person_closes AS p JOIN inputs AS i ON i.psn_no = '' AND i.seq = p.seq AND i.kind = 'close';

-- records and alerts: a person's, in the person's order
ALTER TABLE settlements DROP CONSTRAINT settlements_pkey;
ALTER TABLE settlements DROP CONSTRAINT settlements_seq_key;
ALTER TABLE settlements ALTER COLUMN seq DROP DEFAULT;
DROP SEQUENCE settlements_seq_seq;
ALTER TABLE settlements ADD PRIMARY KEY (psn_no, settlement_id);
CREATE UNIQUE INDEX settlements_order ON settlements (psn_no, seq);
DROP INDEX settlements_psn_no;
DROP INDEX settlements_claim_key;
CREATE INDEX settlements_claim_key ON settlements (psn_no, claim_key);
CREATE INDEX settlements_recorded ON settlements (recorded_at);
ALTER TABLE alerts DROP CONSTRAINT alerts_pkey;
ALTER TABLE alerts DROP CONSTRAINT alerts_seq_key;
ALTER TABLE alerts ALTER COLUMN seq DROP DEFAULT;
DROP SEQUENCE alerts_seq_seq;
ALTER TABLE alerts ADD PRIMARY KEY (psn_no, alert_id);
DROP INDEX alerts_unpublished;
CREATE INDEX alerts_unpublished ON alerts (psn_no, seq) WHERE NOT published;

-- what was refused, and what a worker could not handle: a person's ("" when none is named)
ALTER TABLE rejections ADD COLUMN psn_no text NOT NULL DEFAULT '';
ALTER TABLE rejections ADD COLUMN life integer NOT NULL DEFAULT 0;
ALTER TABLE rejections DROP CONSTRAINT rejections_pkey;
ALTER TABLE rejections ADD PRIMARY KEY (psn_no, id);
DROP INDEX rejections_position;
CREATE UNIQUE INDEX rejections_position ON rejections (psn_no, life, topic, "partition", "offset")
    WHERE "partition" IS NOT NULL AND "offset" IS NOT NULL;
ALTER TABLE parked ADD COLUMN psn_no text NOT NULL DEFAULT '';
UPDATE parked SET psn_no = coalesce(convert_from(msg_key, 'UTF8'), '') WHERE msg_key IS NOT NULL;
ALTER TABLE parked ADD COLUMN life integer NOT NULL DEFAULT 0;
ALTER TABLE parked DROP CONSTRAINT parked_pkey;
ALTER TABLE parked ADD PRIMARY KEY (psn_no, parked_id);
DROP INDEX parked_position;
CREATE UNIQUE INDEX parked_position ON parked (psn_no, worker, life, topic, "partition", "offset")
    WHERE "partition" IS NOT NULL AND "offset" IS NOT NULL;

ALTER TABLE parked_dropped ADD COLUMN psn_no text NOT NULL DEFAULT '';
ALTER TABLE parked_dropped DISABLE TRIGGER parked_dropped_kept;  -- the one change its rows ever get: whose they are
UPDATE parked_dropped SET psn_no = coalesce(convert_from(msg_key, 'UTF8'), '') WHERE msg_key IS NOT NULL;
ALTER TABLE parked_dropped ENABLE TRIGGER parked_dropped_kept;
ALTER TABLE parked_dropped ADD COLUMN life integer NOT NULL DEFAULT 0;
ALTER TABLE parked_dropped DROP CONSTRAINT parked_dropped_pkey;
ALTER TABLE parked_dropped DROP CONSTRAINT parked_dropped_parked_id_key;
ALTER TABLE parked_dropped ADD PRIMARY KEY (psn_no, dropped_id);
CREATE UNIQUE INDEX parked_dropped_parked ON parked_dropped (psn_no, parked_id);

-- the roles (0009): the persons' rows are taken and counted by whoever records a person's input
GRANT SELECT, INSERT ON persons TO onestop_worker;
GRANT UPDATE (last_seq) ON persons TO onestop_worker;
GRANT SELECT ON broker_lives TO onestop_worker;
GRANT SELECT, INSERT ON claim_owners TO onestop_intake;
GRANT SELECT ON claim_owners TO onestop_cancellation, onestop_ledger;
GRANT SELECT, INSERT ON person_closes TO onestop_intake, onestop_year_end;
GRANT SELECT ON person_closes TO onestop_ledger, onestop_presettle;
