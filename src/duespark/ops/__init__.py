"""The runbooks as library code; the CLI and the server call these."""
