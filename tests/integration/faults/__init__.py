"""Fault tests: the fault proxy, slow providers, HTTP/2 connection faults (reliability.md)."""
