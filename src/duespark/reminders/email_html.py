"""The HTML part of a reminder email: a small page, paragraphs, and a pay button.

No external resources and no scripts; only absolute http(s) links become buttons.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from markupsafe import Markup

# Characters that end a line or a header somewhere: never in a subject or a link.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def is_web_link(url: str) -> bool:
    """Only absolute http(s) links become buttons: never ``javascript:`` or ``data:``."""
    if not url or CONTROL_CHARACTERS.search(url) or any(char.isspace() for char in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)


BUTTON_STYLE = (
    "display:inline-block;padding:12px 24px;background-color:#1d4ed8;color:#ffffff;"
    "font-weight:600;text-decoration:none;border-radius:6px"
)


def pay_button(url: str, invoice_number: str) -> str:
    """What ``{{ pay_link }}`` prints in the HTML part: a button for a web link, plain
    (later escaped) text for anything else, nothing for no link."""
    if not is_web_link(url):
        return url
    return Markup('<a href="{}" style="{}">Pay invoice {}</a>').format(
        url, Markup(BUTTON_STYLE), invoice_number
    )


_LAYOUT = Markup(
    '<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    "<title>{title}</title>\n</head>\n"
    '<body style="margin:0;padding:0;background-color:#f4f4f5">\n'
    '<div role="article" aria-label="{title}" style="max-width:600px;margin:0 auto;'
    "padding:24px;background-color:#ffffff;color:#1f2937;font-family:-apple-system,"
    "'Segoe UI',Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5\">\n"
    "{content}\n</div>\n</body>\n</html>\n"
)


def page(subject: str, body: Markup, *, lang: str) -> str:
    """Blank-line separated paragraphs become ``<p>``, single newlines ``<br>``, inside a
    small inline-styled page: no external resources, no scripts."""
    paragraphs = [part.strip() for part in re.split(r"\n[ \t]*\n", body.strip())]
    content = Markup("\n").join(
        Markup('<p style="margin:0 0 16px">{}</p>').format(
            Markup("<br>\n").join(Markup(line) for line in part.split("\n"))
        )
        for part in paragraphs
        if part
    )
    return str(_LAYOUT.format(lang=lang, title=subject, content=content))
