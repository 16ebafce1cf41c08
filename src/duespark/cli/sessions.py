"""``duespark sessions``: log people out after a compromise.

A key rotation logs nobody out, on purpose. When a password, a device or the database may
be compromised, this command does the opposite: refresh tokens are revoked in the database
and ``token_version`` is raised, so access tokens stop working on the very next request,
on every instance, without touching the signing keys.
"""

from __future__ import annotations

import typer
from sqlalchemy.exc import SQLAlchemyError

from duespark import clock
from duespark.auth import repository as auth_repository
from duespark.auth import service as auth_service
from duespark.cli._common import EXIT_USAGE, console, describe_database, fail, settings_or_exit
from duespark.db import Database
from duespark.web import sessions as web_sessions

app = typer.Typer(help="Sessions: revoke them after a compromise.", no_args_is_help=True)


@app.command()
def revoke(
    everyone: bool = typer.Option(False, "--all", help="Log out every user."),
    email: str | None = typer.Option(None, "--user", help="Log out this user (their email)."),
) -> None:
    """Revoke refresh tokens and invalidate access tokens: for one user, or --all.

    Access tokens stop working at once; users log in again with their password.
    """
    if everyone == (email is not None):
        raise fail("give exactly one of --all or --user EMAIL", EXIT_USAGE)
    settings = settings_or_exit()
    database = Database(settings)
    now = clock.utc_now()
    try:
        with database.session_scope() as session:
            if everyone:
                # Counted before the revocation: raising token_version is what ends them.
                browser = web_sessions.count_live(session, now=now)
                revoked = auth_service.revoke_all_sessions(session, now=now)
                message = (
                    f"Revoked {revoked.sessions} API session(s) and {browser} browser "
                    f"session(s); all {revoked.users} user(s) must log in again."
                )
            else:
                assert email is not None
                user = auth_repository.get_user_by_email(session, email.strip().lower())
                if user is None:
                    raise fail(f"no user with the email address {email!r}")
                browser = web_sessions.count_live(session, now=now, user_id=user.id)
                count = auth_service.revoke_sessions(session, user, now=now)
                message = (
                    f"Revoked {count} API session(s) and {browser} browser session(s) of "
                    f"{user.email}; they must log in again."
                )
    except SQLAlchemyError as exc:
        raise fail(f"cannot revoke sessions in {describe_database(settings)}: {exc}") from None
    finally:
        database.dispose()
    console.print(message, highlight=False)
