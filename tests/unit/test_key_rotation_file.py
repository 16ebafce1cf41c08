"""The env-file rotation as pure functions: phases, order, timing, and the file's shape."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from duespark.auth.tokens import InvalidToken, Keyring, key_id
from duespark.config import load_settings
from duespark.ops import keys as rotation
from duespark.ops.keys import EnvFile, EnvFileError, RotationError

OLD_KEY = "old-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG"
NEW_KEY = "new-key-9876543210-zyxwvutsrqponmlkjihgfedcba-GFEDCBA"
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LIFETIME = timedelta(minutes=15)
ORIGINAL = (
    "# DueSpark on host A\n"
    "DATABASE_URL=postgresql://duespark@db/duespark\n"
    f'export SECRET_KEY="{OLD_KEY}"\n'
    "\n"
    "DUESPARK_ENV=production\n"
)


def phases() -> tuple[EnvFile, EnvFile, EnvFile, EnvFile]:
    """The file before, and after each phase, with time passing as it would."""
    before = EnvFile.parse(ORIGINAL)
    prepared = rotation.prepare(before, now=T0, new_key=NEW_KEY).env
    activated = rotation.activate(prepared, now=T0 + timedelta(hours=1), token_lifetime=LIFETIME)
    finished = rotation.finish(
        activated.env, now=T0 + timedelta(hours=2), token_lifetime=LIFETIME, force=False
    )
    return before, prepared, activated.env, finished.env


def keyring(env: EnvFile) -> Keyring:
    """The keyring a server reading this file would build, through the real settings."""
    values = {**env.values(), "DUESPARK_ENV": "development", "DATABASE_URL": "sqlite://"}
    return Keyring.from_settings(load_settings(values))


def test_each_phase_moves_the_keys_as_documented() -> None:
    _, prepared, activated, finished = phases()
    assert (prepared.get("SECRET_KEY"), prepared.get("SECRET_KEY_FALLBACKS")) == (OLD_KEY, NEW_KEY)
    assert (activated.get("SECRET_KEY"), activated.get("SECRET_KEY_FALLBACKS")) == (
        NEW_KEY,
        OLD_KEY,
    )
    assert (finished.get("SECRET_KEY"), finished.get("SECRET_KEY_FALLBACKS")) == (NEW_KEY, "")
    assert prepared.record() == {
        "phase": "prepared",
        "current": key_id(OLD_KEY),
        "next": key_id(NEW_KEY),
        "prepared_at": "2026-11-28T12:00:00+00:00",
    }
    assert activated.record()["retire_after"] == "2026-11-28T13:20:30+00:00"  # type: ignore[index]
    assert finished.record()["retired"] == key_id(OLD_KEY)  # type: ignore[index]


def test_everything_else_in_the_file_is_kept_line_for_line() -> None:
    _, prepared, activated, finished = phases()
    for env in (prepared, activated, finished):
        text = env.render()
        assert text.startswith("# DueSpark on host A\nDATABASE_URL=postgresql://duespark@db/")
        assert "\n\nDUESPARK_ENV=production\n" in text
        assert text.count("# duespark-rotation:") == 1
    assert f"export SECRET_KEY={NEW_KEY}\n" in activated.render()


def test_keyrings_of_adjacent_phases_accept_each_others_tokens() -> None:
    """A fleet is only ever in two adjacent phases: whichever instance issued a token,
    the other accepts it. Only after finish does a token under the old key fail."""
    rings = [keyring(env) for env in phases()]
    tokens = [
        ring.issue_access_token(user_id=1, token_version=1, now=T0, lifetime=LIFETIME)
        for ring in rings
    ]
    for i in range(3):
        for issuer, verifier in ((i, i + 1), (i + 1, i)):
            rings[verifier].verify_access_token(tokens[issuer], now=T0)
    with pytest.raises(InvalidToken):
        rings[3].verify_access_token(tokens[0], now=T0)
    assert [ring.signing_key_id for ring in rings] == [key_id(OLD_KEY)] * 2 + [key_id(NEW_KEY)] * 2


def test_every_phase_is_idempotent() -> None:
    _, prepared, activated, finished = phases()
    again = rotation.prepare(prepared, now=T0 + timedelta(minutes=5), new_key="x" * 40)
    assert not again.changed and again.env == prepared
    again = rotation.activate(activated, now=T0 + timedelta(hours=3), token_lifetime=LIFETIME)
    assert not again.changed and again.env == activated
    again = rotation.finish(
        finished, now=T0 + timedelta(hours=4), token_lifetime=LIFETIME, force=False
    )
    assert not again.changed and again.env == finished


@pytest.mark.parametrize(
    ("phase", "state", "message"),
    [
        ("activate", 0, "no key is prepared"),
        ("finish", 0, "no rotation in progress"),
        ("finish", 1, "run `--phase activate` first"),
        ("prepare", 2, "run `--phase finish` before preparing another"),
        ("activate", 3, "no key is prepared"),
    ],
)
def test_out_of_order_phases_are_refused(phase: str, state: int, message: str) -> None:
    env = phases()[state]
    later = T0 + timedelta(days=1)
    run = {
        "prepare": lambda: rotation.prepare(env, now=later, new_key=NEW_KEY + "x"),
        "activate": lambda: rotation.activate(env, now=later, token_lifetime=LIFETIME),
        "finish": lambda: rotation.finish(env, now=later, token_lifetime=LIFETIME, force=False),
    }[phase]
    with pytest.raises(RotationError, match=message):
        run()


def test_finish_waits_for_the_longest_token_lifetime_plus_grace() -> None:
    _, _, activated, _ = phases()
    activated_at = T0 + timedelta(hours=1)
    earliest = activated_at + LIFETIME + rotation.GRACE
    with pytest.raises(RotationError, match="too early"):
        rotation.finish(
            activated, now=earliest - timedelta(seconds=1), token_lifetime=LIFETIME, force=False
        )
    assert rotation.finish(activated, now=earliest, token_lifetime=LIFETIME, force=False).changed
    forced = rotation.finish(activated, now=activated_at, token_lifetime=LIFETIME, force=True)
    assert forced.env.get("SECRET_KEY_FALLBACKS") == ""


def test_a_longer_lifetime_configured_mid_rotation_lengthens_the_wait() -> None:
    _, _, activated, _ = phases()
    just_after_recorded = T0 + timedelta(hours=1) + LIFETIME + rotation.GRACE
    with pytest.raises(RotationError, match="too early"):
        rotation.finish(
            activated, now=just_after_recorded, token_lifetime=timedelta(hours=1), force=False
        )


def test_hand_edited_keys_are_refused_not_guessed_at() -> None:
    _, prepared, _, _ = phases()
    edited = prepared.set("SECRET_KEY_FALLBACKS", "another-key-0123456789-abcdefghijklmnopq")
    with pytest.raises(RotationError, match="edited by hand"):
        rotation.activate(edited, now=T0, token_lifetime=LIFETIME)
    swapped = prepared.set("SECRET_KEY", "another-key-0123456789-abcdefghijklmnopq")
    with pytest.raises(RotationError, match="edited by hand"):
        rotation.activate(swapped, now=T0, token_lifetime=LIFETIME)


def test_earlier_fallbacks_survive_a_rotation() -> None:
    older = "older-key-0123456789-abcdefghijklmnopqrstuvwxyz"
    env = EnvFile.parse(f"SECRET_KEY={OLD_KEY}\nSECRET_KEY_FALLBACKS={older}\n")
    prepared = rotation.prepare(env, now=T0, new_key=NEW_KEY).env
    assert prepared.get("SECRET_KEY_FALLBACKS") == f"{NEW_KEY},{older}"
    activated = rotation.activate(prepared, now=T0, token_lifetime=LIFETIME).env
    assert activated.get("SECRET_KEY_FALLBACKS") == f"{OLD_KEY},{older}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("DATABASE_URL=sqlite://\n", "no SECRET_KEY"),
        (f"SECRET_KEY={OLD_KEY}\nSECRET_KEY={NEW_KEY}\n", "set 2 times"),
        (f"SECRET_KEY={OLD_KEY} # the key\n", "has a space"),
    ],
)
def test_unreadable_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(EnvFileError, match=message):
        rotation.prepare(EnvFile.parse(text), now=T0, new_key=NEW_KEY)


def test_a_key_that_would_need_quoting_is_not_moved_silently() -> None:
    env = EnvFile.parse('SECRET_KEY="has a $dollar and spaces 0123456789abcdef"\n')
    with pytest.raises(EnvFileError):
        rotation.prepare(env, now=T0, new_key=NEW_KEY)


def test_generated_keys_are_strong_distinct_and_need_no_quoting() -> None:
    keys = {rotation.generate_key() for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert len(key) == 64
        EnvFile(()).set("SECRET_KEY", key)  # raises if the value would need quoting


def test_flyctl_lines_hold_no_key_and_read_the_exact_values_in_a_real_shell(
    tmp_path: Path,
) -> None:
    path = tmp_path / "my env" / "prod.env"
    path.parent.mkdir()
    _, _, activated, _ = phases()
    rotation.write_env_file(path, activated)
    lines = rotation.flyctl_lines(path, activated, ["SECRET_KEY", "SECRET_KEY_FALLBACKS"], "app")
    assert len(lines) == 1 and lines[0].startswith("flyctl secrets set SECRET_KEY=")
    assert lines[0].endswith(" --app app")
    assert OLD_KEY not in lines[0] and NEW_KEY not in lines[0]
    # Run the very same command with `flyctl` replaced by a function that prints its args.
    script = 'flyctl() { for a in "$@"; do printf \'%s\\n\' "$a"; done; }\n' + lines[0]
    shown = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, timeout=10, check=True
    ).stdout.splitlines()
    assert shown == [
        "secrets",
        "set",
        f"SECRET_KEY={NEW_KEY}",
        f"SECRET_KEY_FALLBACKS={OLD_KEY}",
        "--app",
        "app",
    ]


def test_an_empty_fallback_list_becomes_unset_on_fly() -> None:
    _, _, _, finished = phases()
    lines = rotation.flyctl_lines(Path("/x.env"), finished, ["SECRET_KEY_FALLBACKS"])
    assert lines == ["flyctl secrets unset SECRET_KEY_FALLBACKS"]


def test_write_is_atomic_keeps_the_mode_and_follows_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "real.env"
    real.write_text(ORIGINAL)
    real.chmod(0o640)
    link = tmp_path / "link.env"
    link.symlink_to(real)
    _, prepared, _, _ = phases()
    rotation.write_env_file(link, prepared)
    assert link.is_symlink()
    assert real.read_text() == prepared.render()
    assert real.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.env", "real.env"]  # no temp
    fresh = tmp_path / "fresh.env"
    rotation.write_env_file(fresh, prepared)
    assert fresh.stat().st_mode & 0o777 == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "prod.env"
    path.write_text(ORIGINAL)

    class Exploding(EnvFile):
        def render(self) -> str:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        rotation.write_env_file(path, Exploding(("SECRET_KEY=x",)))
    assert path.read_text() == ORIGINAL
    assert os.listdir(tmp_path) == ["prod.env"]


def test_crlf_files_stay_crlf() -> None:
    env = EnvFile.parse(ORIGINAL.replace("\n", "\r\n"))
    prepared = rotation.prepare(env, now=T0, new_key=NEW_KEY).env
    assert "\r\n" in prepared.render() and "\n" not in prepared.render().replace("\r\n", "")
