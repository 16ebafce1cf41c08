"""Every ORM table, imported from one place by code and by migrations."""

from duespark.models.base import Base
from duespark.models.client import Client
from duespark.models.invoice import Invoice
from duespark.models.login_failure import LoginFailure
from duespark.models.refresh_token import RefreshToken
from duespark.models.user import User

__all__ = ["Base", "Client", "Invoice", "LoginFailure", "RefreshToken", "User"]
