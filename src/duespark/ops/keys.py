"""Signing-key rotation on a self-hosted env file, in three phases nobody notices.

Runbook 1 of the seed set a new ``SECRET_KEY`` and logged every user out. Here a rotation is
three edits of the env file the servers read, each followed by a (rolling) restart:

``prepare``
    A new key is generated and put first in ``SECRET_KEY_FALLBACKS``: every instance
    restarted with the file *accepts* it, none signs with it yet. Confirm with
    ``duespark keys status --url`` that every instance lists its id before going on.
``activate``
    The prepared key becomes ``SECRET_KEY`` and the old ``SECRET_KEY`` moves to the front
    of ``SECRET_KEY_FALLBACKS``: new tokens carry the new key id, old ones still verify.
    An instance still at ``prepare`` accepts the new tokens, so a mixed fleet never fails.
``finish``
    The old key leaves ``SECRET_KEY_FALLBACKS``. Refused until the longest access-token
    lifetime plus :data:`GRACE` has passed since ``activate`` (unless forced), because until
    then tokens signed with the old key may still be in use.

The file stays a plain ``KEY=VALUE`` env file. What the rotation must remember between
phases is kept in one comment line, which every env-file reader ignores::

    # duespark-rotation: phase=activated previous=<kid> current=<kid> activated_at=... ...

Keys are named by id (:func:`duespark.auth.tokens.key_id`, a hash), never by value, so the
record and every message can be shown. Values are written unquoted (generated keys are
URL-safe), because Docker's ``--env-file`` does not strip quotes; a key that would need
quoting is refused rather than silently changed. The phase functions are pure (``now`` is
passed in); only :func:`read_env_file` and :func:`write_env_file` touch the disk.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from duespark.auth.tokens import LEEWAY, key_id
from duespark.config import check_key_strength

SECRET_KEY = "SECRET_KEY"
FALLBACKS = "SECRET_KEY_FALLBACKS"
RECORD_PREFIX = "# duespark-rotation:"
RECORD_NOTE = "(kept by `duespark keys rotate`; do not edit)"
# Instances restart after `activate` edits the file and sign with the old key until they
# do; the wait before `finish` covers a rollout this long on top of the token lifetime.
ROLLOUT_ALLOWANCE = timedelta(minutes=5)
GRACE = LEEWAY + ROLLOUT_ALLOWANCE
NEW_FILE_MODE = 0o600

_ASSIGNMENT = re.compile(r"^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
# Characters that mean the same unquoted to Docker, Compose, systemd and a POSIX shell.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_\-+/=.:@%^*,]*$")


class EnvFileError(Exception):
    """The env file cannot be read or written as DueSpark needs it to."""


class RotationError(Exception):
    """The phase asked for cannot run now: out of order, too early, or the file disagrees."""


def generate_key() -> str:
    """A new signing key: 384 bits from the OS's CSPRNG, URL-safe, needs no quoting."""
    while True:
        key = secrets.token_urlsafe(48)
        try:
            check_key_strength(key)
        except ValueError:  # a 64-character draw with < 10 distinct characters; never seen
            continue
        return key


