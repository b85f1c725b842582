"""What CLI commands share: finding the state directory and opening the store from flags.

Resolution, in order: an explicit ``--state-dir``; else the ``state_dir`` of the ``-c``
configuration (relative to the file); else ``./state``. The store URL is the configuration's
``store.url`` when one is given, else SQLite in the state directory. Commands that only read
or mark the store take these two sections from ``-c`` without validating the rest of the file
(``rollsafe config check`` and every command that acts validate all of it). Failures are printed on
stderr and end the command with ``EXIT_ERROR``, so commands never print a traceback for a
mistyped path or a broken configuration file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from rollsafe.audit import redacting
from rollsafe.domain import errors
from rollsafe.storage import sqlite_read

if TYPE_CHECKING:
    # Imported where used: the loader only by commands given -c, SQLAlchemy's store only by
    # commands that write, or that read a store other than the embedded SQLite file.
    from rollsafe.config import loading
    from rollsafe.storage import sql

    StoreReads = sqlite_read.SqliteReader | sql.SqlStore
    """What read-only commands read from (``open_reader_from``)."""

__all__ = [
    "DEFAULT_STATE_DIR",
    "EXIT_ERROR",
    "ConfigOption",
    "StateDirOption",
    "StoreLocation",
    "fail",
    "locate_store",
    "open_reader_from",
    "open_store_from",
]

DEFAULT_STATE_DIR = Path("state")
EXIT_ERROR = 2  # the command could not do its job (bad config, no store): not a finding

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="rollsafe.yaml (its state_dir and store.url are used)"),
]
StateDirOption = Annotated[
    Path | None,
    typer.Option("--state-dir", help="State directory; overrides the configuration's"),
]


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """Where the store is: the state directory, and a URL when it is not the default SQLite."""

    state_dir: Path
    url: str | None
    password_env: str | None = None

    @property
    def shown(self) -> str:
        """For messages: the SQLite file, or the URL without its password."""
        if self.url is None:
            return str(self.state_dir / sqlite_read.DB_FILE)
        import sqlalchemy as sa

        try:
            return sa.make_url(self.url).render_as_string(hide_password=True)
        except (sa.exc.ArgumentError, ValueError):
            # Unparsable (a port that is no number...): the text, its password masked all
            # the same, rather than a traceback in place of the message.
            return redacting.redact_text(self.url)


def locate_store(config: Path | None, state_dir: Path | None) -> StoreLocation:
    """Resolve the flags (see the module docstring); exits on an invalid configuration."""
    url: str | None = None
    password_env: str | None = None
    configured: Path | None = None
    if config is not None:
        found = _read_location(config)
        if found is None:
            # Lazily: only a file the quick read could not take pays for the whole loader,
            # which reports every problem and exits 2 (or finds the file fine after all).
            from rollsafe.interfaces.cli import config_commands

            loaded = config_commands.load_or_exit(config)
            found = StoreLocation(
                state_dir=loaded.state_dir,
                url=loaded.config.store.url,
                password_env=loaded.config.store.password_env,
            )
        configured, url, password_env = found.state_dir, found.url, found.password_env
    chosen = state_dir if state_dir is not None else configured or DEFAULT_STATE_DIR
    return StoreLocation(state_dir=chosen, url=url, password_env=password_env)


def _read_location(config: Path) -> StoreLocation | None:
    """``state_dir`` and ``store`` of the file, read without the configuration models.

    Commands that only need the store (``status``, ``runs``, ``audit`` ...) are called by
    scripts, often per host: building every target, probe and rule of a large fleet would
    cost them more than their own work, so only the two top-level sections are parsed (see
    ``_top_level_sections``). None when the file is not plainly well-formed there (unreadable,
    not a block mapping at the top, a value of the wrong type): the caller then loads it all.
    """
    try:
        text = config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    sections = _top_level_sections(text, ("state_dir", "store"))
    if sections is None:
        return None
    state_dir = sections.get("state_dir", "./state")
    store = sections.get("store", {})
    if not isinstance(state_dir, str) or not isinstance(store, dict):
        return None
    url, password_env = store.get("url"), store.get("password_env")
    if not all(value is None or isinstance(value, str) for value in (url, password_env)):
        return None
    # As the loader resolves it: relative to the configuration file's directory.
    where = (config.absolute().parent / Path(state_dir).expanduser()).resolve()
    return StoreLocation(state_dir=where, url=url, password_env=password_env)


_TOP_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:(?:[ \t]|$)")


def _top_level_sections(text: str, wanted: tuple[str, ...]) -> dict[str, object] | None:
    """The values of the ``wanted`` top-level keys, parsing only their own lines.

    Only for a document whose top level is a block mapping of plain keys, each once; anything
    else (flow style, quoted or merge keys, several documents, an alias into another section,
    YAML that does not parse) gives None, and the whole file is loaded instead.
    """
    import yaml

    starts: list[tuple[int, str]] = []
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if not line or line[0] in " \t#":
            continue
        if line.startswith("---") and not starts:
            continue  # the start of the (single) document
        key = _TOP_KEY.match(line)
        if key is None:
            return None
        starts.append((number, key.group(1)))
    names = [name for _, name in starts]
    if len(set(names)) != len(names):
        return None  # a key written twice: the loader reports it
    found: dict[str, object] = {}
    for index, (number, name) in enumerate(starts):
        if name not in wanted:
            continue
        end = starts[index + 1][0] if index + 1 < len(starts) else len(lines)
        snippet = "\n".join(lines[number:end])
        safe = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            parsed = yaml.load(snippet, Loader=safe)  # noqa: S506 - a safe loader, C or Python
        except yaml.YAMLError:
            return None
        if not isinstance(parsed, dict) or set(parsed) != {name}:
            return None
        found[name] = parsed[name]
    return found


def open_store_from(
    config: Path | None, state_dir: Path | None, *, must_exist: bool = False
) -> sql.SqlStore:
    """The migrated store the flags point at; exits with EXIT_ERROR if it cannot be opened.

    ``must_exist`` is for commands that only read (``audit verify``, ``status``, ``runs``):
    a mistyped state directory must say "no store there", not create an empty one and
    report it clean.
    """
    return _open_located(locate_store(config, state_dir), must_exist=must_exist)


def _open_located(location: StoreLocation, *, must_exist: bool) -> sql.SqlStore:
    from rollsafe.storage import sql

    if must_exist:
        _require_existing(location)
    try:
        return sql.open_store(location.state_dir, location.url, password_env=location.password_env)
    except errors.StoreError as exc:
        fail(f"cannot open the store at {location.shown}: {exc}")


def open_reader_from(config: Path | None, state_dir: Path | None) -> StoreReads:
    """For commands that only read: the existing store the flags point at, never migrated.

    The embedded SQLite store is read through ``sqlite3`` (``storage.sqlite_read``:
    read-only, no SQLAlchemy, which would cost a per-host script's call more than its
    reading); PostgreSQL, and a SQLite URL written in an unusual form, through SQLAlchemy
    (``sql.open_reading``), never migrated either. Exits with EXIT_ERROR when there is no
    store, when the store's schema is not the one this rollsafe reads, or when it cannot be
    read.
    """
    location = locate_store(config, state_dir)
    path = _sqlite_file(location)
    if path is None:
        from rollsafe.storage import sql

        _require_existing(location)
        try:
            return sql.open_reading(
                location.url or sql.default_url(location.state_dir),
                password_env=location.password_env,
            )
        except errors.StoreError as exc:
            fail(f"cannot open the store at {location.shown}: {exc}")
    if not path.is_file():
        _require_existing(location)  # says "no rollsafe store at ..." as every read command does
    try:
        return sqlite_read.SqliteReader(path)
    except errors.StoreError as exc:
        fail(str(exc))


_SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")


def _sqlite_file(location: StoreLocation) -> Path | None:
    """The SQLite file of the store, when the stdlib reader can take it; else None.

    The default (no URL) and a plain ``sqlite:///PATH``; a URL with a query, an escape, a
    password variable or an in-memory database is left to SQLAlchemy, which reads every form.
    """
    if location.url is None:
        return location.state_dir / sqlite_read.DB_FILE
    if location.password_env is not None or any(c in location.url for c in "?%#"):
        return None
    for prefix in _SQLITE_PREFIXES:
        if location.url.startswith(prefix):
            database = location.url[len(prefix) :]
            # As SQLAlchemy reads it: the rest of the URL, relative to the working directory.
            return Path(database) if database not in ("", ":memory:") else None
    return None


def open_loaded_store(loaded: loading.LoadedConfig, *, must_exist: bool = False) -> sql.SqlStore:
    """The migrated store a loaded configuration names; exits with EXIT_ERROR if it cannot.

    ``must_exist``: as for :func:`open_store_from` (read-only commands).
    """
    if must_exist:
        _require_existing(
            StoreLocation(
                state_dir=loaded.state_dir,
                url=loaded.config.store.url,
                password_env=loaded.config.store.password_env,
            )
        )
    from rollsafe.storage import sql

    try:
        return sql.open_store(
            loaded.state_dir, loaded.config.store.url, password_env=loaded.config.store.password_env
        )
    except (errors.StoreError, OSError) as exc:
        fail(f"cannot open the store of {loaded.path}: {exc}")


def _require_existing(location: StoreLocation) -> None:
    """Exit with EXIT_ERROR, naming where it looked, unless a rollsafe store is there.

    Opening a store migrates it, which would create the SQLite file (or the tables of an
    empty database): a read must never leave a new, empty store behind and report it.
    """
    if _store_exists(location):
        return
    fail(
        f"no rollsafe store at {location.shown} "
        "(pass --state-dir or -c with the controller's configuration)"
    )


def _store_exists(location: StoreLocation) -> bool:
    if location.url is None:
        return (location.state_dir / sqlite_read.DB_FILE).is_file()
    import sqlalchemy as sa

    from rollsafe.storage import engines, migrating

    try:
        url = engines.resolve(location.url, password_env=location.password_env)
    except (errors.ConfigError, sa.exc.ArgumentError):
        return True  # unparsable: opening it reports why, better than "no store"
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        return database in ("", ":memory:") or Path(database).is_file()
    try:
        engine = engines.create(url)
    except (ImportError, sa.exc.ArgumentError):
        return True  # opening it reports why
    try:
        return migrating.current_revision(engine) is not None
    except sa.exc.SQLAlchemyError:
        return True  # unreachable: opening it reports why (with the password hidden)
    finally:
        engine.dispose()


def fail(message: str, *, code: int = EXIT_ERROR) -> NoReturn:
    """Print ``error: message`` on stderr and end the command with ``code``."""
    from rich import markup  # only on the way out: `status` and the like never need rich
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[red]error:[/] {markup.escape(message)}"
    )
    raise typer.Exit(code)
