"""The commands, drill, and every ending (signals, release of what is held, failure metrics)."""

import os
import shutil
import signal
import subprocess
import time

from .common import EX_CONFIG, EX_NOPERM, EX_SOFTWARE, EX_UNAVAILABLE, EX_USAGE, Fail, Interrupted, PROG, S, log
from .process import stop
from .restic import put_metric, restic, restic_once, unlock_stale
from .config import load_config, mark_repair_needed
from .backup import cmd_backup, cmd_check, cmd_forget, cmd_init
from .postgres import admin, database_exists, default_database, ident
from .restore import cmd_restore, drop_scratch, restore_into


def cmd_drill(args):
    db = ''
    if args[:1] == ['--database'] and len(args) == 2:
        db = args[1]
    elif args:
        raise Fail(EX_USAGE, f"drill: unknown argument '{args[0]}'")
    start = time.monotonic()
    ok = 0
    try:
        db = db or default_database()
        scratch = f'{db}_drill'
        if database_exists(scratch):
            admin('postgres', f'DROP DATABASE {ident(scratch)} WITH (FORCE)')
        restore_into(db, scratch, '', None)
        ok = 1
    except Fail as e:
        if e.damaged:
            mark_repair_needed(f'drill: {e.message}')
        log(e.message)
        raise Fail(e.code if e.code in (EX_NOPERM, EX_UNAVAILABLE, EX_CONFIG, EX_USAGE) else EX_SOFTWARE,
                   f'restore drill of {db} FAILED after {int(time.monotonic() - start)}s')
    finally:
        stop_children()
        drop_scratch()
        put_metric('DrillSuccess', ok, 'Count')
        put_metric('DrillDuration', int(time.monotonic() - start), 'Seconds')
    os.makedirs(S.config['SPOOL_DIR'], mode=0o700, exist_ok=True)
    with open(os.path.join(S.config['SPOOL_DIR'], 'last-drill-success'), 'w') as f:
        f.write(f'{int(time.time())}\n')
    log(f'restore drill of {db} succeeded in {int(time.monotonic() - start)}s')


def cmd_snapshots(args):
    restic(['snapshots', *args], stdout=None)


def cmd_unlock(_args):
    restic(['unlock'], stdout=None)


COMMANDS = {'init': cmd_init, 'backup': cmd_backup, 'forget': cmd_forget, 'check': cmd_check, 'snapshots': cmd_snapshots,
            'restore': cmd_restore, 'drill': cmd_drill, 'unlock': cmd_unlock}


# ---------------------------------------------------------------- every ending

def on_signal(signum, _frame):
    raise Interrupted(signum)


def stop_children():
    """Stops every child still running; whether one of them was restic."""
    killed_restic = False
    for p in list(S.children):
        if p.poll() is None:
            is_restic = bool(p.args) and p.args[0] == S.config.get('RESTIC_BIN')
            stop(p, signal.SIGINT if is_restic else signal.SIGTERM)
            killed_restic = killed_restic or is_restic
    S.children.clear()
    return killed_restic


def release():
    """Stops children (restic with SIGINT, so it removes its lock), removes stale locks if
    one was killed, forgets a snapshot not proven complete, drops the scratch database and
    removes temporary files."""
    if stop_children() and S.config:
        try:
            unlock_stale()
        except Exception:  # noqa: BLE001 - best effort while ending
            pass
    if S.snapshot and S.config:
        log(f'removing snapshot {S.snapshot[:8]}: it was not proven complete')
        restic_once(['forget', S.snapshot], stdout=subprocess.DEVNULL, quiet=True)
    if S.scratch_db or S.loader:
        drop_scratch()
    for d in (S.restore_dir, S.work, S.loader_dir):
        if d:
            shutil.rmtree(d, ignore_errors=True)


def report_failure():
    if S.operation and S.config:
        if S.operation == 'backup' and S.source:
            put_metric('BackupFailure', 1, 'Count', S.source)
        put_metric('Failure', 1, 'Count')


def main(argv):
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    # Every path is absolute from here on; the PostgreSQL tools run as another user, who may
    # not be allowed into the caller's working directory.
    os.chdir('/')
    code = 0
    try:
        if not argv:
            raise Fail(EX_USAGE, f'usage: {PROG} {"|".join(COMMANDS)}')
        cmd, args = argv[0], argv[1:]
        if cmd not in COMMANDS:
            raise Fail(EX_USAGE, f"unknown command '{cmd}'")
        load_config()
        if cmd in ('backup', 'forget', 'check', 'drill'):
            S.operation = cmd
        COMMANDS[cmd](args)
    except Fail as e:
        log(e.message)
        if e.damaged and S.operation == 'check':
            mark_repair_needed(f'check: {e.message}')
        code = e.code
    except Interrupted as e:
        log(f'{S.operation or "the command"} {e}: stopping, nothing more is kept')
        code = 128 + e.signum
    except Exception as e:  # noqa: BLE001 - every ending is reported
        log(f'unexpected error: {type(e).__name__}: {e}')
        code = 1
    # A second signal while cleaning up must not skip the report.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    try:
        release()
    finally:
        if code != 0:
            report_failure()
    return code
