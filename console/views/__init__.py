"""The console's pages, one module per role (and signing in)."""
