"""Vendor dialects against the real app and database."""
