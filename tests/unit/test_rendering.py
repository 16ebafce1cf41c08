"""Reminder rendering: the default texts, the sandbox, escaping, locales and one-line subjects."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from duespark.reminders.default_templates import DEFAULT_TEMPLATES, default_template
from duespark.reminders.policy import Tone
from duespark.reminders.rendering import (
    MAX_SUBJECT_LENGTH,
    VARIABLES,
    ReminderContext,
    TemplateInvalid,
    build_context,
    render,
    validate_template,
)

DUE = date(2026, 10, 31)
LINK = "https://pay.example.com/i/42?a=1&b=2"


def context(offset_days: int = 0, **overrides: Any) -> ReminderContext:
    """A reminder ``offset_days`` after the due date (negative: before it)."""
    facts: dict[str, Any] = {
        "client_name": "Globex Corporation",
        "contact_name": "Hank Scorpio",
        "locale": "en",
        "invoice_number": "INV-0042",
        "amount_minor": 125_000,
        "currency": "EUR",
        "due_date": DUE,
        "today": DUE + timedelta(days=offset_days),
        "pay_link": LINK,
        "business_name": "Analytical Engines Ltd",
        "sender_name": "Ada Lovelace",
        "tone": Tone.friendly,
        **overrides,
    }
    return build_context(**facts)


# (tone, days after the due date, words the text must contain, words the subject must contain)
DEFAULT_CASES = [
    (Tone.friendly, -3, "due on October 31, 2026, in 3 days", "Heads-up"),
    (Tone.friendly, -1, "in 1 day.", "is due on October 31, 2026"),
    (Tone.friendly, 0, "is due today", "is due today"),
    (Tone.friendly, 2, "was due on October 31, 2026", "past due"),
    (Tone.neutral, -3, "is due on October 31, 2026", "is due on October 31, 2026"),
    (Tone.neutral, 0, "is due today, October 31, 2026", "is due today"),
    (Tone.neutral, 1, "is now 1 day overdue", "is 1 day overdue"),
    (Tone.neutral, 7, "is now 7 days overdue", "is 7 days overdue"),
    (Tone.firm, -3, "is due on October 31, 2026", "Payment due"),
    (Tone.firm, 0, "is due today", "Payment due"),
    (Tone.firm, 14, "is now 14 days overdue", "Payment overdue"),
    (Tone.final, -3, "by November 4, 2026", "please pay by November 4, 2026"),
    (Tone.final, 0, "which is due today", "please pay by November 7, 2026"),
    (Tone.final, 30, "is now 30 days overdue", "please pay by December 7, 2026"),
]


@pytest.mark.parametrize(("tone", "offset", "in_text", "in_subject"), DEFAULT_CASES)
def test_default_templates_read_right_before_on_and_after_the_due_date(
    tone: Tone, offset: int, in_text: str, in_subject: str
) -> None:
    subject, body = default_template(tone)
    email = render(subject, body, context(offset, tone=tone))
    assert in_text in email.text
    assert in_subject in email.subject
    assert "INV-0042" in email.subject
    assert "€1,250.00" in email.text
    assert email.text.startswith("Hello Hank Scorpio,\n\n")
    assert email.text.rstrip().endswith("Ada Lovelace\nAnalytical Engines Ltd")
    assert "<" not in email.text, "the text part carries no markup"
    assert "{" not in email.text and "}" not in email.text
    assert "\n\n\n" not in email.text
    assert f"You can pay online here: {LINK}" in email.text


@pytest.mark.parametrize("tone", list(Tone))
def test_default_templates_pass_validation_and_leave_out_a_missing_pay_link(tone: Tone) -> None:
    subject, body = default_template(tone)
    assert validate_template(subject, body) == []
    assert len(subject) <= MAX_SUBJECT_LENGTH, "a default must fit the subject column"
    email = render(subject, body, context(3, pay_link=""))
    assert "pay online" not in email.text
    assert "<a " not in email.html


def test_each_tone_has_its_own_wording() -> None:
    assert set(DEFAULT_TEMPLATES) == set(Tone)
    assert len({template.subject for template in DEFAULT_TEMPLATES.values()}) == 4
    assert len({template.body for template in DEFAULT_TEMPLATES.values()}) == 4


def test_the_signature_does_not_repeat_a_missing_business_name() -> None:
    subject, body = default_template(Tone.neutral)
    email = render(subject, body, context(3, business_name=""))
    assert email.text.rstrip().endswith("Kind regards,\nAda Lovelace")


# --- values are data: escaping and literal text --------------------------------------


def test_subject_is_plain_text_not_html_escaped() -> None:
    email = render("Invoice for {{ client_name }}", "Hi", context(client_name="O'Brien & Co"))
    assert email.subject == "Invoice for O'Brien & Co"
    assert "<title>Invoice for O&#39;Brien &amp; Co</title>" in email.html


@pytest.mark.parametrize(
    "client_name",
    ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{ 7*7 }}", "{% if 1 %}"],
)
def test_client_supplied_values_are_escaped_in_html_and_literal_in_text(client_name: str) -> None:
    email = render("{{ client_name }}", "Dear {{ client_name }},", context(client_name=client_name))
    assert email.text == f"Dear {client_name},\n"
    assert email.subject == client_name
    assert "<script" not in email.html and "<img" not in email.html
    assert "49" not in email.text + email.html, "a value is never evaluated as a template"
    assert client_name.replace("<", "&lt;").replace(">", "&gt;").split('"')[-1] in email.html


def test_the_templates_own_text_is_escaped_in_html() -> None:
    email = render("s", "Use <b>bold</b> & 1 < 2", context())
    assert "Use &lt;b&gt;bold&lt;/b&gt; &amp; 1 &lt; 2" in email.html
    assert email.text == "Use <b>bold</b> & 1 < 2\n"


@pytest.mark.parametrize(
    "client_name",
    ["Evil\r\nBcc: victim@evil.example", "Evil\nBcc: x@evil", "Evil\rBcc: x", "A\u2028B\x00C\tD"],
)
def test_a_subject_is_always_one_line(client_name: str) -> None:
    email = render("Invoice for {{ client_name }}", "Hi", context(client_name=client_name))
    assert re.search(r"[\x00-\x1f\x7f\u2028\u2029]", email.subject) is None
    assert email.subject.startswith("Invoice for Evil Bcc:") or email.subject.startswith(
        "Invoice for A B C D"
    )


def test_a_very_long_subject_is_cut_at_the_limit() -> None:
    email = render("{{ client_name }}{{ client_name }}", "Hi", context(client_name="x" * 200))
    assert len(email.subject) == MAX_SUBJECT_LENGTH
    assert email.subject.endswith("…")


# --- the HTML part ---------------------------------------------------------------------


def test_html_has_paragraphs_line_breaks_and_a_pay_button() -> None:
    email = render("s", "Hello,\n\nLine one\nLine two\n\nPay: {{ pay_link }}", context())
    paragraphs = re.findall(r"<p[^>]*>(.*?)</p>", email.html, flags=re.DOTALL)
    assert paragraphs[0] == "Hello,"
    assert paragraphs[1] == "Line one<br>\nLine two"
    assert '<a href="https://pay.example.com/i/42?a=1&amp;b=2"' in paragraphs[2]
    assert ">Pay invoice INV-0042</a>" in paragraphs[2]
    assert "Pay: https://pay.example.com/i/42?a=1&b=2" in email.text


@pytest.mark.parametrize(
    "link",
    ["javascript:alert(1)", "data:text/html,<script>x</script>", "ftp://files.example", "//x.y"],
)
def test_only_web_links_become_buttons(link: str) -> None:
    email = render("s", "Pay: {{ pay_link }}", context(pay_link=link))
    assert "<a " not in email.html
    assert "<script" not in email.html
    assert f"Pay: {link}" in email.text


@pytest.mark.parametrize(("locale", "lang"), [("de", "de"), ("en-GB", "en-GB"), ("xx", "en")])
def test_html_is_a_self_contained_accessible_page(locale: str, lang: str) -> None:
    subject, body = default_template(Tone.firm)
    html = render(subject, body, context(14, locale=locale)).html
    assert html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{lang}">' in html
    assert "font-size:16px" in html
    for external in ("<script", "<link", "<img", "<style", "url(", "src="):
        assert external not in html
    assert re.findall(r"https?://[^\"<]+", html) == [LINK.replace("&", "&amp;")]


# --- context: locales, counts, fallbacks -----------------------------------------------

LOCALE_CASES = [
    ("en", 125_000, "EUR", "€1,250.00", "October 31, 2026"),
    ("en-GB", 125_000, "EUR", "€1,250.00", "31 October 2026"),
    ("de", 125_000, "EUR", "1.250,00\xa0€", "31. Oktober 2026"),
    ("de-CH", 125_050, "CHF", "CHF\xa01'250.50", "31. Oktober 2026"),
    ("fr", 9_999, "USD", "99,99\xa0$US", "31 octobre 2026"),
    ("en", 1250, "JPY", "¥1,250", "October 31, 2026"),
    ("xx-unknown", 125_000, "EUR", "€1,250.00", "October 31, 2026"),
]


@pytest.mark.parametrize(("locale", "minor", "currency", "amount", "due"), LOCALE_CASES)
def test_amounts_and_dates_are_written_for_the_clients_locale(
    locale: str, minor: int, currency: str, amount: str, due: str
) -> None:
    facts = context(locale=locale, amount_minor=minor, currency=currency)
    assert (facts.amount, facts.due_date) == (amount, due)


@pytest.mark.parametrize(
    ("offset", "overdue", "until"), [(-10, 0, 10), (-1, 0, 1), (0, 0, 0), (1, 1, 0), (45, 45, 0)]
)
def test_days_overdue_and_until_due(offset: int, overdue: int, until: int) -> None:
    facts = context(offset)
    assert (facts.days_overdue, facts.days_until_due) == (overdue, until)


def test_pay_by_date_is_a_week_out_and_never_before_the_due_date() -> None:
    assert context(30).pay_by_date == "December 7, 2026"
    assert context(-20).pay_by_date == "October 31, 2026"


def test_contact_and_business_names_fall_back() -> None:
    facts = context(contact_name="  ", business_name="")
    assert facts.contact_name == "Globex Corporation"
    assert facts.business_name == "Ada Lovelace"


def test_a_template_sees_only_the_documented_variables_as_plain_values() -> None:
    values = context().variables()
    assert set(values) == set(VARIABLES)
    assert all(type(value) in (str, int) for value in values.values())


# --- the sandbox and the checks ----------------------------------------------------------

ESCAPES = [
    ("{{ cycler.__init__.__globals__.os.getcwd() }}", "calling functions"),
    ("{{ cycler.__init__.__globals__ }}", "attribute access"),
    ("{{ ''.__class__.__mro__ }}", "attribute access"),
    ("{{ client_name.__class__ }}", "attribute access"),
    ("{{ client_name['__class__'] }}", "indexing"),
    ("{{ client_name|attr('__class__') }}", "filter 'attr'"),
    ("{{ self }}", "unknown variable 'self'"),
    ("{{ self._TemplateReference__context }}", "attribute access"),
    ("{{ lipsum.__globals__ }}", "attribute access"),
    ("{{ range(10) }}", "calling functions"),
    ("{% import os %}", "syntax error"),
    ("{% import 'os' as os %}", "imports are not allowed"),
    ("{% from 'x' import y %}", "imports are not allowed"),
    ("{% include '/etc/passwd' %}", "{% include %}"),
    ("{% extends 'base.html' %}", "{% extends %}"),
    ("{% set x = client_name %}{{ x }}", "{% set %}"),
    ("{% for c in client_name %}{{ c }}{% endfor %}", "loops"),
    ("{% macro m() %}x{% endmacro %}", "macros"),
    ("{{ client_name|safe }}", "filter 'safe'"),
    ("{% autoescape false %}{{ client_name }}{% endautoescape %}", "{% autoescape %}"),
    ("{{ 10**10**10 }}", "only + and -"),
    ("{{ 'x' * 1000000000 }}", "only + and -"),
    ("{{ client_name is defined }}", "tests with 'is'"),
    ("{{ [client_name] }}", "lists"),
]


@pytest.mark.parametrize(("source", "message"), ESCAPES)
def test_sandbox_escapes_are_refused_at_save_time_and_never_run(source: str, message: str) -> None:
    started = time.monotonic()
    problems = validate_template("Subject", "Hello\n" + source)
    assert problems, source
    assert problems[0].field == "body"
    assert problems[0].line == 2
    assert message in problems[0].message
    with pytest.raises(TemplateInvalid):
        render("Subject", "Hello\n" + source, context())
    assert time.monotonic() - started < 2, "refusing must be quick, even for 10**10**10"


@pytest.mark.parametrize(
    "source",
    ["{{ ''.__class__.__mro__ }}", "{{ cycler.__init__.__globals__ }}", "{{ range(3) }}"],
)
def test_the_sandbox_is_a_second_wall_behind_the_checks(source: str) -> None:
    """Even a template that skipped the checks meets the sandbox with no globals."""
    with pytest.raises(TemplateInvalid, match="cannot be rendered"):
        render("s", source, context(), checked=True)


@pytest.mark.parametrize(
    "source",
    [
        "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
        "{{ " + "not " * 3000 + "pay_link }}",
        "{{ " + " + ".join(["days_overdue"] * 2000) + " }}",
    ],
)
def test_a_deeply_nested_template_is_refused_not_crashed(source: str) -> None:
    problems = validate_template("Subject", source)
    assert problems
    assert "nested too deeply" in problems[0].message or "cannot be rendered" in problems[0].message
    with pytest.raises(TemplateInvalid):
        render("Subject", source, context())


def test_an_unknown_variable_is_named_with_its_line_and_a_suggestion() -> None:
    problems = validate_template("Invoice {{ invoice_number }}", "Hi,\n\nDear {{ clent_name }}")
    assert [(p.field, p.line) for p in problems] == [("body", 3)]
    assert "unknown variable 'clent_name'" in problems[0].message
    assert "did you mean 'client_name'?" in problems[0].message
    assert str(problems[0]).startswith("body, line 3: ")


@pytest.mark.parametrize(
    ("subject", "body", "field", "line", "message"),
    [
        ("Hi", "one\ntwo {{ amount }\nthree", "body", 2, "syntax error: unexpected '}'"),
        ("Hi", "one\n{% if days_overdue > 0 %}\nlate", "body", 3, "syntax error"),
        ("Hi {{ amount", "body", "subject", 1, "syntax error"),
        ("Hi {{ nope }}", "body", "subject", 1, "unknown variable 'nope'"),
        ("Line one\nLine two", "body", "subject", 2, "single line"),
        ("{{ client_name - 1 }}", "body", "subject", 1, "cannot be rendered"),
        ("Hi", "a\nb\n{{ days_overdue ~ 1 }}\n{{ amount - 1 }}", "body", 4, "cannot be rendered"),
        ("x" * 200 + "{{ pay_link }}{{ pay_link }}{{ pay_link }}", "b", "subject", 1, "longer"),
    ],
)
def test_problems_name_the_field_and_line(
    subject: str, body: str, field: str, line: int, message: str
) -> None:
    problems = validate_template(subject, body)
    assert (problems[0].field, problems[0].line) == (field, line), problems
    assert message in problems[0].message


def test_every_problem_is_reported_and_the_error_names_the_first() -> None:
    problems = validate_template("Hi {{ a }}", "{{ b }}\n{{ c.d }}")
    assert [(p.field, p.line) for p in problems] == [("subject", 1), ("body", 1), ("body", 2)]
    error = TemplateInvalid(problems)
    assert error.status_code == 422 and error.field == "subject"
    assert error.message == "subject, line 1: " + problems[0].message + " (and 2 more)"


@pytest.mark.parametrize(
    "source",
    [
        "{{ client_name|upper }} {{ tone|title }}",
        "{% if days_overdue > 7 and pay_link %}late{% elif not pay_link %}x{% endif %}",
        "{{ 'overdue' if days_overdue else 'due' }} {{ days_overdue + 1 }} {{ amount ~ '!' }}",
        "{% raw %}{{ literal braces }}{% endraw %}",
        "{# a comment #}Plain text",
    ],
)
def test_the_allowed_subset_is_enough_for_real_templates(source: str) -> None:
    assert validate_template("Subject", source) == []


def test_a_rendered_value_replaces_the_link_only_in_html() -> None:
    facts = replace(context(), pay_link="")
    email = render("s", "{% if pay_link %}pay{% else %}no link{% endif %}", facts)
    assert email.text == "no link\n"
