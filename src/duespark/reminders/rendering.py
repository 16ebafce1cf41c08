"""Reminder emails from user templates: checked when saved, rendered in a sandbox when sent.

Pure: no database, no clock. The rules, each answering a bug of the original service:

* **A template can never run code.** Templates are parsed and every node is checked
  against a short allow-list (text, the documented variables, ``{% if %}``, comparisons,
  ``+``/``-``/``~`` and a few case filters); attribute access, calls, loops, imports,
  ``set``, ``|safe`` and ``{% autoescape %}`` are refused with their line number. What passes
  is rendered in Jinja2's ``ImmutableSandboxedEnvironment`` with no globals, so even a rule
  missed here meets a second wall.
* **Values are data, not templates.** The context holds only plain ``str`` and ``int``
  values; a client called ``{{ 7*7 }}`` is printed as such, never evaluated.
* **Three renderings of one body.** The subject is plain text on one line (no HTML escaping,
  so "O'Brien & Co" stays literal; CR/LF collapsed, so no header injection). The text part
  is the body rendered without escaping, not HTML with its tags stripped. The HTML part
  escapes everything, including the template's own text, then makes paragraphs, line breaks
  and a pay button (http and https links only).
* **Amounts and dates speak the client's language**, through Babel and the client's locale.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Literal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from duespark.errors import InvalidInput
from duespark.kit.money import format_amount
from duespark.reminders.email_html import CONTROL_CHARACTERS, page, pay_button
from duespark.reminders.policy import DEFAULT_POLICY, Tone

Field = Literal["subject", "body"]

MAX_SUBJECT_LENGTH = 300
FINAL_NOTICE_DAYS = 7
FALLBACK_LOCALE = "en"

VARIABLES: dict[str, str] = {
    "client_name": "The client's name, e.g. Acme Ltd.",
    "contact_name": "The person you write to; the client's name when no contact is set.",
    "invoice_number": "The invoice number, e.g. INV-0042.",
    "amount": "The amount due with its currency, written for the client's locale: €1,250.00.",
    "due_date": "The due date, written for the client's locale: October 31, 2026.",
    "days_overdue": "Whole days since the due date; 0 on or before it.",
    "days_until_due": "Whole days until the due date; 0 on or after it.",
    "pay_by_date": (
        f"The date to ask for payment by in a final notice: {FINAL_NOTICE_DAYS} days from "
        "the reminder, and never before the due date."
    ),
    "pay_link": "The invoice's payment link; empty when it has none (test with {% if pay_link %}).",
    "business_name": "Your business name; your own name when no business name is set.",
    "sender_name": "Your name, for the signature.",
    "tone": "The tone of this step: friendly, neutral, firm or final.",
}

# Case changes only: no filter that takes arguments (``center(10**9)``), reaches objects
# (``attr``, ``map``) or switches escaping off (``safe``).
SAFE_FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim"})
_ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    *(nodes.Template, nodes.Output, nodes.TemplateData),  # text and {{ ... }}
    *(nodes.Name, nodes.Const, nodes.Filter),  # variables, literals, filters (checked below)
    *(nodes.If, nodes.CondExpr, nodes.Scope),  # {% if %}, "a if b else c", a bare scope
    *(nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not),  # conditions
    *(nodes.Neg, nodes.Pos, nodes.Add, nodes.Sub, nodes.Concat),  # no *, /, % or **
)
_ARITHMETIC = "only + and - are allowed in expressions (no *, /, //, % or **)"
_REFUSALS: dict[str, str] = {
    "Getattr": "attribute access (a dot after a name) is not allowed",
    "Getitem": "indexing and slicing (square brackets) are not allowed",
    "Call": "calling functions or methods is not allowed",
    "For": "loops ({% for %}) are not supported",
    "With": "{% with %} is not supported",
    "Include": "{% include %} is not allowed",
    "Extends": "{% extends %} is not allowed",
    "Block": "{% block %} is not allowed",
    "Macro": "macros are not supported",
    "CallBlock": "{% call %} is not supported",
    "FilterBlock": "{% filter %} blocks are not supported; write {{ name|upper }} instead",
    "Test": "tests with 'is' are not supported; compare with == or > instead",
    **dict.fromkeys(("Assign", "AssignBlock"), "{% set %} is not supported"),
    **dict.fromkeys(("Import", "FromImport"), "imports are not allowed"),
    **dict.fromkeys(
        ("ScopedEvalContextModifier", "EvalContextModifier"), "{% autoescape %} is not allowed"
    ),
    **dict.fromkeys(("List", "Tuple", "Dict"), "lists, tuples and dictionaries are not supported"),
    **dict.fromkeys(
        ("Mul", "Div", "FloorDiv", "Mod", "Pow"),
        "only + and - are allowed in expressions (no *, /, //, % or **)",
    ),
}


@dataclass(frozen=True)
class ReminderContext:
    """Everything a template may print, already formatted. ``locale`` is not a template
    variable: it sets the HTML part's ``lang``."""

    client_name: str
    contact_name: str
    invoice_number: str
    amount: str
    due_date: str
    days_overdue: int
    days_until_due: int
    pay_by_date: str
    pay_link: str
    business_name: str
    sender_name: str
    tone: str
    locale: str = FALLBACK_LOCALE

    def variables(self) -> dict[str, str | int]:
        values = asdict(self)
        return {name: values[name] for name in VARIABLES}


