"""libcurl error codes -> the TransportError classes of providers/http.py (http_curl.py).

What libcurl does on GOAWAY and REFUSED_STREAM, and so why most of them never reach this
table, is in http_curl.py's docstring.
"""

from __future__ import annotations

import pycurl

from pushgate.providers.http import (
    ConnectFailed,
    ConnectionLost,
    TimedOut,
    TransportError,
    Unprocessed,
)

_CURLE_HTTP2_STREAM = 92  # not exported by pycurl 7.49

# Errors before any byte of the request could leave: the server never saw it. Not
# E_UNSUPPORTED_PROTOCOL: libcurl also gives it for an answer whose status line is not HTTP
# ("Received HTTP/0.9 when not allowed"), a request the server did see; taken for unsent, such
# a poison answer was resent forever without counting an attempt (reliability.md F11).
_CONNECT_ERRORS = frozenset(
    {
        pycurl.E_COULDNT_RESOLVE_HOST,
        pycurl.E_COULDNT_CONNECT,
        pycurl.E_SSL_CONNECT_ERROR,
        pycurl.E_PEER_FAILED_VERIFICATION,
        pycurl.E_SSL_CERTPROBLEM,
        pycurl.E_SSL_CIPHER,
        pycurl.E_SSL_CACERT_BADFILE,
        pycurl.E_SSL_ISSUER_ERROR,
        pycurl.E_SSL_PINNEDPUBKEYNOTMATCH,
        pycurl.E_URL_MALFORMAT,
    }
)


def transport_error(errno: int, message: str, *, started: bool) -> TransportError:
    """The TransportError for a libcurl error code; `started` = the transfer reached the wire."""
    text = f"curl error {errno}: {message}"
    if errno in _CONNECT_ERRORS:
        return ConnectFailed(text)
    if errno == pycurl.E_OPERATION_TIMEDOUT:
        # Timed out while still waiting for a connection or a free stream: never sent.
        return TimedOut(text) if started else ConnectFailed(text)
    if errno == _CURLE_HTTP2_STREAM and "REFUSED_STREAM" in message:
        return Unprocessed(text)
    if errno in (pycurl.E_FILESIZE_EXCEEDED, pycurl.E_WRITE_ERROR):
        return ConnectionLost(f"answer larger than the limit ({text})")
    return ConnectionLost(text)
