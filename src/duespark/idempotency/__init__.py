"""Idempotency keys on create requests: a retried request gets the first answer, once."""
