"""The SAP Mobile Services dialect (seed 002)."""
