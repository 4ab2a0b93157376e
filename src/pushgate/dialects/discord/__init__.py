"""Discord-style device registration (seed 004): a signed-in user registers its devices."""
