"""The workers — intake, cancellation, one per payer, the ledger, eligibility, year-end and
pre-settlement — and the harness and drivers they run in. The store is `store/`, the CLI `cli/`."""
