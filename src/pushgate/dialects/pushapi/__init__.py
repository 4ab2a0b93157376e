"""The "POST Push API" (seed 001): send to one user, JSON or XML."""
