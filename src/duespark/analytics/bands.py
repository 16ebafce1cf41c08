"""Figures that are sums over bands (aging buckets, forecast weeks, DSO months), computed by
grouping the rows by band and adding the few groups up.

A filtered aggregate per figure (``SUM(amount) FILTER (WHERE band)``, twice per band) makes
the database test every band's condition and update every running sum for every row; the
query plans showed those aggregates, not reading the rows, taking most of each query's
time. Grouping instead by one ``CASE`` per family of disjoint bands (which band of the
family the row is in) leaves one sum and one count per row and a few dozen groups, which
:meth:`Families.fold` adds up in Python. The sums are integers, so the figures are exactly
those of the filtered aggregates; a row in no band of a family adds to none of its figures,
as a filter it fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Label, case


class Families:
    """Families of bands, each ``{band name: condition}`` with conditions that no row meets
    twice within a family (bands of different families may overlap)."""

    def __init__(self, **families: Mapping[str, ColumnElement[bool]]) -> None:
        self._families = {name: list(bands.items()) for name, bands in families.items()}

    def keys(self) -> list[Label[Any]]:
        """One column per family, labelled with its name: the position of the row's band
        in the family, or NULL when it is in none."""
        return [
            case(*((where, position) for position, (_, where) in enumerate(bands))).label(name)
            for name, bands in self._families.items()
        ]

    def fold(
        self, rows: Iterable[Mapping[str, Any]], *, always: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Rows of (``currency``, one key per family, ``amount``, ``count``) as one dict
        per currency of ``<band>_amount`` and ``<band>_count`` for each band with rows, and
        for each name in ``always`` (every row)."""
        by_currency: dict[str, dict[str, Any]] = {}
        for row in rows:
            sums = by_currency.setdefault(row["currency"], {"currency": row["currency"]})
            names = list(always)
            for family, bands in self._families.items():
                if row[family] is not None:
                    names.append(bands[row[family]][0])
            for name in names:
                for part in ("amount", "count"):
                    sums[f"{name}_{part}"] = sums.get(f"{name}_{part}", 0) + row[part]
        return list(by_currency.values())
