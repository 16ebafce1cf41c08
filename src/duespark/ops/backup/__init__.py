"""Backups that prove themselves (runbook 2): create, verify, restore, list, prune.

The seed runbook ran ``pg_dump`` by hand, grepped the dump for table names and called
``pg_restore --list`` a test. Neither proves anything (ops.md, section 2.1). Here:

* ``create``: PostgreSQL ``pg_dump -Fc`` inside an exported snapshot, SQLite through the
  online backup API; per-table row counts and content hashes from that same snapshot;
  sha256 of the stored file; optional age encryption; a manifest beside the archive.
* ``verify``: checksum, decrypt, restore into a scratch database, compare every table,
  integrity check; the result goes into the manifest.
* ``restore``: into a new database by default, over the live one only when named.
* ``prune``: grandfather-father-son that never deletes the newest verified backup, and
  deletes nothing while the last verification failed.

Modules: ``create``, ``verify``, ``restore``, ``catalog`` (list, prune) orchestrate;
``postgres``, ``sqlite`` and ``pgtools`` do the backend work; ``manifest``,
``fingerprint``, ``encryption`` and ``retention`` (pure) are the pieces.
"""

from duespark.ops.backup.common import BackupError, BackupUsageError, NullReporter, Reporter

__all__ = ["BackupError", "BackupUsageError", "NullReporter", "Reporter"]
