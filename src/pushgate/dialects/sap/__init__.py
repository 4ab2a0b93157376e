"""SAP Mobile Services push API (seed 002): the back-end push API with service keys, the
registration queries, and the device runtime API, served at /mobileservices/push/... and
under the configured service paths. Translation only; mapping decisions: docs/dialects.md."""
