"""Reminder policies: what a valid policy is, and what is refused with a reason."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from duespark.reminders.policy import DEFAULT_POLICY, ReminderPolicy, Tone

WINDOW = {"start": "09:00", "end": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"]}


def test_default_policy_escalates_through_every_tone() -> None:
    offsets = [step.offset_days for step in DEFAULT_POLICY.steps]
    assert offsets == [-3, 0, 3, 7, 14, 30]
    assert [step.tone for step in DEFAULT_POLICY.steps][-1] is Tone.final
    assert {step.tone for step in DEFAULT_POLICY.steps} == set(Tone)


def test_steps_and_days_are_put_in_order() -> None:
    policy = ReminderPolicy.model_validate(
        {
            "steps": [{"offset_days": 7, "tone": "firm"}, {"offset_days": -1, "tone": "friendly"}],
            "send_window": {**WINDOW, "days": ["fri", "mon"]},
        }
    )
    assert [step.offset_days for step in policy.steps] == [-1, 7]
    assert [day.value for day in policy.send_window.days] == ["mon", "fri"]


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        ({"steps": [{"offset_days": 1, "tone": "rude"}], "send_window": WINDOW}, "tone"),
        (
            {
                "steps": [{"offset_days": 3, "tone": "firm"}, {"offset_days": 3, "tone": "final"}],
                "send_window": WINDOW,
            },
            "repeated: [3]",
        ),
        ({"steps": [], "send_window": {**WINDOW, "end": "08:00"}}, "end must be after"),
        ({"steps": [], "send_window": {**WINDOW, "end": "09:00"}}, "end must be after"),
        ({"steps": [], "send_window": {**WINDOW, "days": ["mon", "funday"]}}, "days"),
        ({"steps": [], "send_window": {**WINDOW, "days": []}}, "days"),
        ({"steps": [], "send_window": {**WINDOW, "days": ["mon", "mon"]}}, "once"),
        ({"steps": [], "send_window": {**WINDOW, "start": "9am"}}, "HH:MM"),
        ({"steps": [], "send_window": {**WINDOW, "start": "24:00"}}, "HH:MM"),
        ({"steps": [{"offset_days": 400, "tone": "firm"}], "send_window": WINDOW}, "offset"),
        ({"steps": [{"offset_days": 1.5, "tone": "firm"}], "send_window": WINDOW}, "offset"),
        ({"steps": [], "send_window": WINDOW, "extra": 1}, "extra"),
    ],
)
def test_invalid_policies_are_refused(policy: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ReminderPolicy.model_validate(policy)
    assert fragment in str(raised.value)
