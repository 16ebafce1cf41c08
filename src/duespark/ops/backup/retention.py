"""Which backups to keep: grandfather-father-son, on top of verification. Pure.

``plan`` is a function of the backups and ``now`` only, so 400 simulated days can be
tested in milliseconds. Rules, in order of precedence:

1. If the most recent verification (of any backup) failed, keep everything: something is
   wrong, and the older backups may be the only good ones.
2. Never delete the newest backup whose verification passed.
3. Keep the newest backup of each of the last ``daily`` UTC days that have a backup, of
   each of the last ``weekly`` ISO weeks that have one, and each of the last ``monthly``
   calendar months that have one (the restic/borg meaning: periods without backups do not
   use up a slot, so a pause in backups never expires the last good ones). A backup whose
   verification failed fills no slot: it cannot be restored.
4. Backups dated after ``now`` (a clock that jumped) are kept: their age is unknown.

Everything else is deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class BackupRecord:
    """What retention needs to know about one backup."""

    name: str
    created_at: datetime
    verified_at: datetime | None = None
    verified_ok: bool | None = None


@dataclass(frozen=True)
class Policy:
    daily: int = 7
    weekly: int = 4
    monthly: int = 12


@dataclass
class Plan:
    keep: dict[str, list[str]] = field(default_factory=dict)  # name -> reasons
    delete: list[str] = field(default_factory=list)
    blocked: str | None = None  # why nothing may be deleted, if so

    @property
    def kept(self) -> list[str]:
        return sorted(self.keep)


def _day(moment: datetime) -> Hashable:
    return moment.date()


def _week(moment: datetime) -> Hashable:
    iso = moment.isocalendar()
    return (iso.year, iso.week)


def _month(moment: datetime) -> Hashable:
    return (moment.year, moment.month)


def _newest_per_period(
    backups: Sequence[BackupRecord], period: Callable[[datetime], Hashable], count: int
) -> list[BackupRecord]:
    chosen: list[BackupRecord] = []
    seen: set[Hashable] = set()
    for backup in sorted(backups, key=lambda item: (item.created_at, item.name), reverse=True):
        key = period(backup.created_at)
        if key in seen:
            continue
        if len(seen) == count:
            break
        seen.add(key)
        chosen.append(backup)
    return chosen


def plan(backups: Sequence[BackupRecord], now: datetime, policy: Policy) -> Plan:
    result = Plan()

    def keep(backup: BackupRecord, reason: str) -> None:
        result.keep.setdefault(backup.name, []).append(reason)

    verified = [item for item in backups if item.verified_at is not None]
    if verified:
        last = max(verified, key=lambda item: (item.verified_at, item.name))
        if last.verified_ok is False:
            result.blocked = (
                f"the last verification ({last.name}) failed: deleting nothing until a "
                "verification passes"
            )
            for backup in backups:
                keep(backup, "last verification failed")
            return result

    passed = [item for item in backups if item.verified_ok is True]
    if passed:
        newest = max(passed, key=lambda item: (item.created_at, item.name))
        keep(newest, "newest verified")

    candidates = [
        item for item in backups if item.verified_ok is not False and item.created_at <= now
    ]
    for label, period, count in (
        ("daily", _day, policy.daily),
        ("weekly", _week, policy.weekly),
        ("monthly", _month, policy.monthly),
    ):
        for backup in _newest_per_period(candidates, period, count):
            keep(backup, label)

    for backup in backups:
        if backup.created_at > now:
            keep(backup, "dated in the future")

    result.delete = sorted(item.name for item in backups if item.name not in result.keep)
    return result
