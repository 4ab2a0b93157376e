"""MobileFirst Server Push Service REST API (seed 003): /imfpush/v1 and the token endpoint.

Translation only: devices (services/app_devices.py), messages (services/app_messages.py),
webhooks (services/webhooks.py), confidential clients (services/oauth_clients.py). Mapping
decisions: docs/dialects.md, "MobileFirst Push Service (seed 003)".
"""
