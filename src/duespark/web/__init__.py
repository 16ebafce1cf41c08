"""The web pages: server-rendered HTML on the same services as the JSON API.

Each domain's pages live in its ``views.py`` (``auth/``, ``clients/``, ``invoices/``,
``reminders/``, ``templates/``, and the dashboard in ``analytics/views.py``); this package
holds what they share:

* ``wiring.install_pages(app)``: the page routers, static files and security headers;
* ``pages``: ``page_router()`` and the route class that renders every error of a page
  route as an HTML page (the JSON edge keeps its own handlers);
* ``templating``: the Jinja2 environment (autoescaping everywhere) and ``render``;
* ``sessions`` and ``repository``: browser sessions (a cookie holding a random token,
  stored as its hash in ``web_session``);
* ``csrf``, ``signing``, ``cookies``, ``flash``, ``headers``: the web's own protections;
* ``forms``: submitted forms validated by the API's Pydantic schemas, errors per field;
* ``dependencies``: ``PageUser``, ``SignedInForm``, ``PublicForm`` for views to declare;
* ``home``: ``/`` and the 404 page; ``tables``: rows of invoice tables;
* ``charts`` and ``dashboard``: the dashboard's SVG charts and figures, pure;
* ``email_frame``: email previews, a sandboxed document with a policy of its own.

Adding a page: write a route in ``<domain>/views.py`` on a ``page_router()``, a template
under ``web/templates/<domain>/``, and add the router to ``wiring.PAGE_ROUTERS``.
"""
