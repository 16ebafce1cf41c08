"""Clients: the people and companies an account invoices."""
