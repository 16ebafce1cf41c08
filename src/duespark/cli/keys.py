"""``duespark keys``: generate signing keys, see which are in use, rotate without logouts.

The rotation itself lives in :mod:`duespark.ops.keys`; this module reads the command line,
reads and writes the file, and explains what to do next. Exit codes: 0 done (or already
done: every phase is idempotent), 1 refused (out of order, too early, an instance not
ready, a file edited by hand), 2 bad usage (missing file, conflicting options).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer

from duespark import clock
from duespark.auth.tokens import Keyring, key_id
from duespark.cli._common import EXIT_USAGE, console, errors, fail, settings_or_exit
from duespark.ops import keys as rotation
from duespark.ops.smoke import RemoteError, remote_keys

app = typer.Typer(
    help="Signing keys: generate one, show which are in use, rotate without logging anyone "
    "out (prepare → activate → finish).",
    no_args_is_help=True,
)


class Phase(StrEnum):
    prepare = "prepare"
    activate = "activate"
    finish = "finish"


@app.command()
def generate(
    env_file: Path | None = typer.Option(
        None,
        "--env-file",
        help="Write the key as SECRET_KEY into this env file (created with mode 0600) "
        "instead of printing it. Refused when the file already has a SECRET_KEY: "
        "replacing it would log everyone out; use `keys rotate`.",
    ),
) -> None:
    """Print a new random signing key (384 bits, URL-safe), for a first SECRET_KEY."""
    key = rotation.generate_key()
    if env_file is None:
        typer.echo(key)
        errors.print(f"key id {key_id(key)}; keep the key secret.", highlight=False, soft_wrap=True)
        return
    try:
        env = rotation.read_env_file(env_file) if env_file.exists() else rotation.EnvFile(())
        if env.get(rotation.SECRET_KEY):
            raise fail(
                f"{env_file} already has a {rotation.SECRET_KEY}; change it with "
                f"`duespark keys rotate --env-file {env_file} --phase prepare`"
            )
        rotation.write_env_file(env_file, env.set(rotation.SECRET_KEY, key))
    except (rotation.EnvFileError, OSError) as exc:
        raise fail(str(exc)) from None
    console.print(
        f"Wrote {rotation.SECRET_KEY} (key id {key_id(key)}) to {env_file}.",
        highlight=False,
        soft_wrap=True,
    )
    _warn_if_readable(env_file)


@app.command()
def status(
    url: str | None = typer.Option(
        None, "--url", help="Ask a running server (GET /auth/keys) instead."
    ),
    env_file: Path | None = typer.Option(
        None, "--env-file", help="Read this env file (and its rotation record) instead."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    timeout: float = typer.Option(10, min=0.1, help="Seconds to wait for --url."),
) -> None:
    """Show the id of the key that signs and of every key accepted (ids, never keys).

    Without options: this environment's configuration (SECRET_KEY, SECRET_KEY_FALLBACKS).
    With --url: what a running instance holds; check every instance before `activate`.
    """
    if url and env_file:
        raise fail("give --url or --env-file, not both", EXIT_USAGE)
    phase = None
    if url:
        try:
            remote = remote_keys(url, timeout=timeout)
        except ValueError as exc:
            raise fail(str(exc), EXIT_USAGE) from None
        except RemoteError as exc:
            raise fail(str(exc)) from None
        source, signing, accepted = url, remote.signing_key_id, remote.accepted_key_ids
    elif env_file:
        if not env_file.exists():
            raise fail(f"{env_file} does not exist", EXIT_USAGE)
        try:
            state = rotation.key_state(rotation.read_env_file(env_file))
        except rotation.EnvFileError as exc:
            raise fail(str(exc)) from None
        source, signing, accepted = str(env_file), state.signing_key_id, state.accepted_key_ids
        phase = {"phase": state.phase, **(state.record or {})}
    else:
        keyring = Keyring.from_settings(settings_or_exit())
        source, signing, accepted = "environment", keyring.signing_key_id, keyring.verifying_key_ids
    if as_json:
        payload = {"source": source, "signing_key_id": signing, "accepted_key_ids": accepted}
        typer.echo(json.dumps({**payload, "rotation": phase} if phase else payload))
        return
    console.print(f"source:           {source}", highlight=False, soft_wrap=True)
    console.print(f"signing key id:   {signing}", highlight=False, soft_wrap=True)
    console.print(f"accepted key ids: {', '.join(accepted)}", highlight=False, soft_wrap=True)
    if phase:
        console.print(
            "rotation:         " + " ".join(f"{k}={v}" for k, v in phase.items()),
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def rotate(
    env_file: Path = typer.Option(
        ..., "--env-file", help="The env file your instances read (KEY=VALUE lines)."
    ),
    phase: Phase = typer.Option(..., "--phase", help="prepare, then activate, then finish."),
    force: bool = typer.Option(
        False,
        "--force",
        help="finish before the longest access-token lifetime has passed since activate "
        "(logs out whoever still holds a token signed with the old key).",
    ),
    check_url: list[str] = typer.Option(
        [],
        "--check-url",
        help="An instance to ask first (repeatable): activate requires each to accept the "
        "prepared key, finish requires each to sign with the new key.",
    ),
    access_token_minutes: int | None = typer.Option(
        None,
        envvar="DUESPARK_ACCESS_TOKEN_MINUTES",
        min=1,
        help="Access-token lifetime, when not in the env file (the larger one counts).",
    ),
    fly_app: str | None = typer.Option(None, "--fly-app", help="Name the app in flyctl lines."),
) -> None:
    """Rotate the signing key in an env file, one phase at a time, logging nobody out.

    prepare: a new key joins SECRET_KEY_FALLBACKS (accepted, not signing).
    activate: it becomes SECRET_KEY; the old key moves to SECRET_KEY_FALLBACKS.
    finish: the old key is removed, once no unexpired token can carry it.
    Restart every instance after each phase. The state between phases is kept in a
    `# duespark-rotation:` comment line in the file. The file is replaced atomically and
    keeps its permissions. Keys are never printed: the flyctl lines read them from the file.
    """
    if not env_file.exists():
        raise fail(f"{env_file} does not exist; give the env file your instances read", EXIT_USAGE)
    now = clock.utc_now()
    try:
        env = rotation.read_env_file(env_file)
        lifetime = rotation.token_lifetime(env, access_token_minutes)
        _check_instances(rotation.key_state(env), phase, check_url)
        if phase is Phase.prepare:
            outcome = rotation.prepare(env, now=now, new_key=rotation.generate_key())
        elif phase is Phase.activate:
            outcome = rotation.activate(env, now=now, token_lifetime=lifetime)
        else:
            outcome = rotation.finish(env, now=now, token_lifetime=lifetime, force=force)
        if outcome.changed:
            rotation.write_env_file(env_file, outcome.env)
        state = rotation.key_state(outcome.env)
    except (rotation.EnvFileError, rotation.RotationError, OSError) as exc:
        raise fail(str(exc)) from None
    console.print(outcome.message, highlight=False, soft_wrap=True)
    console.print(f"signing key id:   {state.signing_key_id}", highlight=False, soft_wrap=True)
    console.print(
        f"accepted key ids: {', '.join(state.accepted_key_ids)}", highlight=False, soft_wrap=True
    )
    console.print(_next_step(state, env_file), highlight=False, soft_wrap=True)
    names = (
        [rotation.FALLBACKS]
        if phase is not Phase.activate
        else [rotation.SECRET_KEY, rotation.FALLBACKS]
    )
    console.print(
        "On Fly.io, the same change (these lines contain no key: they read the values from "
        f"{env_file} when you run them, so run them where the file is):",
        highlight=False,
        soft_wrap=True,
    )
    for line in rotation.flyctl_lines(env_file.absolute(), outcome.env, names, fly_app):
        typer.echo(line)
    _warn_if_readable(env_file)


def _warn_if_readable(path: Path) -> None:
    """Keys in a file others can read are not secret; say so (the file is not changed)."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        errors.print(
            f"[yellow]warning:[/] {path} holds signing keys and is readable by others "
            f"(mode {mode:04o}); run `chmod 600 {path}`.",
            highlight=False,
            soft_wrap=True,
        )


