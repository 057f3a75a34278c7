"""Workers (intake, one per payer, eligibility, ledger), the PostgreSQL store and the CLI."""