@dataclass(frozen=True)
class EnvFile:
    """An env file as lines, so editing two variables leaves everything else as it was."""

    lines: tuple[str, ...]
    newline: str = "\n"

    @classmethod
    def parse(cls, text: str) -> EnvFile:
        newline = "\r\n" if "\r\n" in text else "\n"
        return cls(tuple(text.splitlines()), newline)

    def render(self) -> str:
        return self.newline.join(self.lines) + self.newline if self.lines else ""

    def _line_of(self, name: str) -> int | None:
        found = [i for i, line in enumerate(self.lines) if _name_of(line) == name]
        if len(found) > 1:
            raise EnvFileError(f"{name} is set {len(found)} times; keep one line")
        return found[0] if found else None

    def get(self, name: str) -> str | None:
        """The variable's value with surrounding quotes removed, or None when absent."""
        index = self._line_of(name)
        return None if index is None else self.values()[name]

    def values(self) -> dict[str, str]:
        """Every assignment, as a process environment would see it (last one wins)."""
        matches = (_ASSIGNMENT.match(line) for line in self.lines)
        return {m.group(2): _unquote(m.group(3).strip()) for m in matches if m}

    def set(self, name: str, value: str) -> EnvFile:
        """Replace the variable's line in place (keeping an ``export``), or append one."""
        if not _SAFE_VALUE.match(value):
            raise EnvFileError(f"the value for {name} would need quoting; use generated keys")
        index = self._line_of(name)
        lines = list(self.lines)
        if index is None:
            lines.append(f"{name}={value}")
        else:
            match = _ASSIGNMENT.match(lines[index])
            assert match is not None
            lines[index] = f"{match.group(1)}{name}={value}"
        return replace(self, lines=tuple(lines))

    def record(self) -> dict[str, str] | None:
        """The rotation record's fields, or None when the file has none."""
        found = [line for line in self.lines if line.startswith(RECORD_PREFIX)]
        if not found:
            return None
        if len(found) > 1:
            raise EnvFileError(f"more than one `{RECORD_PREFIX}` line; keep the last one")
        words = found[0].removeprefix(RECORD_PREFIX).split()
        return dict(word.split("=", 1) for word in words if "=" in word)

    def with_record(self, fields: dict[str, str]) -> EnvFile:
        line = " ".join(
            [RECORD_PREFIX, *(f"{key}={value}" for key, value in fields.items()), RECORD_NOTE]
        )
        kept = [old for old in self.lines if not old.startswith(RECORD_PREFIX)]
        return replace(self, lines=(*kept, line))


def _name_of(line: str) -> str | None:
    match = _ASSIGNMENT.match(line)
    return match.group(2) if match else None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


@dataclass(frozen=True)
class KeyState:
    """The keys an env file configures: what signs, what verifies, and the rotation."""

    signing_key: str
    fallbacks: list[str]
    record: dict[str, str] | None

    @property
    def phase(self) -> str:
        return self.record.get("phase", "unknown") if self.record else "none"

    @property
    def signing_key_id(self) -> str:
        return key_id(self.signing_key)

    @property
    def accepted_key_ids(self) -> list[str]:
        return sorted({key_id(key) for key in [self.signing_key, *self.fallbacks]})


def key_state(env: EnvFile) -> KeyState:
    """Read SECRET_KEY and SECRET_KEY_FALLBACKS (split as the server splits them)."""
    signing, raw = env.get(SECRET_KEY), env.get(FALLBACKS) or ""
    if not signing:
        raise EnvFileError(
            f"no {SECRET_KEY} in the file; add one with `duespark keys generate --env-file`"
        )
    if any(part.isspace() for part in signing + raw):
        raise EnvFileError(
            f"{SECRET_KEY} or {FALLBACKS} has a space in its value (an inline comment?); "
            "env-file readers disagree on what that means, so fix the line first"
        )
    fallbacks = [part.strip() for part in raw.split(",") if part.strip()]
    return KeyState(signing, fallbacks, env.record())


@dataclass(frozen=True)
class Outcome:
    """A phase's result: the new file (``changed`` False when it was already done)."""

    env: EnvFile
    changed: bool
    message: str


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _key_for(state: KeyState, kid: str) -> str | None:
    return next((key for key in state.fallbacks if key_id(key) == kid), None)


def _check_listable(key: str, what: str) -> None:
    """A key joins a comma-separated list unquoted; refuse one that would not survive it."""
    if "," in key or not _SAFE_VALUE.match(key):
        raise RotationError(
            f"{what} contains characters (a comma, space, quote or $) that cannot be listed "
            f"in {FALLBACKS}; rotating away from it needs the old-style restart"
        )


