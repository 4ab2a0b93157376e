"""The fakes' pure rules."""
