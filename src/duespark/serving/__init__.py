"""Serving HTTP: graceful drain on SIGTERM, and several server processes on one socket.

:mod:`.drain` holds the per-process drain flag the application reads (``/readyz``);
:mod:`.server` is the uvicorn server that drains before it shuts down; :mod:`.supervisor`
runs one or several of them for ``duespark serve``.
"""
