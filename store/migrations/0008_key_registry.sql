-- 0008: registering a key is an administrator's act, on proof that the key's holder has the
-- private half. The registry issues a random challenge (key_challenges), good once and until it
-- expires; the holder signs it with the key (schemas/keys.py registration_statement) and the
-- administrator adds the key with that proof, which uses the challenge up and stays here beside it.
CREATE TABLE key_challenges (
    challenge   text PRIMARY KEY,
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    key_id      text,  -- the key registered with it
    signature   text,  -- the holder's proof: the key's signature of the registration statement
    CHECK ((used_at IS NULL) = (key_id IS NULL))
);

-- The administrator's role (`onestop keys challenge | add | revoke | list`): the key registry and
-- nothing else. It adds keys and sets a key's revocation; it cannot change or delete a key, nor
-- read or write anything of the ledger.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'onestop_admin') THEN
        CREATE ROLE onestop_admin LOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO onestop_admin;
GRANT SELECT, INSERT ON signing_keys TO onestop_admin;
GRANT UPDATE (revoked_at) ON signing_keys TO onestop_admin;
GRANT SELECT, INSERT ON key_challenges TO onestop_admin;
GRANT UPDATE (used_at, key_id, signature) ON key_challenges TO onestop_admin;
