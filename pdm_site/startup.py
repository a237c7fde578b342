"""Start-up checks: a server-mode process that cannot reach its database stops with one line saying where.

`manage.py migrate` and `manage.py check --database default` run the `database` system check below (a
SystemCheckError: a short report, exit status 1, no traceback); daphne runs `require_database()` as it loads
the ASGI application (pdm_site.asgi).
"""

from django.core import checks
from django.db import OperationalError, connections


def database_unreachable(alias: str = "default") -> str | None:
    """None when the database answers; otherwise one line naming its address and the reason."""
    connection = connections[alias]
    was_open = connection.connection is not None
    try:
        connection.ensure_connection()
    except OperationalError as exc:
        db = connection.settings_dict
        address = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        reason = first_line.rpartition("failed: ")[2].strip() or first_line
        return f"Cannot reach the database {db.get('NAME')!s} at {address} (DATABASE_URL): {reason}"
    finally:
        if not was_open:
            connection.close()
    return None


@checks.register(checks.Tags.database)
def check_database_reachable(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    """Runs for the commands that need the database (migrate, check --database)."""
    errors = []
    for alias in databases or []:
        if connections[alias].vendor == "sqlite":
            continue  # a local file, created on first use
        message = database_unreachable(alias)
        if message:
            errors.append(checks.Error(message, id="pdm_site.E001"))
    return errors


def require_database() -> None:
    """Stop the process with one line on stderr (exit status 1) when the database cannot be reached."""
    message = database_unreachable()
    if message:
        raise SystemExit(f"pdm: {message}")
