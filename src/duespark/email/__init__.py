"""Outgoing email: the message, the sender protocol and its implementations.

``message`` builds safe MIME messages; ``sender`` holds the protocol and picks an
implementation from ``DUESPARK_EMAIL_URL``; ``smtp``, ``local`` (file and console) and
``recording`` are the implementations.
"""
