"""What people read: finance's monthly clearing statement, the reconciliation with a hospital, the
patient's settlement slip — pure computations from the ledger's records (statement.py,
reconcile.py, slip.py) and their rendering as CSV, JSON, HTML and PDF (render/)."""
