"""The POST Push API dialect (seed 001) against the real app, database and delivery engine."""
