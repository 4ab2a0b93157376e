"""The ServiceNow Push Installation API (seed 000)."""
