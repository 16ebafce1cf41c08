"""The dashboard (/app): cards per currency, the aging and expected-payments charts with
their tables, the overdue invoices and the reminders the worker sends next. The pages'
clock is Wednesday 17 June 2026, 15:30 UTC."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.helpers import (
    create_client,
    create_invoice,
    html,
    sign_up,
    submit,
)
from tests.web.html import Element

HOSTILE = "<script>alert(1)</script> {{ 7*7 }}"


def books(web: TestClient) -> dict[str, int]:
    """Two currencies: USD (one invoice 7 days overdue, one due next week, one paid) and
    EUR (one due in July)."""
    sign_up(web)
    usd = create_client(web)
    eur = create_client(
        web,
        name="Müller GmbH",
        email="ap@mueller.example",
        time_zone="Europe/Berlin",
        default_currency="EUR",
    )
    ids = {
        "late": create_invoice(web, usd, number="LATE-1", due_date="2026-06-10"),
        "soon": create_invoice(web, usd, number="SOON-2", amount="500.00", due_date="2026-06-25"),
        "july": create_invoice(web, eur, number="EU-1", amount="2000.00", due_date="2026-07-20"),
        "paid": create_invoice(web, usd, number="PAID-3", amount="99.00", due_date="2026-06-20"),
    }
    paid = submit(web, f"/app/invoices/{ids['paid']}/mark-paid", {"paid_at": "", "amount_paid": ""})
    assert paid.status_code == 303
    return ids


def card(panel: Element, title: str) -> tuple[str, str]:
    """(figure, note) of the card titled ``title``."""
    for element in panel.find_all("div", class_="card"):
        if element.find("h3").text == title:
            return (
                element.find("p", class_="card-figure").text,
                element.find("p", class_="card-note").text,
            )
    raise AssertionError(f"no card {title!r}")


def chart_table(page: Element, key: str) -> list[list[str]]:
    figure = page.find("figure", **{"aria-labelledby": f"figure-{key}"})
    return [
        [cell.text for cell in row.find_all() if cell.tag in {"th", "td"}]
        for row in figure.find("tbody").find_all("tr")
    ]


def test_an_empty_account_is_invited_to_start(web: TestClient) -> None:
    sign_up(web)
    page = html(web.get("/app"))
    assert page.find("h1").text == "Dashboard"
    assert page.by_id("getting-started").text == "Nothing here yet"
    assert not page.find_all("svg")
    assert page.by_id("overdue").find("p").text == "Nothing is overdue. Well done."
    assert "No reminder is due in the next 30 days." in page.by_id("next-to-send").text
    nav = page.find("nav", **{"aria-label": "Main"})
    assert nav.find("a", **{"aria-current": "page"}).text == "Dashboard"


def test_cards_per_currency_never_add_currencies_together(web: TestClient) -> None:
    books(web)
    page = html(web.get("/app"))
    assert "Your books on 17 Jun 2026" in page.find("p", class_="lead").text
    panels = {
        section.find("h2").text: section
        for section in page.find_all("section", class_="currency-panel")
    }
    assert list(panels) == ["EUR", "USD"]
    usd, eur = panels["USD"], panels["EUR"]
    assert card(usd, "Outstanding") == ("1,750.00 USD", "2 open invoices")
    assert card(usd, "Overdue") == ("1,250.00 USD", "1 invoice past due")
    # The forecast's weeks run from today: 17-23 June, 24-30 June, then July.
    assert card(usd, "Expected this month") == (
        "1,750.00 USD",
        "2 invoices, 17 Jun 2026 to 30 Jun 2026",
    )
    assert card(eur, "Outstanding") == ("2,000.00 EUR", "1 open invoice")
    assert card(eur, "Overdue") == ("0.00 EUR", "0 invoices past due")
    assert card(eur, "Expected this month") == (
        "0.00 EUR",
        "0 invoices, 17 Jun 2026 to 30 Jun 2026",
    )
    assert "the weeks of the forecast that begin this month" in page.by_id("expected-rule").text


def test_charts_are_svg_images_with_the_same_figures_as_tables(web: TestClient) -> None:
    books(web)
    response = web.get("/app")
    page = html(response)
    charts = page.find_all("svg")
    assert len(charts) == 4  # aging and expected payments, for each of the two currencies
    for chart in charts:
        assert chart.attrs["role"] == "img"
        title_id, desc_id = chart.attrs["aria-labelledby"].split()
        assert chart.find("title", id=title_id).text and chart.find("desc", id=desc_id).text
        assert not [element for element in chart.iter() if "style" in element.attrs]
    aging = chart_table(page, "aging-USD")
    assert aging == [
        ["Not yet due", "500.00 USD", "1"],
        ["1\u201330 days", "1,250.00 USD", "1"],
        ["31\u201360 days", "0.00 USD", "0"],
        ["61\u201390 days", "0.00 USD", "0"],
        ["Over 90 days", "0.00 USD", "0"],
    ]
    svg = page.find("figure", **{"aria-labelledby": "figure-aging-USD"}).find("svg")
    bars = {
        row.find("text", class_="chart-label").text: float(row.find("rect").attrs["width"])
        for row in svg.find_all("g", class_="chart-row")
    }
    assert bars["1\u201330 days"] > bars["Not yet due"] > bars["31\u201360 days"] == 0
    expected = chart_table(page, "expected-EUR")
    assert expected[0] == ["17\u201323 Jun", "0.00 EUR", "0"]
    assert ["15\u201321 Jul", "2,000.00 EUR", "1"] in expected
    assert expected[-1][0] == "After 11 Aug"


def test_overdue_invoices_and_the_next_reminders(web: TestClient) -> None:
    ids = books(web)
    page = html(web.get("/app"))
    overdue = page.by_id("overdue").find("table")
    assert [link.text for link in overdue.find_all("a")] == ["LATE-1"]
    assert "7 days overdue" in overdue.text
    rows = page.by_id("next-to-send").find("tbody").find_all("tr")
    cells = [[cell.text for cell in row.find_all("td")] for row in rows]
    # LATE-1's +7 step became due at 09:00 in New York today, inside the send window.
    assert cells[0][:3] == ["Now", "LATE-1", "Globex Corporation"]
    assert cells[0][3].startswith("Neutral, 7 days after the due date")
    # SOON-2's first step: Monday 22 June, 09:00 in New York, is 14:00 in London.
    assert cells[1][:2] == ["22 Jun 2026, 14:00", "SOON-2"]
    assert cells[1][3].startswith("Friendly, 3 days before the due date")
    # EU-1's first step: Friday 17 July, 09:00 in Berlin; within the 30 days shown.
    assert cells[2][:2] == ["17 Jul 2026, 08:00", "EU-1"]
    preview = rows[0].find("a", href=f"/app/invoices/{ids['late']}/preview?offset_days=7")
    assert preview.text.startswith("Preview")


def test_a_paused_account_is_told_nothing_is_sent(web: TestClient) -> None:
    books(web)
    assert submit(web, "/app/settings/reminders/pause", {"until": "2026-06-30"}).status_code == 303
    page = html(web.get("/app"))
    notice = page.find("p", class_="notice").text
    assert "Reminders are paused for your whole account until 30 Jun 2026" in notice
    assert page.by_id("next-to-send").find_all("tbody") == []


def test_client_names_are_escaped_on_the_dashboard(web: TestClient) -> None:
    sign_up(web)
    client_id = create_client(web, name=HOSTILE)
    create_invoice(web, client_id, number="<b>N</b>", due_date="2026-06-10")
    response = web.get("/app")
    assert "<script>alert(1)</script>" not in response.text
    assert "<b>N</b>" not in response.text
    page = html(response)
    assert HOSTILE in page.by_id("overdue").text
    assert HOSTILE in page.by_id("next-to-send").text
    assert "<b>N</b>" in page.by_id("next-to-send").text
