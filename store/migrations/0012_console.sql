-- 0012: the web console (console/, `onestop console`): its accounts, their sessions, every view of a
-- person's data, and what its users did; and its own database role.
--
-- The console connects as onestop_console. It reads what its pages show (the ledger, a person's
-- inputs and categories, the archive, what is parked, the key registry's public keys) and writes
-- only its own tables. Its one action that moves money, the year-end close, is published on the
-- broker signed with the bureau's key, as `onestop year-end close` does; the console writes no
-- ledger table. Views of a person's data and the actions are append-only for it.

CREATE TABLE console_accounts (
    name           text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._@-]{1,64}$'),
    role           text NOT NULL CHECK (role IN ('caseworker', 'hospital', 'finance', 'auditor', 'operator', 'admin')),
    -- caseworker: the regions (policy regions, e.g. zhengzhou) whose persons it may see, one or more;
    -- hospital: its one fixmedins_code; the other roles: none
    scope          text[] NOT NULL DEFAULT '{}',
    password_hash  text NOT NULL,  -- argon2id, with its parameters and salt (argon2-cffi's encoded form)
    failures       integer NOT NULL DEFAULT 0,  -- wrong passwords in a row
    locked_until   timestamptz,  -- set after too many wrong passwords in a row
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text NOT NULL,
    CHECK (CASE role WHEN 'caseworker' THEN cardinality(scope) >= 1 WHEN 'hospital' THEN cardinality(scope) = 1
                     ELSE cardinality(scope) = 0 END)
);

-- A session is the signed cookie's id; ended on sign-out, expired when idle.
CREATE TABLE console_sessions (
    session_id  text PRIMARY KEY,
    account     text NOT NULL REFERENCES console_accounts (name),
    created_at  timestamptz NOT NULL DEFAULT now(),
    seen_at     timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz
);
CREATE INDEX console_sessions_account ON console_sessions (account);

-- Every view of a person's data: who, when, which person, on which page (a personal-information
-- law requirement for such systems); the auditor reads it in the console.
CREATE TABLE console_person_views (
    view_id    bigserial PRIMARY KEY,
    account    text NOT NULL,
    role       text NOT NULL,
    psn_no     text NOT NULL,
    page       text NOT NULL,
    viewed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_person_views_psn_no ON console_person_views (psn_no, viewed_at);

-- What the console's users did: sign-ins (and refusals, lock-outs), accounts made and unlocked,
-- year-end closes published, parked messages retried, audit runs started.
CREATE TABLE console_actions (
    action_id  bigserial PRIMARY KEY,
    account    text NOT NULL,
    action     text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb,
    done_at    timestamptz NOT NULL DEFAULT now()
);

-- The auditor's background runs of `audit verify` / `audit replay` and their last results.
CREATE TABLE console_jobs (
    job_id      bigserial PRIMARY KEY,
    account     text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('verify', 'replay')),
    state       text NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    result      jsonb
);

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'onestop_console') THEN
        CREATE ROLE onestop_console LOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO onestop_console;
GRANT SELECT ON schema_migrations TO onestop_console;
-- what its pages show: records, a person's inputs, categories and year totals (person, slip,
-- pre-settlement, statement, reconciliation), the archive (audit, a hospital's claims), what waits and
-- is parked (operations), the public keys (admin)
GRANT SELECT ON settlements, claims_received, cancellations, identity_events, identity_periods, year_closes, year_totals,
    inputs, rejections, person_queue, parked, signing_keys TO onestop_console;
-- its own tables; what records a view or an action is never changed or deleted
GRANT SELECT, INSERT ON console_accounts, console_sessions, console_person_views, console_actions, console_jobs
    TO onestop_console;
GRANT UPDATE (password_hash, failures, locked_until, disabled) ON console_accounts TO onestop_console;
GRANT UPDATE (seen_at, ended_at) ON console_sessions TO onestop_console;
GRANT UPDATE (state, ended_at, result) ON console_jobs TO onestop_console;
GRANT USAGE ON SEQUENCE console_person_views_view_id_seq, console_actions_action_id_seq, console_jobs_job_id_seq
    TO onestop_console;