def _check_record(state: KeyState, *, signing: str, fallback: str) -> None:
    """Refuse a file whose keys were changed by hand since the recorded phase."""
    assert state.record is not None
    expected = state.record.get(signing)
    if state.signing_key_id != expected:
        raise RotationError(
            f"{SECRET_KEY} (id {state.signing_key_id}) is not the key the rotation record "
            f"expects (id {expected}); the file was edited by hand. Restore it, or delete "
            f"the `{RECORD_PREFIX}` line to start over"
        )
    wanted = state.record.get(fallback, "")
    if _key_for(state, wanted) is None:
        raise RotationError(
            f"{FALLBACKS} lacks the key with id {wanted} that the rotation record expects; "
            f"the file was edited by hand. Restore it, or delete the `{RECORD_PREFIX}` line"
        )


def prepare(env: EnvFile, *, now: datetime, new_key: str) -> Outcome:
    """Phase 1: accept ``new_key`` everywhere (first fallback) without signing with it."""
    state = key_state(env)
    if state.phase == "prepared":
        _check_record(state, signing="current", fallback="next")
        next_id = state.record["next"]  # type: ignore[index]
        return Outcome(env, False, f"Already prepared: key {next_id} is accepted, not signing.")
    if state.phase not in {"none", "finished"}:
        raise RotationError(
            f"a rotation is {state.phase}: run `--phase finish` before preparing another"
        )
    check_key_strength(new_key)
    _check_listable(new_key, "the new key")
    _check_listable(state.signing_key, SECRET_KEY)  # refused now, not after the restarts
    fallbacks = [new_key, *(key for key in state.fallbacks if key != new_key)]
    updated = env.set(FALLBACKS, ",".join(fallbacks)).with_record(
        {
            "phase": "prepared",
            "current": state.signing_key_id,
            "next": key_id(new_key),
            "prepared_at": _iso(now),
        }
    )
    return Outcome(updated, True, f"Prepared key {key_id(new_key)}: accepted, not yet signing.")


def activate(env: EnvFile, *, now: datetime, token_lifetime: timedelta) -> Outcome:
    """Phase 2: sign with the prepared key; the old one becomes the first fallback."""
    state = key_state(env)
    if state.phase == "activated":
        _check_record(state, signing="current", fallback="previous")
        return Outcome(env, False, f"Already activated: signing with {state.signing_key_id}.")
    if state.phase != "prepared":
        raise RotationError("no key is prepared: run `--phase prepare` first")
    _check_record(state, signing="current", fallback="next")
    assert state.record is not None
    new_key = _key_for(state, state.record["next"])
    assert new_key is not None
    old_key = state.signing_key
    _check_listable(old_key, SECRET_KEY)
    rest = [key for key in state.fallbacks if key not in (new_key, old_key)]
    updated = (
        env.set(SECRET_KEY, new_key)
        .set(FALLBACKS, ",".join([old_key, *rest]))
        .with_record(
            {
                "phase": "activated",
                "previous": key_id(old_key),
                "current": key_id(new_key),
                "activated_at": _iso(now),
                "retire_after": _iso(now + token_lifetime + GRACE),
            }
        )
    )
    return Outcome(
        updated,
        True,
        f"Activated key {key_id(new_key)}: new tokens are signed with it; "
        f"key {key_id(old_key)} still verifies.",
    )


def earliest_finish(record: dict[str, str], token_lifetime: timedelta) -> datetime:
    """When the last token signed with the old key has expired, with :data:`GRACE`.

    The later of the time recorded at ``activate`` and the one the current lifetime gives,
    so raising DUESPARK_ACCESS_TOKEN_MINUTES mid-rotation lengthens the wait.
    """
    try:
        activated = datetime.fromisoformat(record["activated_at"])
        recorded = datetime.fromisoformat(record.get("retire_after", record["activated_at"]))
    except (KeyError, ValueError) as exc:
        raise RotationError(f"the rotation record has no valid activation time ({exc})") from None
    return max(recorded, activated + token_lifetime + GRACE)


