"""The reminder settings page (``/app/settings/reminders``): the account's steps (days
from the due date and a tone each), its send window, and pausing the whole account.

The form is validated by ``ReminderPolicy``, the schema of ``PUT /settings/reminders``, so
the rules and messages are the API's; each problem is shown next to the field it is about
(a step's days or tone, the window's hours or days). A blank row is no step, so a step is
removed by clearing it and added in one of the blank rows at the end. Saving calls
``reminders.service.set_account_policy``; pausing and resuming call ``pause_account`` and
``resume_account``, as the JSON routes do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from duespark.dependencies import NowDep, SessionDep, SettingsDep
from duespark.models import User
from duespark.reminders import service as reminder_service
from duespark.reminders.policy import MAX_STEPS, ReminderPolicy, Tone, Weekday
from duespark.reminders.schemas import PauseRequest
from duespark.web.dependencies import PageUser, SignedInForm
from duespark.web.flash import set_flash
from duespark.web.forms import FormState, attempt, error_message, validate
from duespark.web.pages import page_router
from duespark.web.templating import render

router = page_router()

SETTINGS_PATH = "/app/settings/reminders"
BLANK_ROWS = 3
MAX_ROWS = MAX_STEPS + BLANK_ROWS
DAY_NAMES = {
    Weekday.mon: "Monday",
    Weekday.tue: "Tuesday",
    Weekday.wed: "Wednesday",
    Weekday.thu: "Thursday",
    Weekday.fri: "Friday",
    Weekday.sat: "Saturday",
    Weekday.sun: "Sunday",
}
TONE_NAMES = {
    Tone.friendly: "Friendly",
    Tone.neutral: "Neutral",
    Tone.firm: "Firm",
    Tone.final: "Final notice",
}


@router.get("/app/settings")
def settings_index(_user: PageUser) -> RedirectResponse:
    """The settings start with the reminder schedule."""
    return RedirectResponse(SETTINGS_PATH, status_code=303)


@router.get(SETTINGS_PATH)
def settings_page(request: Request, user: PageUser, now: NowDep) -> HTMLResponse:
    policy, _ = reminder_service.account_policy(user)
    return _page(request, user, policy_form=policy_values(policy), now=now)


@router.post(SETTINGS_PATH)
def save_policy(
    request: Request,
    user: PageUser,
    form_data: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    form, rows = read_policy_form(form_data)
    policy = parse_policy(form, rows)
    if policy is None:
        return _page(request, user, policy_form=form, now=now, status_code=422)
    reminder_service.set_account_policy(session, user, policy=policy, now=now)
    response = RedirectResponse(SETTINGS_PATH, status_code=303)
    set_flash(response, settings, "Reminder schedule saved.")
    return response


@router.post(SETTINGS_PATH + "/pause")
def pause_account(
    request: Request,
    user: PageUser,
    form_data: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    """Stop every reminder of the account, until a date or until resumed; reminders
    already scheduled are withdrawn."""
    form = FormState.read(form_data, ("until",))
    data = validate(PauseRequest, form.payload(), form)
    if data is not None:
        attempt(
            session,
            form,
            lambda: reminder_service.pause_account(session, user, until=data.until, now=now),
        )
    if form.failed:
        policy, _ = reminder_service.account_policy(user)
        return _page(
            request,
            user,
            policy_form=policy_values(policy),
            pause_form=form,
            now=now,
            status_code=form.status_code,
        )
    response = RedirectResponse(SETTINGS_PATH, status_code=303)
    until = f" until {data.until.isoformat()}" if data and data.until else " until you resume them"
    set_flash(response, settings, f"All reminders paused{until}.")
    return response


@router.post(SETTINGS_PATH + "/resume")
def resume_account(
    user: PageUser, _form: SignedInForm, session: SessionDep, settings: SettingsDep, now: NowDep
) -> Response:
    reminder_service.resume_account(session, user, now=now)
    response = RedirectResponse(SETTINGS_PATH, status_code=303)
    set_flash(response, settings, "Reminders resumed.")
    return response


def policy_values(policy: ReminderPolicy) -> FormState:
    """The form's fields for a policy: a row per step, then blank rows to add steps."""
    values: dict[str, str] = {"steps": ""}
    for index in range(max(len(policy.steps) + BLANK_ROWS, BLANK_ROWS)):
        step = policy.steps[index] if index < len(policy.steps) else None
        values[f"offset_{index}"] = str(step.offset_days) if step else ""
        values[f"tone_{index}"] = step.tone.value if step else ""
    values["window_start"] = policy.send_window.start.strftime("%H:%M")
    values["window_end"] = policy.send_window.end.strftime("%H:%M")
    values["days"] = ""
    for weekday in Weekday:
        values[f"day_{weekday.value}"] = "true" if weekday in policy.send_window.days else ""
    return FormState(values=values)


