"""libcurl error codes -> TransportError classes (http_curl_errors.transport_error)."""

from __future__ import annotations

import pycurl
import pytest

from pushgate.providers.http import (
    ConnectFailed,
    ConnectionLost,
    TimedOut,
    TransportError,
    Unprocessed,
)
from pushgate.providers.http_curl_errors import transport_error


@pytest.mark.parametrize(
    ("errno", "message", "started", "expected"),
    [
        (pycurl.E_COULDNT_CONNECT, "Could not connect to server", False, ConnectFailed),
        (pycurl.E_COULDNT_RESOLVE_HOST, "Could not resolve host", False, ConnectFailed),
        (pycurl.E_SSL_CONNECT_ERROR, "TLS connect error", False, ConnectFailed),
        (pycurl.E_PEER_FAILED_VERIFICATION, "SSL certificate problem", False, ConnectFailed),
        # an answer that is not HTTP: the request was sent, so it was an attempt
        (pycurl.E_UNSUPPORTED_PROTOCOL, "Received HTTP/0.9 when not allowed", True, ConnectionLost),
        (pycurl.E_OPERATION_TIMEDOUT, "Operation timed out", True, TimedOut),
        # timed out still waiting for a connection or a stream: it never left
        (pycurl.E_OPERATION_TIMEDOUT, "Operation timed out", False, ConnectFailed),
        (92, "Stream error: REFUSED_STREAM (err 7)", True, Unprocessed),
        (92, "HTTP/2 stream 5 was reset (INTERNAL_ERROR)", True, ConnectionLost),
        (
            pycurl.E_RECV_ERROR,
            "Connection died, tried 5 times before giving up",
            True,
            ConnectionLost,
        ),
        (pycurl.E_SEND_ERROR, "SSL_write failed", True, ConnectionLost),
        (pycurl.E_HTTP2, "Error in the HTTP2 framing layer", True, ConnectionLost),
        (pycurl.E_GOT_NOTHING, "Empty reply from server", True, ConnectionLost),
        (pycurl.E_FILESIZE_EXCEEDED, "Maximum file size exceeded", True, ConnectionLost),
    ],
)
def test_curl_error_maps_to_transport_error(
    errno: int, message: str, started: bool, expected: type[TransportError]
) -> None:
    error = transport_error(errno, message, started=started)
    assert type(error) is expected
    assert error.unsent == expected.unsent
    assert str(errno) in str(error)
