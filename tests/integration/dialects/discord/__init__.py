"""Discord-style device registration (seed 004) against the real app and database."""
