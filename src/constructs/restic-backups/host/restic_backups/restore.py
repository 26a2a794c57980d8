"""restore: the plan, space check, loading into a scratch database, verification and the swap."""

import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from .common import CHUNK, EX_CONFIG, EX_DATAERR, EX_NOPERM, EX_SOFTWARE, EX_UNAVAILABLE, EX_USAGE, Fail, PROG, S, log
from .snapshots import choose_snapshot, parse_time, stream_sha
from .failures import classify, failure_for
from .process import reap, spawn, stop
from .restic import dump_stream, restic_once
from .backup import snapshots_of, stream_file
from .postgres import (
    SqlFilter, admin, create_target, database_exists, database_sources, default_database, drop_loader,
    give_to_owner, ident, intended_owner, literal, loader_env, loader_run, loader_value, pg, psql_value,
)


def plan_restore(db, want, before):
    """[(source, snapshot)]: the full source's snapshot, then each partial source's newest
    complete snapshot taken after it."""
    plan, full_time = [], None
    for src in database_sources(db):
        snaps = snapshots_of(src['name'])
        if full_time is None:
            snap, why = choose_snapshot(snaps, want, before)
            if snap is None:
                raise Fail(EX_DATAERR, f'no snapshot of source {src["name"]}'
                           f'{" with id " + want if want else ""}{" before " + str(before) if before else ""} to restore: {why}')
            full_time = parse_time(snap['time'])
        else:
            snap, _ = choose_snapshot(snaps, '', before, full_time)
            if snap is None:
                log(f'source {src["name"]}: no complete snapshot newer than the full one, which already holds its data')
                continue
        plan.append((src, snap))
    return plan


def is_pieces(snap):
    path = (snap.get('paths') or [''])[0]
    return path.count('/') >= 2


def restore_size(snap_id):
    rc, out, err = restic_once(['stats', '--json', '--mode', 'restore-size', snap_id])
    if rc != 0:
        kind = classify(rc, err)
        if kind in ('password', 'unreachable', 'no_repo', 'locked'):
            raise failure_for(kind, rc, S.config['RESTIC_REPOSITORY'], 'restic stats')
        raise Fail(EX_SOFTWARE, f'could not read snapshot {snap_id[:8]} to size it (restic stats exit {rc}): see the message above '
                   '(a damaged repository or snapshot?)', damaged=True)
    return int(json.loads(out).get('total_size', 0))


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def check_space(plan):
    """Before anything is created: the spool must hold the unpacked pieces, and PostgreSQL's
    data directory the loaded database (about the dump's size), each plus the headroom."""
    headroom = int(S.config.get('RESTIC_BACKUPS_RESTORE_HEADROOM_BYTES') or 268435456)
    spool = S.config['SPOOL_DIR']
    os.makedirs(spool, mode=0o700, exist_ok=True)
    total = 0
    for _, snap in plan:
        need = restore_size(snap['id'])
        total += need
        if is_pieces(snap):
            avail = free_bytes(spool)
            if need + headroom > avail:
                raise Fail(EX_SOFTWARE, f'not enough space in {spool} to unpack snapshot {snap["id"][:8]}: it needs {need} bytes plus '
                           f'{headroom} of headroom, {avail} are free; free space there (df -h {spool}) and retry')
    r = pg(['psql', '-X', '-q', '-A', '-t', '-d', 'postgres', '-c', 'SHOW data_directory'], capture_output=True, text=True)
    data_dir = r.stdout.strip()
    if r.returncode != 0 or not os.path.isdir(data_dir):
        # A server elsewhere (RDS), or a role that may not read the setting: its disk is not ours to measure.
        log('not checking the free space of PostgreSQL\'s data directory: it is not on this host or not readable')
        return
    avail = free_bytes(data_dir)
    if total + headroom > avail:
        raise Fail(EX_SOFTWARE, f'not enough space in {data_dir} (PostgreSQL) for the restored database: the dumps hold {total} bytes '
                   f'plus {headroom} of headroom, {avail} are free; free space there and retry. Nothing was created')


def psql_loader(target):
    options = S.config.get('RESTIC_BACKUPS_RESTORE_PGOPTIONS') or '-c maintenance_work_mem=256MB -c synchronous_commit=off'
    # The loader is a member of no role: a role set for the administrator's connection is not its.
    options = re.sub(r'(?:-c\s*|--)role=\S+', '', options).strip()
    return spawn(['runuser', '-u', S.config['PG_OS_USER'], '--', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction',
                  '-d', target], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=loader_env(options))


