"""Email templates: each account's own wording for the four reminder tones."""
