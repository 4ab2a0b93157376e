"""ServiceNow Push Installation API (seed 000): installations of an app user."""