def _check_instances(state: rotation.KeyState, phase: Phase, urls: list[str]) -> None:
    """Refuse to activate before every instance accepts the prepared key, or to finish
    while any instance still signs with the old one."""
    if not urls or state.record is None:
        return
    if phase is Phase.activate and state.phase == "prepared":
        wanted, verb = state.record.get("next", ""), "accept"
    elif phase is Phase.finish and state.phase == "activated":
        wanted, verb = state.record.get("current", ""), "sign with"
    else:
        return
    for url in urls:
        try:
            remote = remote_keys(url)
        except (RemoteError, ValueError) as exc:
            raise rotation.RotationError(f"cannot check {url}: {exc}") from None
        if verb == "accept":
            ok = wanted in remote.accepted_key_ids
        else:
            ok = remote.signing_key_id == wanted
        if not ok:
            raise rotation.RotationError(
                f"{url} does not {verb} key {wanted} yet (it signs with "
                f"{remote.signing_key_id}, accepts {', '.join(remote.accepted_key_ids)}); "
                "restart it with the current file first"
            )
        console.print(f"checked: {url} does {verb} key {wanted}.", highlight=False, soft_wrap=True)


def _next_step(state: rotation.KeyState, env_file: Path) -> str:
    record = state.record or {}
    again = f"duespark keys rotate --env-file {env_file} --phase"
    if state.phase == "prepared":
        return (
            f"Next: restart every instance with this file; check that each accepts "
            f"{record.get('next')} (`duespark keys status --url URL`, or --check-url below); "
            f"then run `{again} activate`."
        )
    if state.phase == "activated":
        return (
            f"Next: restart every instance with this file. Tokens signed with "
            f"{record.get('previous')} stay valid; run `{again} finish` after "
            f"{record.get('retire_after')}."
        )
    return "Next: restart every instance with this file; the rotation is complete."
