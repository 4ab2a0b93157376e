"""The MobileFirst Push Service API (seed 003) against the real app and database."""
