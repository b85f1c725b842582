"""``rollsafe mark upgrade TARGET``: tell rollsafe that another tool just upgraded TARGET.

The manual door of ``rollsafe.runtime.marking`` (the API's is ``POST
/api/v1/targets/{id}/upgrades``): unattended-upgrades, Ansible, a cloud patch manager or a CI
job upgrade hosts without ``rollsafe upgrade``; this records the mark the judge's baselines
and the daemon's close watch start from, audited. It writes to the store, so it works with or
without a running daemon (a running one picks the mark up within seconds).

With ``-c``, the target must be in the configuration; with only ``--state-dir``, the store
must exist and know the target (so a typo never creates a store nobody reads). Exit codes:
0 marked; 2 usage, unknown target, no store.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from rollsafe.interfaces.cli import context

__all__ = ["app"]

app = typer.Typer(
    no_args_is_help=True,
    help="Record events made outside rollsafe (an upgrade by another tool).",
)


@app.command("upgrade")
def upgrade(
    target: Annotated[str, typer.Argument(help="The target that was upgraded")],
    *,
    config: context.ConfigOption = None,
    state_dir: context.StateDirOption = None,
    note: Annotated[
        str, typer.Option("--note", help="What was done, by what (kept in the audit log)")
    ] = "",
    version: Annotated[
        str | None, typer.Option("--version", help="The version upgraded to, if one applies")
    ] = None,
    started: Annotated[
        bool,
        typer.Option(
            "--started",
            help="The upgrade begins now (call again without it when it has ended): restarts "
            "and reboots in between are the upgrade's own, not an outage",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the audit entry as JSON")] = False,
) -> None:
    """Mark TARGET as upgraded now: its close watch and baseline rules start from here.

    With --started, mark that its upgrade begins now (e.g. from a pre-upgrade hook), and mark
    it again without --started when it has ended.
    """
    # Imported here: `rollsafe --help` and the other commands do not pay for them.
    import time

    from rollsafe.domain import errors, ids
    from rollsafe.interfaces.cli import config_commands, run_commands
    from rollsafe.runtime import marking

    if len(note) > marking.MAX_NOTE:
        context.fail(f"--note is {len(note)} characters (at most {marking.MAX_NOTE})")
    if version is not None and not 0 < len(version) <= marking.MAX_VERSION:
        context.fail(f"--version must be 1 to {marking.MAX_VERSION} characters")
    if config is not None:
        loaded = config_commands.load_or_exit(config)
        known = [t.id for t in loaded.config.targets]
        if state_dir is None:
            store = context.open_loaded_store(loaded)
        else:
            store = context.open_store_from(config, state_dir, must_exist=True)
    else:
        store = context.open_store_from(None, state_dir, must_exist=True)
        known = [t.id for t in store.list_targets()]
    try:
        if target not in known:
            context.fail(f"unknown target {target!r} (known: {', '.join(known) or 'none'})")
        entry = marking.record_upgrade(
            store,
            ids.TargetId(target),
            actor=run_commands.actor(),
            at=time.time(),
            via="cli",
            note=note,
            version=version,
            started=started,
        )
    except errors.StoreError as exc:
        context.fail(f"cannot record the mark: {exc}")
    finally:
        store.close()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "target": entry.target,
                    "time": entry.time,
                    "actor": entry.actor,
                    "note": entry.reason,
                    **entry.details,
                },
                indent=2,
                sort_keys=True,
            )
        )
        return
    if started:
        typer.echo(f"marked {target}: upgrade started" + (f" (to {version})" if version else ""))
        return
    typer.echo(f"marked {target} upgraded" + (f" to {version}" if version else ""))
