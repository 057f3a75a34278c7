-- 0010: a parked message comes back whole, and an operator can resolve one.
--
-- A parked message keeps its record's headers: a signed input's key id and signature travel there
-- (streams/signing.py), and without them `onestop parked retry` sent it again unsigned, to be
-- refused. Header names are kept as bytes too: a name may hold what text cannot (a NUL).
ALTER TABLE parked
    ADD COLUMN header_names  bytea[] NOT NULL DEFAULT '{}',
    ADD COLUMN header_values bytea[] NOT NULL DEFAULT '{}',
    ADD CHECK (cardinality(header_names) = cardinality(header_values));

-- A parked message an operator drops (`onestop parked drop ID --reason`) is kept here, whole, with
-- who dropped it, as which database role, when and why; the person's later messages that waited
-- behind it then run again. Nothing here is ever changed or deleted.
CREATE TABLE parked_dropped (
    dropped_id    bigserial PRIMARY KEY,
    parked_id     bigint NOT NULL UNIQUE,
    worker        text NOT NULL,
    topic         text NOT NULL,
    "partition"   integer,
    "offset"      bigint,
    msg_key       bytea,
    msg_value     bytea,
    header_names  bytea[] NOT NULL,
    header_values bytea[] NOT NULL,
    error         text NOT NULL,
    behind        boolean NOT NULL,
    parked_at     timestamptz NOT NULL,
    reason        text NOT NULL CHECK (btrim(reason) <> ''),
    dropped_by    text NOT NULL CHECK (btrim(dropped_by) <> ''),  -- the operator, as they named themselves
    dropped_as    text NOT NULL DEFAULT session_user,  -- the database role they dropped it as
    dropped_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parked_dropped_worker ON parked_dropped (worker, dropped_id);

CREATE FUNCTION onestop_kept_for_good() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is kept for good: its rows are neither changed nor deleted', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER parked_dropped_kept BEFORE UPDATE OR DELETE ON parked_dropped
    FOR EACH ROW EXECUTE FUNCTION onestop_kept_for_good();

-- The workers' roles (0009): every worker parks its messages, headers included (onestop_worker's
-- SELECT, INSERT and DELETE on parked are the table's, so they cover the new columns; a message
-- parked again at its place takes only the new error, UPDATE (error)). Dropping is an operator's
-- act (the owner's role, as `onestop parked` connects): no worker's role may read or write
-- parked_dropped.
REVOKE ALL ON parked_dropped FROM onestop_worker;
