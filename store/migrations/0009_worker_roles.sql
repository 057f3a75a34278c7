-- 0009: least privilege, each kind of worker its own role.
--
-- Every worker connects as the role of its kind and can do what that kind does and nothing else:
-- only the ledger writes money (records, alerts, year totals); intake, cancellation, eligibility
-- and year_end record their inputs and queue them; the payers and presettle write nothing but
-- what every worker keeps (the archive of what it refused, parked messages). No worker can touch
-- the key registry but to read it (0008: the administrator's role writes it), nor change or delete
-- a record or an archived input: the ledger and the archive are append-only, by these grants and,
-- where a grant cannot say it, by the triggers below. The owner (migrations, operators) keeps all.

DO $$
DECLARE
    kind text;
BEGIN
    FOREACH kind IN ARRAY ARRAY['intake', 'cancellation', 'eligibility', 'year_end', 'ledger', 'payer', 'presettle'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'onestop_' || kind) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', 'onestop_' || kind);
        END IF;
        EXECUTE format('GRANT onestop_worker TO %I', 'onestop_' || kind);
    END LOOP;
END
$$;

-- onestop_worker (0005) becomes what every worker has, and no one logs in as it any more.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM onestop_worker;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM onestop_worker;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM onestop_worker;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM onestop_worker;
ALTER ROLE onestop_worker NOLOGIN;
GRANT USAGE ON SCHEMA public TO onestop_worker;
GRANT SELECT ON schema_migrations TO onestop_worker;
-- every input a worker receives is archived, refused ones kept with their reason; what it cannot
-- handle is parked
GRANT SELECT, INSERT ON inputs, rejections TO onestop_worker;
GRANT UPDATE (outcome, reason) ON inputs TO onestop_worker;
GRANT SELECT, INSERT, DELETE ON parked TO onestop_worker;
GRANT UPDATE (error) ON parked TO onestop_worker;
GRANT USAGE ON SEQUENCE inputs_seq_seq, rejections_id_seq, parked_parked_id_seq TO onestop_worker;

-- those that verify signatures read the public keys
GRANT SELECT ON signing_keys TO onestop_intake, onestop_cancellation, onestop_eligibility, onestop_year_end, onestop_presettle;

-- intake: claims received and queued, with what it must know to decide (periods, closes, the
-- ledger's totals its claims travel with), and a waiting cancellation matched to its claim
GRANT SELECT, INSERT ON claims_received, person_queue TO onestop_intake;
GRANT SELECT ON identity_periods, year_closes, year_totals TO onestop_intake;
GRANT SELECT ON cancellations TO onestop_intake;
GRANT UPDATE (status) ON cancellations TO onestop_intake;

-- cancellation: cancellations recorded and queued
GRANT SELECT, INSERT ON cancellations, person_queue TO onestop_cancellation;
GRANT SELECT ON claims_received TO onestop_cancellation;

-- eligibility: changes recorded, the periods folded again, queued for persons with claims
GRANT SELECT, INSERT ON identity_events, person_queue TO onestop_eligibility;
GRANT SELECT, INSERT, DELETE ON identity_periods TO onestop_eligibility;
GRANT SELECT ON claims_received TO onestop_eligibility;
GRANT USAGE ON SEQUENCE identity_events_seq_seq TO onestop_eligibility;

-- year_end: closes recorded and queued for the persons of the region's year
GRANT SELECT, INSERT ON year_closes, person_queue TO onestop_year_end;
GRANT SELECT ON claims_received TO onestop_year_end;

-- the ledger, the one writer of money: records, alerts and year totals; it reads every input a
-- person's ledger is built from, and takes inputs off the queue as they take effect
GRANT SELECT ON claims_received, cancellations, identity_events, year_closes TO onestop_ledger;
GRANT SELECT, INSERT ON settlements, alerts TO onestop_ledger;
GRANT UPDATE (published) ON settlements, alerts TO onestop_ledger;
GRANT SELECT, INSERT, UPDATE, DELETE ON year_totals TO onestop_ledger;
GRANT SELECT, DELETE ON person_queue TO onestop_ledger;
GRANT UPDATE (ready, flagged) ON person_queue TO onestop_ledger;
GRANT USAGE ON SEQUENCE settlements_seq_seq, alerts_seq_seq TO onestop_ledger;

-- presettle: a person's history, read to answer; nothing written
GRANT SELECT ON claims_received, cancellations, identity_events, year_closes TO onestop_presettle;

-- What grants cannot say, for the workers' roles (the owner, an operator, is not held to it). A
-- record is marked published once, and never back; nothing else of it changes (the grant allows no
-- other column). An archived input's outcome and reason are set in the transaction that archived it
-- (a repeat or a refusal found while deciding), never later.
CREATE FUNCTION onestop_is_worker() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM pg_auth_members AS m JOIN pg_roles AS g ON g.oid = m.roleid JOIN pg_roles AS u ON u.oid = m.member
                   WHERE g.rolname = 'onestop_worker' AND u.rolname = current_user)
$$;

CREATE FUNCTION onestop_published_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.published AND NOT NEW.published AND onestop_is_worker() THEN
        RAISE EXCEPTION 'a published record stays published (%)', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER settlements_published_once BEFORE UPDATE ON settlements FOR EACH ROW EXECUTE FUNCTION onestop_published_once();
CREATE TRIGGER alerts_published_once BEFORE UPDATE ON alerts FOR EACH ROW EXECUTE FUNCTION onestop_published_once();

CREATE FUNCTION onestop_archived_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.received_at <> now() AND onestop_is_worker() THEN
        RAISE EXCEPTION 'an archived input is not changed after the transaction that archived it (seq %)', OLD.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER inputs_archived_once BEFORE UPDATE ON inputs FOR EACH ROW EXECUTE FUNCTION onestop_archived_once();
