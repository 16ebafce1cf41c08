"""Every ORM table, imported from one place by code and by migrations."""

from duespark.models.base import Base
from duespark.models.client import Client
from duespark.models.email_template import EmailTemplate
from duespark.models.idempotency_key import IdempotencyKey
from duespark.models.invoice import Invoice
from duespark.models.invoice_activity import InvoiceActivity
from duespark.models.login_failure import LoginFailure
from duespark.models.outbox_message import OutboxMessage
from duespark.models.refresh_token import RefreshToken
from duespark.models.reminder import Reminder
from duespark.models.user import User
from duespark.models.web_session import WebSession
from duespark.models.worker_heartbeat import WorkerHeartbeat

__all__ = [
    "Base",
    "Client",
    "EmailTemplate",
    "IdempotencyKey",
    "Invoice",
    "InvoiceActivity",
    "LoginFailure",
    "OutboxMessage",
    "RefreshToken",
    "Reminder",
    "User",
    "WebSession",
    "WorkerHeartbeat",
]
