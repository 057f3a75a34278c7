-- The person "" (whose order holds the inputs that name no one person: year-end closes, premium rolls)
-- has a row from the start: a claim, grant or enrollment change shares it while it reads the closes and
-- rolls, and a close or roll is received under its exclusive lock (store/postgres/connection.py,
-- persons_locked), so that neither misses the other. A row that does not exist cannot be shared.
INSERT INTO persons (psn_no) VALUES ('') ON CONFLICT (psn_no) DO NOTHING;
