"""Values and rules of push delivery: no I/O, no async, depends on nothing but errors."""
