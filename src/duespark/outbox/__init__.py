"""The transactional outbox: emails written with the change that causes them, sent later.

``writer`` adds a message in the caller's transaction; ``repository`` claims and marks
messages (and keeps the reminder ledger in step through ``ledger``); ``relay`` claims, sends
and marks; ``retry`` and ``recheck`` are the pure rules (when to try again, whether a
reminder may still go out).
"""
