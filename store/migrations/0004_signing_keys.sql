-- 0004: the registry of public keys: each bound to the one hospital or authority it speaks for.
CREATE TABLE signing_keys (
    key_id       text PRIMARY KEY,
    signer_kind  text NOT NULL CHECK (signer_kind IN ('hospital', 'authority')),
    signer       text NOT NULL,
    public_key   text NOT NULL,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    revoked_at   timestamptz,
    added_at     timestamptz NOT NULL DEFAULT now()
);
