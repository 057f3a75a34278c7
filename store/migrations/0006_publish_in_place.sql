-- 0006: marking a record published rewrites no index. The partial index on unpublished records
-- made every such UPDATE a new entry in each of the table's five indexes; without it the change
-- touches no indexed column, and with room left on each page (fillfactor) PostgreSQL updates the
-- row in place (HOT). The unpublished records are read per person, by settlements_psn_no.
-- (Alerts keep theirs: they are few, and read through it.)
DROP INDEX IF EXISTS settlements_unpublished;
ALTER TABLE settlements SET (fillfactor = 85);
