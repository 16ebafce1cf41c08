"""The wording DueSpark ships for each tone, used until an account writes its own.

The tones escalate: *friendly* is a heads-up (due soon, today, or just missed), *neutral* a
plain reminder that the invoice is overdue, *firm* a clear request that names consequences
in neutral terms, *final* a last notice with a date to pay by. Any tone can be put on any
step of a schedule, so each text reads correctly before, on and after the due date.

Each text is written out whole, as a user will see it in the editor when they start from
it: plain, polite English with no markup. The email's text part is the body as written;
the HTML part turns its paragraphs and the pay link into HTML.
"""

from __future__ import annotations

from dataclasses import dataclass

from duespark.reminders.policy import Tone


@dataclass(frozen=True)
class DefaultTemplate:
    subject: str
    body: str


FRIENDLY = DefaultTemplate(
    subject=(
        "{% if days_overdue > 0 %}Friendly reminder: invoice {{ invoice_number }} is past due"
        "{% elif days_until_due > 0 %}Heads-up: invoice {{ invoice_number }} is due on"
        " {{ due_date }}{% else %}Invoice {{ invoice_number }} is due today{% endif %}"
    ),
    body="""\
Hello {{ contact_name }},

{% if days_until_due > 0 %}
Just a friendly heads-up that invoice {{ invoice_number }} for {{ amount }} is due on \
{{ due_date }}, in {{ days_until_due }} day{% if days_until_due != 1 %}s{% endif %}.
{% elif days_overdue == 0 %}
Just a friendly reminder that invoice {{ invoice_number }} for {{ amount }} is due today.
{% else %}
Just a friendly reminder that invoice {{ invoice_number }} for {{ amount }} was due on \
{{ due_date }}. It may simply have slipped through the cracks.
{% endif %}
{% if pay_link %}

You can pay online here: {{ pay_link }}
{% endif %}

If you have already paid, thank you, and please ignore this message. If anything about \
the invoice is unclear, just reply to this email.

Kind regards,
{{ sender_name }}
{% if business_name != sender_name %}
{{ business_name }}
{% endif %}
""",
)

NEUTRAL = DefaultTemplate(
    subject=(
        "Reminder: invoice {{ invoice_number }} {% if days_overdue > 0 %}is {{ days_overdue }}"
        " day{% if days_overdue != 1 %}s{% endif %} overdue{% elif days_until_due > 0 %}"
        "is due on {{ due_date }}{% else %}is due today{% endif %}"
    ),
    body="""\
Hello {{ contact_name }},

{% if days_overdue > 0 %}
This is a reminder that invoice {{ invoice_number }} for {{ amount }} was due on \
{{ due_date }} and is now {{ days_overdue }} day{% if days_overdue != 1 %}s{% endif %} \
overdue. We have not yet received payment.
{% elif days_until_due > 0 %}
This is a reminder that invoice {{ invoice_number }} for {{ amount }} is due on \
{{ due_date }}.
{% else %}
This is a reminder that invoice {{ invoice_number }} for {{ amount }} is due today, \
{{ due_date }}.
{% endif %}
{% if pay_link %}

You can pay online here: {{ pay_link }}
{% endif %}

Please arrange payment at your earliest convenience. If you have already paid, thank \
you; please let us know so we can update our records.

Kind regards,
{{ sender_name }}
{% if business_name != sender_name %}
{{ business_name }}
{% endif %}
""",
)

FIRM = DefaultTemplate(
    subject=(
        "{% if days_overdue > 0 %}Payment overdue: invoice {{ invoice_number }} ({{ amount }})"
        "{% else %}Payment due: invoice {{ invoice_number }} ({{ amount }}){% endif %}"
    ),
    body="""\
Hello {{ contact_name }},

{% if days_overdue > 0 %}
Invoice {{ invoice_number }} for {{ amount }} was due on {{ due_date }} and is now \
{{ days_overdue }} day{% if days_overdue != 1 %}s{% endif %} overdue. Despite our earlier \
reminders, we have not received payment.

Please pay the full amount now, or reply today to tell us when payment will be made. If \
the invoice remains unpaid, we may have to pause further work and consider other steps to \
recover the amount.
{% else %}
Invoice {{ invoice_number }} for {{ amount }} is due \
{% if days_until_due > 0 %}on {{ due_date }}{% else %}today{% endif %}. Please make sure \
the full amount is paid on time.
{% endif %}
{% if pay_link %}

You can pay online here: {{ pay_link }}
{% endif %}

If you have already paid, thank you; please send us the payment details so we can match it.

Regards,
{{ sender_name }}
{% if business_name != sender_name %}
{{ business_name }}
{% endif %}
""",
)

FINAL = DefaultTemplate(
    subject=(
        "Final notice: invoice {{ invoice_number }} ({{ amount }}), please pay by {{ pay_by_date }}"
    ),
    body="""\
Hello {{ contact_name }},

{% if days_overdue > 0 %}
This is our final notice about invoice {{ invoice_number }} for {{ amount }}, which was \
due on {{ due_date }} and is now {{ days_overdue }} day{% if days_overdue != 1 %}s{% endif %} \
overdue. We have sent several reminders and have not received payment.
{% else %}
This is our final notice about invoice {{ invoice_number }} for {{ amount }}, which is due \
{% if days_until_due > 0 %}on {{ due_date }}{% else %}today{% endif %}.
{% endif %}

Please pay the full amount by {{ pay_by_date }}. If we have not received payment or heard \
from you by then, we will take further steps to recover the amount, which may include \
passing the matter to a collection agency.
{% if pay_link %}

You can pay online here: {{ pay_link }}
{% endif %}

If you have already paid, or if there is a problem with the invoice, please reply straight \
away so we can resolve it.

Regards,
{{ sender_name }}
{% if business_name != sender_name %}
{{ business_name }}
{% endif %}
""",
)

DEFAULT_TEMPLATES: dict[Tone, DefaultTemplate] = {
    Tone.friendly: FRIENDLY,
    Tone.neutral: NEUTRAL,
    Tone.firm: FIRM,
    Tone.final: FINAL,
}


def default_template(tone: Tone) -> tuple[str, str]:
    """``(subject, body)`` shipped for ``tone``."""
    template = DEFAULT_TEMPLATES[Tone(tone)]
    return template.subject, template.body
