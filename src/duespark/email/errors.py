"""Why an email could not be sent, so the relay can decide between retrying and giving up.

The tree::

    EmailError
    ├── InvalidEmail (also ValueError)   the message itself is unusable (bad address, unsafe
    │                                    header): retrying cannot help, it goes dead at once
    └── DeliveryFailed                   the transport failed; ``permanent`` when the server
        │                                refused the recipient for good (5xx)
        └── TransportUnavailable         no usable connection (server down, TLS or login
                                         failed): every message of the batch fails alike
"""

from __future__ import annotations


class EmailError(Exception):
    """Base of every error the email package raises on purpose."""


class InvalidEmail(EmailError, ValueError):
    """The message cannot be sent as it is; raised before anything touches the network."""


class DeliveryFailed(EmailError):
    """The transport did not accept the message."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class TransportUnavailable(DeliveryFailed):
    """No connection could be opened or kept; nothing in the batch can be sent right now."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=False)
