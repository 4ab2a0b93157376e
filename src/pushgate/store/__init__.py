"""Storage: the only package that writes SQL. Same schema on SQLite and PostgreSQL."""
