"""SAP's names for pushgate's values: operating systems, providers and result-code texts."""

from __future__ import annotations

from pushgate.domain.platforms import Platform, resolve_platform
from pushgate.domain.statuses import ResultCode
from pushgate.errors import InvalidInput

# The `os` path segment of the runtime API and the `pushProvider` of a registration
# (SAP's "Operating System Identifier"); `baidu` has no provider in pushgate.
OS_OF_PLATFORM: dict[Platform, str] = {
    Platform.APNS: "ios",
    Platform.APNS_VOIP: "ios",
    Platform.FCM: "android",
    Platform.WNS: "windows",
    Platform.WEBPUSH: "w3cpushapi",
    Platform.SMS: "sms",
}
_PLATFORM_OF_OS = {"ios": "apns", "android": "fcm", "windows": "wns", "w3cpushapi": "webpush"}
PROVIDER_NAMES = {
    "apns": "APNs",
    "apns_voip": "APNs",
    "fcm": "FCM",
    "webpush": "Web Push",
    "wns": "WNS",
    "sms": "the SMS gateway",
}

# The document's meaning of each code, used as the message of a failed target.
CODE_TEXTS: dict[ResultCode, str] = {
    ResultCode.QUEUED: "Notification was queued",
    ResultCode.SENT: "success",
    ResultCode.INVALID_DATA: "Notification was rejected because of invalid data",
    ResultCode.TARGET_NOT_FOUND: "The target was not found",
    ResultCode.NOT_QUEUED: "Notification could not be queued",
    ResultCode.CONFIGURATION_EXPIRED: "The notification configuration has expired",
    ResultCode.TOKEN_MISSING: "The push token in the registration is missing",
    ResultCode.TOKEN_REJECTED: "The device token was rejected by {provider}",
    ResultCode.REGISTRATION_EXPIRED: "The device registration has expired",
    ResultCode.TOO_MANY_FOR_DEVICE: "Too many notifications were sent to the device",
    ResultCode.TOO_LARGE: "The native notification is too large",
    ResultCode.NOT_ACCEPTED: "The payload was rejected by {provider}",
    ResultCode.RECOVERABLE_IO: "Recoverable IO problem; the notification was queued",
    ResultCode.PROVIDER_FAILED: "The communication with {provider} failed",
    ResultCode.PROVIDER_FAILED_AGAIN: "The communication with {provider} failed",
    ResultCode.QUOTA_EXCEEDED: "The notification quota for {provider} has been exceeded",
}


def platform_name_of_os(os: str) -> str:
    """The platform alias a runtime `os` segment names: SAP's names, or pushgate's aliases
    (`ios_sandbox` registers a development build through the APNs sandbox)."""
    if os.lower() == "baidu":
        raise InvalidInput("Baidu Push is not supported by this server", field="os")
    name = _PLATFORM_OF_OS.get(os.lower(), os)
    resolve_platform(name, field="os")
    return name


def os_of(platform: str) -> str:
    try:
        return OS_OF_PLATFORM[Platform(platform)]
    except ValueError:
        return platform


def result_message(code: ResultCode, platform: str, reason: str | None) -> str:
    """`success`, or what the code means at which provider, then the provider's reason."""
    if code is ResultCode.SENT:
        return "success"
    text = CODE_TEXTS[code].format(provider=PROVIDER_NAMES.get(platform, "the push provider"))
    return f"{text}: {reason}" if reason else text
