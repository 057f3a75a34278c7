-- 0005: least privilege. The workers connect as onestop_worker: they read and write rows, and
-- cannot change the schema (no CREATE, ALTER, DROP, TRUNCATE); migrations run as the owner.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'onestop_worker') THEN
        CREATE ROLE onestop_worker LOGIN;
    END IF;
END
$$;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO onestop_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO onestop_worker;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO onestop_worker;
REVOKE ALL ON schema_migrations FROM onestop_worker;
GRANT SELECT ON schema_migrations TO onestop_worker;
-- tables and sequences later migrations create get the same grants
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO onestop_worker;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO onestop_worker;