def finish(env: EnvFile, *, now: datetime, token_lifetime: timedelta, force: bool) -> Outcome:
    """Phase 3: stop accepting the old key, once no unexpired token can carry it."""
    state = key_state(env)
    if state.phase == "finished":
        retired = (state.record or {}).get("retired", "?")
        return Outcome(env, False, f"Already finished: key {retired} retired.")
    if state.phase == "prepared":
        raise RotationError("the prepared key is not active yet: run `--phase activate` first")
    if state.phase != "activated":
        raise RotationError(
            "no rotation in progress: run `--phase prepare`, then `--phase activate`"
        )
    _check_record(state, signing="current", fallback="previous")
    assert state.record is not None
    earliest = earliest_finish(state.record, token_lifetime)
    if now < earliest and not force:
        minutes = max(1, int((earliest - now).total_seconds() + 59) // 60)
        raise RotationError(
            f"too early: tokens signed with key {state.record['previous']} may be in use "
            f"until {_iso(earliest)} (about {minutes} min from now). Run finish then, or "
            "add --force to log out whoever still holds one"
        )
    old_id = state.record["previous"]
    rest = [key for key in state.fallbacks if key_id(key) != old_id]
    updated = env.set(FALLBACKS, ",".join(rest)).with_record(
        {
            "phase": "finished",
            "current": state.signing_key_id,
            "retired": old_id,
            "finished_at": _iso(now),
        }
    )
    return Outcome(updated, True, f"Retired key {old_id}: it is no longer accepted.")


def token_lifetime(env: EnvFile, minutes: int | None = None) -> timedelta:
    """The servers' longest access-token lifetime: the larger of the file's
    DUESPARK_ACCESS_TOKEN_MINUTES and ``minutes`` (the command line's), else 15."""
    raw = env.get("DUESPARK_ACCESS_TOKEN_MINUTES")
    try:
        found = [int(raw)] if raw else []
    except ValueError:
        raise EnvFileError(f"DUESPARK_ACCESS_TOKEN_MINUTES is not a number: {raw!r}") from None
    if minutes is not None:
        found.append(minutes)
    return timedelta(minutes=max(found) if found else 15)


def read_env_file(path: Path) -> EnvFile:
    try:
        return EnvFile.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EnvFileError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvFileError(f"cannot read {path}: {exc}") from None


def write_env_file(path: Path, env: EnvFile) -> None:
    """Replace the file atomically, keeping its mode and owner (0600 for a new file).

    A crash leaves the old file or the new one, never half of one: the text goes to a
    temporary file in the same folder, is flushed to disk, then renamed over the original.
    A symlinked env file is followed, so the link stays a link.
    """
    target = Path(os.path.realpath(path))
    try:
        info = target.stat()
        mode, owner = info.st_mode & 0o7777, (info.st_uid, info.st_gid)
    except FileNotFoundError:
        mode, owner = NEW_FILE_MODE, None
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        if owner is not None and hasattr(os, "fchown"):
            # Without root the file can only stay ours, as any editor would leave it.
            with contextlib.suppress(PermissionError):
                os.fchown(fd, *owner)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(env.render())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def flyctl_lines(path: Path, env: EnvFile, names: list[str], app: str | None = None) -> list[str]:
    """``flyctl`` commands that read the values from the file when the operator runs them.

    So the keys never appear in DueSpark's output or in shell history. Both variables go in
    one command when both changed: one release, one rolling restart.
    """
    quoted = shlex.quote(str(path))
    suffix = f" --app {shlex.quote(app)}" if app else ""
    to_set = [name for name in names if env.get(name)]
    lines = []
    if to_set:
        assignments = " ".join(
            f"{name}=\"$(sed -nE 's/^(export +)?{name}=//p' {quoted})\"" for name in to_set
        )
        lines.append(f"flyctl secrets set {assignments}{suffix}")
    lines.extend(f"flyctl secrets unset {name}{suffix}" for name in names if name not in to_set)
    return lines
