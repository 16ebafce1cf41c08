"""Retention: exactly the grandfather-father-son set, over 400 simulated days, and the
two safety rules (never the newest verified backup; nothing while the last verify failed).

The expected sets are written out by hand from the calendar, not computed by a second
implementation of the same rules.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from duespark.ops.backup.retention import BackupRecord, Policy, plan

START = date(2025, 1, 1)  # a Wednesday
GFS = Policy(daily=7, weekly=4, monthly=12)


def _at(day: date, hour: int = 3) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _name(day: date, hour: int = 3) -> str:
    return f"duespark-{day:%Y%m%d}T{hour:02d}0000Z.pgdump"


def _backup(day: date, *, verified: bool | None = True, hour: int = 3) -> BackupRecord:
    return BackupRecord(
        name=_name(day, hour),
        created_at=_at(day, hour),
        verified_at=None if verified is None else _at(day, hour) + timedelta(hours=1),
        verified_ok=verified,
    )


def test_400_days_of_daily_backups_pruned_every_day_keep_exactly_the_gfs_set() -> None:
    kept: list[BackupRecord] = []
    newest_verified_always_kept = True
    for offset in range(400):
        today = START + timedelta(days=offset)
        kept.append(_backup(today))
        decided = plan(kept, _at(today, 5), GFS)
        assert decided.blocked is None
        newest_verified_always_kept &= _name(today) in decided.keep
        assert len(decided.keep) <= GFS.daily + GFS.weekly + GFS.monthly
        kept = [backup for backup in kept if backup.name not in decided.delete]
    last = START + timedelta(days=399)
    assert last == date(2026, 2, 4)  # a Wednesday
    assert newest_verified_always_kept
    expected_days = [
        # daily: the last 7 days
        date(2026, 1, 29), date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1),
        date(2026, 2, 2), date(2026, 2, 3), date(2026, 2, 4),
        # weekly (ISO weeks end on Sunday): this week's newest is Feb 4 (above),
        # then Sundays Feb 1 (above), Jan 25, Jan 18
        date(2026, 1, 25), date(2026, 1, 18),
        # monthly: Feb 4, Jan 31 (above), then the last day of Dec 2025 back to Mar 2025
        date(2025, 12, 31), date(2025, 11, 30), date(2025, 10, 31), date(2025, 9, 30),
        date(2025, 8, 31), date(2025, 7, 31), date(2025, 6, 30), date(2025, 5, 31),
        date(2025, 4, 30), date(2025, 3, 31),
    ]  # fmt: skip
    assert sorted(backup.name for backup in kept) == sorted(_name(day) for day in expected_days)
    assert len(kept) == 19

    # Pruning once at the end gives the same set as pruning every day.
    everything = [_backup(START + timedelta(days=offset)) for offset in range(400)]
    assert plan(everything, _at(last, 5), GFS).kept == sorted(_name(day) for day in expected_days)


def test_a_day_with_several_backups_keeps_its_newest() -> None:
    day = date(2026, 3, 10)
    backups = [_backup(day, hour=hour) for hour in (1, 9, 17)]
    decided = plan(backups, _at(day, 23), Policy(daily=1, weekly=0, monthly=0))
    assert decided.kept == [_name(day, 17)]
    assert decided.delete == sorted([_name(day, 1), _name(day, 9)])


def test_the_newest_verified_backup_is_never_deleted() -> None:
    """Verification stopped on day 5; days 6-30 were never verified. Even a policy that
    keeps only the newest backup keeps day 5 too."""
    days = [date(2026, 1, 1) + timedelta(days=offset) for offset in range(30)]
    backups = [_backup(day, verified=True if day.day <= 5 else None) for day in days]
    decided = plan(backups, _at(days[-1], 12), Policy(daily=1, weekly=0, monthly=0))
    assert decided.kept == sorted([_name(date(2026, 1, 5)), _name(date(2026, 1, 30))])
    assert decided.keep[_name(date(2026, 1, 5))] == ["newest verified"]
    assert len(decided.delete) == 28


def test_nothing_is_deleted_while_the_last_verification_failed() -> None:
    days = [date(2026, 1, 1) + timedelta(days=offset) for offset in range(60)]
    backups = [_backup(day) for day in days[:-1]]
    # The newest backup was verified last, and failed.
    backups.append(_backup(days[-1], verified=False))
    decided = plan(backups, _at(days[-1], 12), GFS)
    assert decided.delete == []
    assert len(decided.keep) == 60
    assert decided.blocked is not None and "failed" in decided.blocked
    assert _name(days[-1]) in decided.blocked


def test_a_later_passing_verification_unblocks_and_the_failed_backup_fills_no_slot() -> None:
    day = date(2026, 2, 10)
    broken = _backup(day, verified=False, hour=3)  # verified at 04:00, failed
    good = BackupRecord(  # an earlier backup, verified again at 06:00: passed
        name=_name(day, 1),
        created_at=_at(day, 1),
        verified_at=_at(day, 6),
        verified_ok=True,
    )
    older = _backup(day - timedelta(days=1))
    decided = plan([older, good, broken], _at(day, 7), Policy(daily=2, weekly=0, monthly=0))
    assert decided.blocked is None
    # Day 10's slot goes to the good backup, not the newer broken one.
    assert decided.kept == sorted([_name(day, 1), _name(day - timedelta(days=1))])
    assert decided.delete == [_name(day, 3)]


def test_unverified_backups_still_count_for_gfs() -> None:
    days = [date(2026, 1, 1) + timedelta(days=offset) for offset in range(10)]
    backups = [_backup(day, verified=None) for day in days]
    decided = plan(backups, _at(days[-1], 12), Policy(daily=3, weekly=0, monthly=0))
    assert decided.kept == sorted(_name(day) for day in days[-3:])


def test_backups_dated_in_the_future_are_kept() -> None:
    now = _at(date(2026, 5, 1), 12)
    future = _backup(date(2026, 6, 1), verified=None)
    backups = [_backup(date(2026, 4, 30)), _backup(date(2026, 4, 29)), future]
    decided = plan(backups, now, Policy(daily=1, weekly=0, monthly=0))
    assert future.name in decided.keep
    assert decided.keep[future.name] == ["dated in the future"]
    assert decided.delete == [_name(date(2026, 4, 29))]


def test_a_pause_in_backups_does_not_expire_the_last_good_ones() -> None:
    """Periods without backups use up no slot: after 30 silent days the last 7 remain."""
    days = [date(2026, 1, 1) + timedelta(days=offset) for offset in range(20)]
    backups = [_backup(day) for day in days]
    decided = plan(backups, _at(days[-1] + timedelta(days=30), 12), Policy(7, 0, 0))
    assert decided.kept == sorted(_name(day) for day in days[-7:])


def test_empty_list_plans_nothing() -> None:
    decided = plan([], _at(START), GFS)
    assert decided.keep == {} and decided.delete == [] and decided.blocked is None
