"""Reminders: the policy, planning, templates, the ledger of sends and skips."""
