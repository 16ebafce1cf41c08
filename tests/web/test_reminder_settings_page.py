"""The reminder settings page: the steps, tones and send window, validated by the API's
``ReminderPolicy`` with each problem next to its field; pausing the whole account."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from duespark.db import Database
from duespark.models import User
from tests.web.helpers import field_error, field_value, flash, html, sign_up, submit

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def policy_form(
    steps: list[tuple[str, str]],
    *,
    start: str = "09:00",
    end: str = "17:00",
    days: tuple[str, ...] = WEEKDAYS,
) -> dict[str, str]:
    form: dict[str, str] = {"window_start": start, "window_end": end}
    for index, (offset, tone) in enumerate(steps):
        form[f"offset_{index}"] = offset
        form[f"tone_{index}"] = tone
    for day in days:
        form[f"day_{day}"] = "true"
    return form


def account(database: Database) -> dict[str, Any]:
    with database.session_scope() as session:
        user = session.scalar(select(User))
        assert user is not None
        return {
            "policy": user.reminder_policy,
            "paused": user.reminders_paused,
            "until": user.reminders_paused_until,
        }


def test_the_default_schedule_is_shown_with_blank_rows_to_add_steps(web: TestClient) -> None:
    sign_up(web)
    page = html(web.get("/app/settings/reminders"))
    assert page.find("h2").text == "Reminder schedule"
    assert "You use DueSpark's default schedule." in page.by_id("main").text
    offsets = [field_value(page, f"offset_{index}") for index in range(9)]
    tones = [field_value(page, f"tone_{index}") for index in range(9)]
    assert offsets == ["-3", "0", "3", "7", "14", "30", "", "", ""]
    assert tones == ["friendly", "friendly", "neutral", "neutral", "firm", "final", "", "", ""]
    assert (field_value(page, "window_start"), field_value(page, "window_end")) == (
        "09:00",
        "17:00",
    )
    checked = [
        day
        for day in (*WEEKDAYS, "sat", "sun")
        if "checked" in page.by_id(f"field-day_{day}").attrs
    ]
    assert checked == list(WEEKDAYS)
    settings_nav = page.find("nav", **{"aria-label": "Settings"})
    assert settings_nav.find("a", **{"aria-current": "page"}).text == "Reminder schedule"
    assert web.get("/app/settings").headers["location"] == "/app/settings/reminders"


def test_saving_a_schedule(web: TestClient, database: Database) -> None:
    sign_up(web)
    # Rows in any order, one cleared (removed), one added; a weekend day allowed.
    form = policy_form(
        [("7", "firm"), ("", ""), ("-1", "friendly"), ("21", "final")],
        start="08:30",
        end="18:00",
        days=(*WEEKDAYS, "sat"),
    )
    response = submit(web, "/app/settings/reminders", form)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/app/settings/reminders"
    assert account(database)["policy"] == {
        "steps": [
            {"offset_days": -1, "tone": "friendly"},
            {"offset_days": 7, "tone": "firm"},
            {"offset_days": 21, "tone": "final"},
        ],
        "send_window": {"start": "08:30", "end": "18:00", "days": [*WEEKDAYS, "sat"]},
    }
    page = html(web.get("/app/settings/reminders"))
    assert flash(page) == "Reminder schedule saved."
    assert "Your own schedule." in page.by_id("main").text
    assert [field_value(page, f"offset_{index}") for index in range(4)] == ["-1", "7", "21", ""]


def test_each_problem_is_shown_next_to_its_field_and_nothing_is_saved(
    web: TestClient, database: Database
) -> None:
    sign_up(web)
    form = policy_form(
        [("abc", "friendly"), ("5", ""), ("400", "firm"), ("", "neutral")],
        start="25:00",
        end="17:00",
        days=(),
    )
    response = submit(web, "/app/settings/reminders", form)
    assert response.status_code == 422
    page = html(response)
    assert "valid integer" in (field_error(page, "offset_0") or "")
    assert field_error(page, "tone_1") == "Required."
    assert "less than or equal to 365" in (field_error(page, "offset_2") or "")
    assert field_error(page, "offset_3") == "Required."
    assert "HH:MM" in (field_error(page, "window_start") or "")
    assert "at least 1 item" in (page.by_id("field-days-error").text)
    # What was typed stays, so each error makes sense next to it.
    assert field_value(page, "offset_0") == "abc"
    assert field_value(page, "tone_3") == "neutral"
    assert field_value(page, "window_start") == "25:00"
    summary = [item.text for item in page.find("div", class_="error-summary").find_all("li")]
    assert summary[0].startswith("Step 1, days from the due date:")
    assert account(database)["policy"] is None


def test_rules_across_fields_are_shown_where_they_belong(
    web: TestClient, database: Database
) -> None:
    sign_up(web)
    twice = submit(web, "/app/settings/reminders", policy_form([("3", "friendly"), ("3", "firm")]))
    assert twice.status_code == 422
    assert "repeated: [3]" in html(twice).by_id("field-steps-error").text
    backwards = submit(
        web, "/app/settings/reminders", policy_form([("3", "friendly")], start="17:00", end="09:00")
    )
    assert backwards.status_code == 422
    assert "end must be after its start" in (field_error(html(backwards), "window_end") or "")
    empty = submit(web, "/app/settings/reminders", policy_form([("", "")]))
    assert empty.status_code == 422
    assert "at least one step" in html(empty).by_id("field-steps-error").text
    assert account(database)["policy"] is None


def test_pausing_and_resuming_the_whole_account(web: TestClient, database: Database) -> None:
    sign_up(web)
    past = submit(web, "/app/settings/reminders/pause", {"until": "2026-06-01"})
    assert past.status_code == 422
    assert field_error(html(past), "until") == "until cannot be in the past."
    assert account(database)["until"] is None
    paused = submit(web, "/app/settings/reminders/pause", {"until": "2026-07-01"})
    assert paused.status_code == 303
    assert account(database) | {"policy": None} == {
        "policy": None,
        "paused": False,
        "until": date(2026, 7, 1),
    }
    page = html(web.get("/app/settings/reminders"))
    assert flash(page) == "All reminders paused until 2026-07-01."
    section = page.find("section", **{"aria-labelledby": "pause-account"})
    assert "Paused until 1 Jul 2026" in section.text
    assert submit(web, "/app/settings/reminders/resume").status_code == 303
    assert account(database)["until"] is None and not account(database)["paused"]


def test_settings_forms_need_this_sites_token(web: TestClient, database: Database) -> None:
    sign_up(web)
    for url, form in [
        ("/app/settings/reminders", policy_form([("1", "firm")])),
        ("/app/settings/reminders/pause", {"until": ""}),
    ]:
        response = web.post(url, data={**form, "csrf_token": "forged"})
        assert response.status_code == 403, url
        assert html(response).find("h1").text == "Not allowed"
    assert account(database) == {"policy": None, "paused": False, "until": None}
