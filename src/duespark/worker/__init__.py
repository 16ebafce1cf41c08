"""The background worker: plans due reminders and relays the outbox, in a loop."""
