"""pushgate: a self-hosted push notification service."""

__version__ = "0.1.0"
