"""The Web Push adapter against the fake push service (fixtures in conftest.py)."""
