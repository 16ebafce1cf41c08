"""Per-table fingerprints: a row count and a content hash, and how two sets are compared.

Row counts alone are not verification: a one-byte change in a dumped value restores
cleanly with the same count (ops.md, section 2.1). So each table also gets a content hash.

The hash is order-independent and needs no primary key: every row is digested on its own
(on PostgreSQL ``md5(row::text)`` computed by the server; on SQLite a typed encoding of the
values, see ``sqlite.py``), the database sorts the digests (under the "C" collation, so the
result does not depend on the database's locale), and sha256 runs over the sorted stream.
A restore may put rows in a different physical order; the hash does not change. Hashes are
comparable between a source snapshot and a restored copy on the same backend, not across
backends (a row's text differs between PostgreSQL and SQLite).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from duespark.ops.backup.manifest import TableFingerprint

METHOD_POSTGRES = "postgresql: sha256 over md5(row::text) sorted C, UTC/ISO session, v1"
METHOD_SQLITE = "sqlite: sha256 over sha256(typed row) sorted, v1"


class TableHasher:
    """Accumulates one table's sorted row digests into a :class:`TableFingerprint`."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self._rows = 0

    def add(self, row_digest: str) -> None:
        self._digest.update(row_digest.encode("ascii"))
        self._digest.update(b"\n")
        self._rows += 1

    def add_many(self, row_digests: Iterable[str]) -> int:
        before = self._rows
        for row_digest in row_digests:
            self.add(row_digest)
        return self._rows - before

    @property
    def rows(self) -> int:
        return self._rows

    def result(self) -> TableFingerprint:
        return TableFingerprint(rows=self._rows, hash=self._digest.hexdigest())


def compare(
    expected: dict[str, TableFingerprint], actual: dict[str, TableFingerprint]
) -> list[str]:
    """Every difference between the fingerprints recorded at backup time and those of the
    restored copy, as readable problems (empty when they match exactly)."""
    problems: list[str] = []
    for name in sorted(expected.keys() - actual.keys()):
        problems.append(f"table {name} is missing from the restored copy")
    for name in sorted(actual.keys() - expected.keys()):
        problems.append(f"table {name} is in the restored copy but not in the manifest")
    for name in sorted(expected.keys() & actual.keys()):
        want, got = expected[name], actual[name]
        if want.rows != got.rows:
            problems.append(
                f"table {name}: {got.rows} rows restored, the manifest says {want.rows}"
            )
        elif want.hash != got.hash:
            problems.append(
                f"table {name}: content hash differs ({got.hash[:12]}... restored, "
                f"{want.hash[:12]}... in the manifest) with the same {got.rows} rows: "
                "a value changed"
            )
    return problems