def restore_step(src, snap, target):
    name, sid = src['name'], snap['id']
    when = datetime.datetime.fromtimestamp(parse_time(snap['time']), datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')
    log(f'restoring source {name} from snapshot {sid[:8]} ({when}) into {target}')
    loader = psql_loader(target)
    try:
        sink = SqlFilter(loader.stdin)
    except BrokenPipeError:
        sink = None  # psql ended at once: its exit status says why
    if sink is None:
        rc, err, ok_sha = 0, '', True
    elif is_pieces(snap):
        # restic restore fetches whole packs in parallel, far faster than dump of many small files.
        S.restore_dir = tempfile.mkdtemp(prefix=f'restore.{os.getpid()}.', dir=S.config['SPOOL_DIR'])
        rc, _, err = restic_once(['restore', sid, '--target', S.restore_dir], stdout=subprocess.DEVNULL)
        if rc == 0:
            join = spawn([sys.executable, S.config['PIECES'], 'join', S.restore_dir + snap['paths'][0]], stdout=subprocess.PIPE)
            try:
                while True:
                    data = join.stdout.read1(CHUNK)
                    if not data:
                        break
                    sink.write(data)
            except BrokenPipeError:
                stop(join, signal.SIGTERM)
            rc = reap(join)
            err = 'the pieces do not match their stream.sha256' if rc else ''
        ok_sha = True
    else:
        rc, sha, _, err = dump_stream(sid, stream_file(src), sink)
        want = stream_sha(snap)
        ok_sha = want is None or want == sha
    try:
        (sink or loader.stdin).close()
    except BrokenPipeError:
        pass
    load_rc = reap(loader)
    if S.restore_dir:
        shutil.rmtree(S.restore_dir, ignore_errors=True)
        S.restore_dir = ''
    if load_rc != 0 and (sink is None or sink.broken):
        # psql stopped reading (the SQL failed, or the loader could not log in); restic was
        # stopped for that, so the snapshot is not to blame.
        rc, ok_sha = 0, True
    if rc != 0:
        kind = classify(rc, err)
        if kind in ('password', 'unreachable', 'disk', 'no_repo'):
            raise failure_for(kind, rc, S.config['RESTIC_REPOSITORY'], 'reading the snapshot')
        raise Fail(EX_SOFTWARE, f'could not read snapshot {sid[:8]} of {name} (exit {rc}): see the message above (a damaged '
                   f'repository or snapshot, or a full {S.config["SPOOL_DIR"]})', damaged=True)
    if not ok_sha:
        raise Fail(EX_SOFTWARE, f'snapshot {sid[:8]} of {name} does not match the checksum recorded when it was made: '
                   'it is incomplete or damaged', damaged=True)
    if load_rc != 0:
        raise Fail(EX_SOFTWARE, f'the dump of {name} in snapshot {sid[:8]} did not load (psql exit {load_rc}, as the loader role, '
                   'which is no superuser: see the message above)')
    if sink is not None and sink.owner_statements:
        log(f'left out {sink.owner_statements} ownership statement(s) of the dump; the restored objects will belong to the database\'s owner')


def verify_database(db, target):
    """As the loader: whatever the loaded SQL defined (views, functions, operators, database
    settings) runs with its rights only."""
    tables = int(loader_value(target, "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                                      "WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema')"))
    if tables == 0:
        raise Fail(EX_SOFTWARE, f'verification failed: {target} has no tables (an empty or truncated dump)')
    loader_run(target, 'SET client_min_messages = error', 'ANALYZE')
    for src in database_sources(db):
        sql = src.get('SOURCE_VERIFY_SQL')
        if not sql:
            continue
        r = loader_run(target, sql)
        if r.stdout.strip() != 't':
            raise Fail(EX_SOFTWARE, f"verification failed: source {src['name']}'s check ({sql}) is not true in {target} {r.stderr.strip()}")
    empty = loader_value(target, 'SELECT count(*) FROM pg_catalog.pg_stat_user_tables WHERE n_live_tup > 0')
    log(f'verified {target}: {tables} tables, {empty} with rows')


def remove_stale_restore_dirs():
    """restore.PID.* left in the spool by a restore or drill that was SIGKILLed."""
    spool = S.config['SPOOL_DIR']
    for name in os.listdir(spool):
        m = re.fullmatch(r'restore\.(\d+)\..+', name)
        if not m:
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue  # its restore is still running
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        log(f'removing {name}, left in {spool} by a restore that was killed')
        shutil.rmtree(os.path.join(spool, name), ignore_errors=True)


def restore_into(db, target, want, before):
    """Restores DB's sources into TARGET (a new database) and verifies it; raises on failure
    (TARGET, once created, is dropped by the caller's cleanup unless kept)."""
    os.makedirs(S.config['SPOOL_DIR'], mode=0o700, exist_ok=True)
    remove_stale_restore_dirs()
    plan = plan_restore(db, want, before)
    if database_exists(target):
        raise Fail(EX_USAGE, f'database {target} already exists: choose another --into or drop it')
    check_space(plan)
    create_target(target)
    for src, snap in plan:
        restore_step(src, snap, target)
    verify_database(db, target)


def drop_scratch():
    """Drops the scratch or failed database (the loader owns it: as the session user), then the loader."""
    if S.scratch_db and not S.keep_scratch:
        try:
            admin('postgres', f'DROP DATABASE IF EXISTS {ident(S.scratch_db)} WITH (FORCE)')
        except (Fail, OSError) as e:
            log(f'warning: could not drop {S.scratch_db}: {getattr(e, "message", e)}')
    elif S.scratch_db:
        log(f'kept {S.scratch_db} for inspection (owned by the loader role {S.loader}, which may no longer log in: '
            'do not give it to a superuser)')
    S.scratch_db = ''
    try:
        drop_loader()
    except OSError:
        pass


def cmd_restore(args):
    opts = {'snapshot': '', 'before': None, 'database': '', 'into': ''}
    swap, i = True, 0
    while i < len(args):
        a = args[i]
        if a in ('--snapshot', '--before', '--database', '--into'):
            if i + 1 >= len(args):
                raise Fail(EX_USAGE, f'restore: {a} needs a value')
            opts[a[2:]] = args[i + 1]
            i += 2
        elif a == '--no-swap':
            swap, i = False, i + 1
        elif a == '--keep-failed':
            S.keep_scratch, i = True, i + 1
        else:
            raise Fail(EX_USAGE, f"restore: unknown argument '{a}' (see {PROG}'s header)")
    before = None
    if opts['before']:
        r = subprocess.run(['date', '-u', '-d', opts['before'], '+%s'], capture_output=True, text=True, check=False)
        if r.returncode != 0:
            raise Fail(EX_USAGE, f"--before: cannot read time '{opts['before']}'")
        before = int(r.stdout)
    db = opts['database'] or default_database()
    start = time.monotonic()
    stamp = time.strftime('%Y%m%d%H%M%S', time.gmtime())
    into = opts['into'] or f'{db}_restore_{stamp}'
    try:
        owner = intended_owner(db)
        restore_into(db, into, opts['snapshot'], before)
        give_to_owner(into, owner)
    except Fail as e:
        if e.code == EX_USAGE and not S.scratch_db:
            raise
        log(e.message)
        drop_scratch()
        raise Fail(e.code if e.code in (EX_NOPERM, EX_UNAVAILABLE, EX_DATAERR, EX_CONFIG) else EX_SOFTWARE,
                   f'restore of {db} did not verify; {db} was not touched')
    S.scratch_db = ''
    took = int(time.monotonic() - start)
    if not swap:
        log(f'restored and verified {db} into {into} in {took}s (not swapped in: --no-swap)')
        return
    old = f'{db}_before_restore_{stamp}'
    if database_exists(db):
        # No new connections, end the existing ones, then swap by renaming (instant).
        psql_value('postgres', f'ALTER DATABASE {ident(db)} ALLOW_CONNECTIONS false')
        psql_value('postgres', f'SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = {literal(db)} AND pid <> pg_backend_pid()')
        psql_value('postgres', f'ALTER DATABASE {ident(db)} RENAME TO {ident(old)}')
        log(f'the previous {db} is kept as {old} (connections disabled); drop it once the restore is confirmed')
    psql_value('postgres', f'ALTER DATABASE {ident(into)} RENAME TO {ident(db)}')
    log(f'restored, verified and swapped in {db} in {took}s')
