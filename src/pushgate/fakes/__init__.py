"""Fake APNs, FCM, Web Push, WNS and SMS servers that speak the real wire protocols.

They ship with the product (`pushgate fakes`, `pushgate serve --fake-providers`) so users can
develop without Apple or Google accounts, and the adapters are tested against them over real
sockets. They import only pushgate.domain: the oracle must not share an adapter's misreading.
"""