def read_policy_form(form_data: FormData) -> tuple[FormState, list[int]]:
    """What was typed, and the rows that hold a step (not both blank)."""
    row_count = sum(1 for index in range(MAX_ROWS) if f"offset_{index}" in form_data)
    names = ["steps"]
    for index in range(max(row_count, 1)):
        names += [f"offset_{index}", f"tone_{index}"]
    names += ["window_start", "window_end", "days", *(f"day_{day.value}" for day in Weekday)]
    form = FormState.read(form_data, names)
    rows = [
        index
        for index in range(max(row_count, 1))
        if form.values[f"offset_{index}"].strip() or form.values[f"tone_{index}"]
    ]
    return form, rows


def parse_policy(form: FormState, rows: list[int]) -> ReminderPolicy | None:
    """The policy the form describes, or None with each problem on its field."""
    data: dict[str, Any] = {
        "steps": [
            _step(form.values[f"offset_{index}"], form.values[f"tone_{index}"]) for index in rows
        ],
        "send_window": {
            "start": form.values["window_start"].strip(),
            "end": form.values["window_end"].strip(),
            "days": [day.value for day in Weekday if form.values[f"day_{day.value}"] == "true"],
        },
    }
    if not data["steps"]:
        form.add_error("steps", "Add at least one step, or pause reminders below.")
    try:
        policy = ReminderPolicy.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            form.add_error(_field_of(tuple(error.get("loc") or ()), rows), error_message(error))
        return None
    return None if form.failed else policy


def _step(offset: str, tone: str) -> dict[str, Any]:
    """A row as the schema reads it; a blank half is missing, so it is "Required."."""
    step: dict[str, Any] = {}
    if offset.strip():
        step["offset_days"] = offset.strip()
    if tone:
        step["tone"] = tone
    return step


def _field_of(location: tuple[Any, ...], rows: list[int]) -> str:
    """The form field a schema error is about: ``("steps", 2, "tone")`` is the tone of the
    third row that holds a step; a problem with the list itself is on the steps."""
    match location:
        case ("steps", int(position), "offset_days", *_):
            return f"offset_{rows[position]}"
        case ("steps", int(position), "tone", *_):
            return f"tone_{rows[position]}"
        case ("steps", int(position), *_):
            return f"offset_{rows[position]}"
        case ("send_window", "start", *_):
            return "window_start"
        case ("send_window", "days", *_):
            return "days"
        case ("send_window", *_):
            return "window_end"
        case _:
            return "steps"


def _page(
    request: Request,
    user: User,
    *,
    policy_form: FormState,
    now: datetime,
    pause_form: FormState | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    _, source = reminder_service.account_policy(user)
    rows = sorted(
        {int(name.split("_")[1]) for name in policy_form.values if name.startswith("offset_")}
    )
    return render(
        request,
        "settings/reminders.html",
        {
            "active": "settings",
            "section": "reminders",
            "title": "Reminder settings",
            "form": policy_form,
            "rows": rows,
            "source": source.value,
            "tones": [(tone.value, TONE_NAMES[tone]) for tone in Tone],
            "days": [(day.value, DAY_NAMES[day]) for day in Weekday],
            "pause_form": pause_form or FormState(values={"until": ""}),
            "account": user,
            "now": now,
        },
        status_code=status_code,
    )