@dataclass(frozen=True)
class TemplateProblem:
    field: Field
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.field}, line {self.line}: {self.message}"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class TemplateInvalid(InvalidInput):
    """A template that cannot be saved or rendered; names the field and line of the first
    problem and keeps them all."""

    def __init__(self, problems: list[TemplateProblem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{first}{more}", field=first.field)
        self.problems = problems


def babel_locale(tag: str) -> Locale:
    """The Babel locale for a client's tag (``de``, ``en-GB``), or English when Babel does
    not know it: a reminder is never lost to an exotic locale."""
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return Locale.parse(FALLBACK_LOCALE)


def build_context(
    *,
    client_name: str,
    contact_name: str | None,
    locale: str,
    invoice_number: str,
    amount_minor: int,
    currency: str,
    due_date: date,
    today: date,
    pay_link: str | None,
    business_name: str,
    sender_name: str,
    tone: Tone | str,
) -> ReminderContext:
    """Format the facts of one reminder for the client's locale. ``today`` is the day the
    reminder is sent in the client's time zone (the caller owns the clock)."""
    language = babel_locale(locale)
    amount = Decimal(format_amount(amount_minor, currency))
    pay_by = max(due_date, today + timedelta(days=FINAL_NOTICE_DAYS))
    return ReminderContext(
        client_name=client_name,
        contact_name=(contact_name or "").strip() or client_name,
        invoice_number=invoice_number,
        amount=format_currency(amount, currency, locale=language),
        due_date=format_date(due_date, "long", locale=language),
        days_overdue=max(0, (today - due_date).days),
        days_until_due=max(0, (due_date - today).days),
        pay_by_date=format_date(pay_by, "long", locale=language),
        pay_link=(pay_link or "").strip(),
        business_name=business_name.strip() or sender_name,
        sender_name=sender_name,
        tone=str(Tone(tone)),
        locale=str(language).replace("_", "-"),
    )


SAMPLE_DUE_DATE = date(2026, 10, 31)


def sample_context(
    tone: Tone,
    *,
    business_name: str = "",
    sender_name: str = "Sam Sender",
    offset_days: int | None = None,
) -> ReminderContext:
    """A realistic context for previews and checks: Acme Ltd owes €1,250.00. The day is the
    default policy's first step of ``tone`` unless ``offset_days`` (from the due date) says."""
    if offset_days is None:
        offset_days = next(s.offset_days for s in DEFAULT_POLICY.steps if s.tone == tone)
    return build_context(
        client_name="Acme Ltd",
        contact_name="Jane Doe",
        locale="en",
        invoice_number="INV-0042",
        amount_minor=125_000,
        currency="EUR",
        due_date=SAMPLE_DUE_DATE,
        today=SAMPLE_DUE_DATE + timedelta(days=offset_days),
        pay_link="https://pay.example.com/invoices/INV-0042",
        business_name=business_name,
        sender_name=sender_name,
        tone=tone,
    )


def _environment(*, autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=autoescape, trim_blocks=True, lstrip_blocks=True
    )
    env.globals.clear()  # no range, cycler, joiner, lipsum, namespace, dict
    env.filters = {name: env.filters[name] for name in SAFE_FILTERS}
    env.tests = {}
    return env


_PLAIN = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


def _check_nodes(field: Field, tree: nodes.Template) -> list[TemplateProblem]:
    """Walk the tree (iteratively: a deep one must not exhaust the stack) and name each
    refused construct once; the inside of a refused construct is not examined further."""
    problems: dict[tuple[int, str], TemplateProblem] = {}
    stack: list[nodes.Node] = [tree]
    while stack:
        node = stack.pop()
        line = node.lineno or 1
        message: str | None = None
        if isinstance(node, nodes.Name):
            if node.name not in VARIABLES or node.ctx != "load":
                message = _unknown(node.name)
        elif isinstance(node, nodes.Filter) and (
            node.name not in SAFE_FILTERS or node.args or node.kwargs
        ):
            message = f"filter '{node.name}' is not allowed; use {', '.join(sorted(SAFE_FILTERS))}"
        elif not isinstance(node, _ALLOWED_NODES):
            kind = type(node).__name__
            message = _REFUSALS.get(kind, f"this construct ({kind}) is not allowed")
        if message is None:
            stack.extend(reversed(list(node.iter_child_nodes())))
        else:
            problems.setdefault((line, message), TemplateProblem(field, line, message))
    return sorted(problems.values(), key=lambda problem: problem.line)


def _unknown(name: str) -> str:
    guess = difflib.get_close_matches(name, VARIABLES, n=1)
    hint = f"; did you mean '{guess[0]}'?" if guess else f"; known: {', '.join(VARIABLES)}"
    return f"unknown variable '{name}'{hint}"


def _parse(field: Field, source: str) -> list[TemplateProblem]:
    """Every structural problem of one template; a syntax error stops at the first."""
    try:
        tree = _PLAIN.parse(source)
        return _check_nodes(field, tree)
    except TemplateSyntaxError as error:
        return [TemplateProblem(field, error.lineno or 1, f"syntax error: {error.message}")]
    except RecursionError:
        return [TemplateProblem(field, 1, "the template is nested too deeply")]


def check_structure(subject: str, body: str) -> list[TemplateProblem]:
    """Problems found without rendering: syntax, unknown variables, refused constructs, a
    subject on more than one line."""
    problems: list[TemplateProblem] = []
    if len(subject.splitlines()) > 1:
        problems.append(TemplateProblem("subject", 2, "the subject must be a single line"))
    problems.extend(_parse("subject", subject))
    problems.extend(_parse("body", body))
    return problems


# Errors a checked template can still raise at render time: a type mismatch such as
# ``{{ client_name - 1 }}``, or an expression nested deeper than the compiler can follow.
RENDER_ERRORS = (TemplateError, TypeError, ValueError, ArithmeticError, RecursionError)
# Before, on and after the due date; with and without a pay link.
_TRIALS = ((Tone.friendly, -3, True), (Tone.neutral, 0, False), (Tone.final, 30, True))


def validate_template(subject: str, body: str) -> list[TemplateProblem]:
    """Every problem that would stop this template from being sent, each with its field and
    line. Empty means it is safe to save: it also rendered against sample reminders before,
    on and after the due date, with and without a pay link."""
    problems = check_structure(subject, body)
    if problems:
        return problems
    for tone, offset, with_link in _TRIALS:
        context = sample_context(tone, offset_days=offset)
        if not with_link:
            context = replace(context, pay_link="")
        try:
            render(subject, body, context, checked=True)
        except TemplateInvalid as error:
            return error.problems
        if len(_render_subject(subject, context)) > MAX_SUBJECT_LENGTH:
            message = f"renders longer than {MAX_SUBJECT_LENGTH} characters"
            return [TemplateProblem("subject", 1, message)]
    return []


def _template_line(error: BaseException) -> int:
    """The template line Jinja rewrote into the traceback, or 1."""
    line, trace = 1, error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


@lru_cache(maxsize=256)
def _compiled(source: str, *, html: bool) -> Template:
    """Compile a template already checked by ``check_structure``. For HTML, the template's
    own text is escaped too: the body is plain text, and "<" in it means a less-than sign."""
    if not html:
        return _PLAIN.from_string(source)
    tree = _HTML.parse(source)
    for data in tree.find_all(nodes.TemplateData):
        data.data = str(escape(data.data))
    return _HTML.from_string(tree)


def clean_subject(text: str) -> str:
    """One line: control characters (CR and LF above all) become spaces, runs of spaces one."""
    return " ".join(CONTROL_CHARACTERS.sub(" ", text).split())


def _render_subject(subject: str, context: ReminderContext) -> str:
    return clean_subject(_compiled(subject, html=False).render(context.variables()))


def render(
    subject: str, body: str, context: ReminderContext, *, checked: bool = False
) -> RenderedEmail:
    """The email for ``context``; raises :class:`TemplateInvalid` for a template that breaks
    the rules. A stored template is re-checked here, not trusted, unless the caller has just
    checked it (``checked``). A subject longer than the limit is cut, with an ellipsis."""
    if not checked:
        problems = check_structure(subject, body)
        if problems:
            raise TemplateInvalid(problems)
    values = context.variables()
    html_values = {**values, "pay_link": pay_button(context.pay_link, context.invoice_number)}
    field: Field = "subject"
    try:
        subject_text = _render_subject(subject, context)
        field = "body"
        text = _compiled(body, html=False).render(values)
        html_body = _compiled(body, html=True).render(html_values)
    except RENDER_ERRORS as error:
        message = (
            "the template is nested too deeply"
            if isinstance(error, RecursionError)
            else f"cannot be rendered: {error}"
        )
        raise TemplateInvalid([TemplateProblem(field, _template_line(error), message)]) from error
    if len(subject_text) > MAX_SUBJECT_LENGTH:
        subject_text = subject_text[: MAX_SUBJECT_LENGTH - 1].rstrip() + "…"
    return RenderedEmail(
        subject=subject_text,
        text=re.sub(r"\n{3,}", "\n\n", text).strip() + "\n",
        html=page(subject_text, Markup(html_body), lang=context.locale),
    )
