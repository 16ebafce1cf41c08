"""Security headers, static files, and the HTML error pages of the web UI, next to a
JSON API that keeps its own answers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from duespark.web.headers import CONTENT_SECURITY_POLICY
from tests.web.helpers import html, sign_up

STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def test_pages_carry_the_security_headers(web: TestClient) -> None:
    assert CONTENT_SECURITY_POLICY == STRICT_CSP
    sign_up(web)
    for path in ["/app", "/app/clients", "/app/login", "/app/no-such-page", "/app/clients/abc"]:
        response = web.get(path)
        assert response.headers["content-security-policy"] == STRICT_CSP, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in response.headers  # development


def test_pages_hold_no_inline_script_or_style(web: TestClient) -> None:
    """The policy forbids them, so a page that used one would break: none does."""
    sign_up(web)
    page = html(web.get("/app/clients/new"))
    # One script, from this site's static files; no inline code at all.
    [script] = page.find_all("script")
    assert script.attrs["src"].startswith("/app/static/duespark.js") and not script.children
    assert not page.find_all("style")
    assert not [element for element in page.iter() if "style" in element.attrs]
    [stylesheet] = page.find_all("link", rel="stylesheet")
    assert stylesheet.attrs["href"].startswith("/app/static/duespark.css")


def test_the_stylesheet_is_served_and_cacheable(web: TestClient) -> None:
    response = web.get("/app/static/duespark.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "cache-control" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
    assert ":focus-visible" in response.text
    assert web.get("/app/static/missing.css").status_code == 404


def test_the_api_and_its_docs_keep_working(web: TestClient) -> None:
    docs = web.get("/docs")
    assert docs.status_code == 200
    # Swagger UI loads its scripts from a CDN: no strict policy there.
    assert "content-security-policy" not in docs.headers
    assert docs.headers["x-content-type-options"] == "nosniff"
    schema = web.get("/openapi.json").json()
    assert not [path for path in schema["paths"] if path.startswith("/app") or path == "/"]
    api = web.get("/clients/abc")
    assert api.status_code == 401
    assert api.json()["error"]["code"] == "not_authenticated"
    missing = web.get("/no-such-endpoint")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_unknown_pages_and_bad_ids_are_html_404_pages(web: TestClient) -> None:
    sign_up(web)
    for path in ["/app/nothing-here", "/app/clients/abc", "/app/invoices/0", "/app/clients/99999"]:
        response = web.get(path)
        assert response.status_code == 404, path
        page = html(response)
        assert page.find("h1").text == "Page not found"
        # The layout is there, with the way home.
        assert page.find("nav", class_="site-nav")


def test_an_unknown_page_needs_no_login_to_be_a_404(web: TestClient) -> None:
    response = web.get("/app/nothing-here")
    assert response.status_code == 404
    assert html(response).find("a", href="/app/login").text == "Log in"
