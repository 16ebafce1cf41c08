"""Server-rendered bar charts: bars scale to the largest amount, every label and amount is
written out and escaped, an empty chart says so, and the SVG is labelled for screen
readers and styled by classes only."""

from __future__ import annotations

import pytest

from duespark.web.charts import BAR_AREA, LABEL_WIDTH, MIN_BAR, Bar, BarChart, bar_width, render_svg
from tests.web.html import Element, parse


def chart(*values: int, key: str = "aging-EUR", **overrides: str) -> BarChart:
    bars = [
        Bar(label=f"Bucket {index}", value=value, text=f"{value / 100:.2f} EUR", count=index)
        for index, value in enumerate(values)
    ]
    return BarChart(
        key=key,
        title=overrides.get("title", "Open invoices by days past due, EUR"),
        description=overrides.get("description", "Outstanding EUR amounts."),
        bars=bars,
        empty_message=overrides.get("empty_message", "Nothing outstanding."),
    )


def svg(value: BarChart) -> Element:
    root = parse(str(render_svg(value)))
    [element] = root.find_all("svg")
    return element


def widths(element: Element) -> list[float]:
    return [float(rect.attrs["width"]) for rect in element.find_all("rect")]


@pytest.mark.parametrize(
    ("value", "largest", "expected"),
    [
        (100, 100, BAR_AREA),
        (50, 100, BAR_AREA / 2),
        (1, 1_000_000, MIN_BAR),  # a tiny amount still shows
        (0, 100, 0.0),
        (0, 0, 0.0),
        (7, 0, 0.0),  # no largest: nothing to scale against
    ],
)
def test_bar_width_is_the_share_of_the_largest(value: int, largest: int, expected: float) -> None:
    assert bar_width(value, largest) == pytest.approx(expected, abs=0.05)


def test_bars_scale_to_the_largest_amount() -> None:
    drawn = widths(svg(chart(300_00, 600_00, 0, 150_00)))
    assert drawn == pytest.approx([BAR_AREA / 2, BAR_AREA, 0.0, BAR_AREA / 4], abs=0.05)
    # Bars start at the label column, one row each, top to bottom in the given order.
    rects = svg(chart(300_00, 600_00)).find_all("rect")
    assert {float(rect.attrs["x"]) for rect in rects} == {LABEL_WIDTH}
    tops = [float(rect.attrs["y"]) for rect in rects]
    assert tops == sorted(tops) and len(set(tops)) == 2


def test_every_bar_has_its_label_and_amount_written_out() -> None:
    element = svg(chart(125_000, 0))
    labels = [text.text for text in element.find_all("text", class_="chart-label")]
    values = [text.text for text in element.find_all("text", class_="chart-value")]
    assert labels == ["Bucket 0", "Bucket 1"]
    assert values == ["1250.00 EUR", "0.00 EUR"]


def test_the_chart_is_an_image_labelled_by_its_title_and_description() -> None:
    element = svg(chart(100, 200, key="expected-USD"))
    assert element.attrs["role"] == "img"
    assert element.attrs["aria-labelledby"] == "chart-expected-USD-title chart-expected-USD-desc"
    assert element.find("title", id="chart-expected-USD-title").text.endswith("EUR")
    description = element.find("desc", id="chart-expected-USD-desc").text
    assert "Bucket 0: 1.00 EUR" in description and "Bucket 1: 2.00 EUR" in description


def test_an_empty_chart_says_so_instead_of_drawing_nothing() -> None:
    for empty in (chart(0, 0, 0), chart()):
        element = svg(empty)
        assert element.find_all("rect") == []
        assert element.find("text", class_="chart-empty").text == "Nothing outstanding."
        assert "Nothing outstanding." in element.find("desc").text


def test_colours_come_from_classes_never_from_style_attributes() -> None:
    markup = str(render_svg(chart(10, 20)))
    assert "style=" not in markup
    classes = [rect.attrs["class"] for rect in svg(chart(10, 20)).find_all("rect")]
    assert classes == ["chart-bar chart-bar-neutral"] * 2


def test_text_is_escaped() -> None:
    hostile = BarChart(
        key="aging-EUR",
        title='<script>alert("t")</script>',
        description="{{ 7*7 }} & co",
        bars=[Bar(label="<b>x</b>", value=5, text="<i>5</i>", count=1, tone='a" onclick="x')],
    )
    markup = str(render_svg(hostile))
    assert "<script>" not in markup and "<b>" not in markup and "<i>" not in markup
    assert 'onclick="x' not in markup
    element = svg(hostile)
    assert element.find("title").text == '<script>alert("t")</script>'
    assert element.find("text", class_="chart-label").text == "<b>x</b>"
    assert "{{ 7*7 }} & co" in element.find("desc").text
