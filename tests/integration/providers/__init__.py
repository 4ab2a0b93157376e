"""Adapters against their fake servers over TLS."""
