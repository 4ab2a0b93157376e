"""Web plumbing shared by the native API, the dialects and the console: auth, errors, limits."""
