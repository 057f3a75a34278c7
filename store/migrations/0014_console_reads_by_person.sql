-- 0014: the console (0012) reads a person's ledger as the store now keeps it (0011): a claim's
-- records through whose claim it is (claim_owners), a person's history with the closes put in
-- their order (person_closes), and the life of the topics (broker_lives).
GRANT SELECT ON claim_owners, person_closes, broker_lives TO onestop_console;
