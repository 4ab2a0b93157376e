"""The native REST API."""
