"""init, backup (stream, pieces, paths; read back and marked complete), forget and check."""

import fcntl
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time

from .common import (
    CHUNK, EX_CONFIG, EX_DATAERR, EX_IOERR, EX_SOFTWARE, EX_TEMPFAIL, EX_UNAVAILABLE, EX_USAGE, Fail, PROG, S,
    TAG_COMPLETE, TAG_PENDING, TAG_SHA, log,
)
from .snapshots import check_subset, forget_args, parse_time, retention_args
from .failures import backup_summary, classify, failure_for
from .process import Tee, reap, spawn, stop
from .restic import dump_stream, interrupt, lock_wait, put_metric, restic, restic_argv, restic_json, restic_once, restic_version
from .config import load_source, repair_stamp, source_command, sources


# ---------------------------------------------------------------- init

def s3_location(repository):
    """(endpoint URL, bucket, prefix) of an s3: repository, or None."""
    if not repository.startswith('s3:'):
        return None
    rest = repository[3:]
    scheme = 'https'
    m = re.match(r'^(https?)://(.*)$', rest)
    if m:
        scheme, rest = m.group(1), m.group(2)
    parts = rest.split('/', 2)
    if len(parts) < 2:
        return None
    return f'{scheme}://{parts[0]}', parts[1], (parts[2] if len(parts) > 2 else '').strip('/')


def location_objects(repository):
    """How many objects the repository location holds (0 = empty), asked of the storage
    itself (restic cannot list a location whose config it cannot read)."""
    s3 = s3_location(repository)
    if s3 is None:
        if os.path.isabs(repository):
            return len(os.listdir(repository)) if os.path.isdir(repository) else 0
        raise Fail(EX_CONFIG, f'cannot tell whether {repository} is empty (only s3: and local repositories are supported by init)')
    endpoint, bucket, prefix = s3
    aws = (S.config.get('RESTIC_BACKUPS_AWS_COMMAND') or 'aws').split()
    argv = [*aws, 's3api', 'list-objects-v2', '--bucket', bucket, '--max-items', '1', '--output', 'json', '--endpoint-url', endpoint]
    if prefix:
        argv += ['--prefix', prefix + '/']
    if S.config.get('RESTIC_CACERT'):
        argv += ['--ca-bundle', S.config['RESTIC_CACERT']]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Fail(EX_UNAVAILABLE, f'cannot list {repository} to see whether it is empty ({e}); not creating a repository')
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise Fail(EX_UNAVAILABLE, f'cannot list {repository} to see whether it is empty (aws exit {r.returncode}); not creating a repository')
    return len((json.loads(r.stdout or '{}') or {}).get('Contents') or [])


def cmd_init(_args):
    rc, _, err = restic_once(['cat', 'config'], stdout=subprocess.DEVNULL, quiet=True)
    if rc == 0:
        log(f'repository {S.config["RESTIC_REPOSITORY"]} exists')
        return
    kind = classify(rc, err)
    if kind in ('password', 'unreachable', 'disk'):
        sys.stderr.write(err)
        raise failure_for(kind, rc, S.config['RESTIC_REPOSITORY'], 'restic cat config')
    count = location_objects(S.config['RESTIC_REPOSITORY'])
    if count:
        sys.stderr.write(err)
        raise Fail(EX_CONFIG, f'{S.config["RESTIC_REPOSITORY"]} is not empty but its config cannot be read (see above): '
                   'not creating a repository over it; restore the config object (bucket versioning) or fix access')
    restic(['init', '--repository-version', '2'], stdout=None)


# ---------------------------------------------------------------- backup

def snapshots_of(name, extra_tag=None):
    tag = f'source:{name}' + (f',{extra_tag}' if extra_tag else '')
    return restic_json(['snapshots', '--json', '--tag', tag])


def remove_unverified(name, older_than=0):
    """Snapshots of NAME still tagged unverified: their backup never proved them complete."""
    now = time.time()
    ids = [s['id'] for s in snapshots_of(name, TAG_PENDING) if now - parse_time(s['time']) >= older_than]
    if ids:
        log(f'source {name}: removing {len(ids)} snapshot(s) never proven complete: {" ".join(i[:8] for i in ids)}')
        restic(['forget', *ids], stdout=subprocess.DEVNULL)


def rebuild_index():
    log('rebuilding the index from the packs present in the repository')
    restic(['repair', 'index'] if restic_version() >= (0, 16) else ['rebuild-index'], stdout=subprocess.DEVNULL)


def read_back(snap_id, src, want_sha):
    """Reads the whole new snapshot from the repository (every blob decrypted and checked)."""
    if src.get('SOURCE_KIND') == 'paths' or src.get('SOURCE_PIECE_SIZE'):
        p = spawn(restic_argv(['dump', snap_id, '/']), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        tee = Tee(p.stderr)
        while p.stdout.read(CHUNK):
            pass
        rc = reap(p)
        ok = rc == 0
        err = tee.text()
    else:
        rc, digest, _, err = dump_stream(snap_id, stream_file(src), None)
        ok = rc == 0 and digest == want_sha
    if not ok:
        raise Fail(EX_SOFTWARE, f'the new snapshot {snap_id[:8]} of {src["name"]} cannot be read back whole '
                   f'(restic exit {rc}{"" if rc else ", checksum mismatch"}): the repository still holds damaged data that '
                   'this backup reused; see the runbook ("repository damaged")', damaged=True) if classify(rc, err) != 'unreachable' \
            else failure_for('unreachable', rc, S.config['RESTIC_REPOSITORY'], 'restic dump')


def stream_file(src):
    return src.get('SOURCE_FILENAME') or src['name']


def backup_stream(src, common):
    """restic 0.14 reads the source from stdin and saves a snapshot at end of input. The
    source's output is copied (and hashed) into restic's stdin; if the source fails, restic
    is interrupted before its stdin is closed, so it never sees end of input."""
    file = stream_file(src)
    summary_path = os.path.join(S.work, 'summary.json')
    if restic_version() >= (0, 17):
        # restic runs the command itself and keeps no snapshot when it exits non-zero.
        with open(summary_path, 'wb') as out:
            rc, _ = restic([*common, '--stdin-filename', file, '--stdin-from-command', '--', *source_command(src)], stdout=out,
                           what='the source command or restic')
        return summary_path, None, None
    deadline = time.monotonic() + S.config['LOCK_WAIT']
    attempt = 0
    while True:
        with open(summary_path, 'wb') as out:
            r = spawn(restic_argv([*common, '--stdin', '--stdin-filename', file]), stdin=subprocess.PIPE, stdout=out,
                      stderr=subprocess.PIPE)
        tee = Tee(r.stderr)
        d = spawn(source_command(src), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        digest, total, restic_gone = hashlib.sha256(), 0, False
        while True:
            data = d.stdout.read1(CHUNK) if hasattr(d.stdout, 'read1') else d.stdout.read(CHUNK)
            if not data:
                break
            digest.update(data)
            total += len(data)
            if not restic_gone:
                try:
                    r.stdin.write(data)
                except BrokenPipeError:
                    restic_gone = True
                    stop(d, signal.SIGTERM)
                    break
        drc = reap(d)
        if drc != 0 and not restic_gone:
            interrupt(r)
            try:
                r.stdin.close()
            except BrokenPipeError:
                pass
            err = tee.text()
            kind = classify(r.returncode, err)
            if kind in ('password', 'unreachable', 'no_repo'):
                raise failure_for(kind, r.returncode, S.config['RESTIC_REPOSITORY'])
            raise Fail(EX_DATAERR, f'backup of {src["name"]} failed: the source command exited {drc}; restic was interrupted and no snapshot was saved')
        try:
            r.stdin.close()
        except BrokenPipeError:
            pass
        rc = reap(r)
        err = tee.text()
        if rc == 0:
            return summary_path, digest.hexdigest(), total
        kind = classify(rc, err)
        if kind != 'locked':
            raise failure_for(kind, rc, S.config['RESTIC_REPOSITORY'], 'restic backup')
        lock_wait(deadline, attempt)
        attempt += 1


def backup_pieces(src, common):
    """The source's output, cut into pieces in the spool (only changed pieces are rewritten),
    then backed up as a directory. The pieces' checksum is written by the splitter as
    stream.sha256.pending and becomes stream.sha256 only after the source exited 0."""
    name, size = src['name'], src['SOURCE_PIECE_SIZE']
    if not size.isdigit():
        raise Fail(EX_CONFIG, f"source {name}: SOURCE_PIECE_SIZE '{size}' is not a number of bytes")
    if not os.access(S.config['PIECES'], os.R_OK):
        raise Fail(EX_CONFIG, f'{S.config["PIECES"]} is missing (installed beside {PROG} by the ResticBackups construct)')
    spool = S.config['SPOOL_DIR']
    d = os.path.join(spool, name)
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
        lock = open(d + '.lock', 'a')
    except OSError as e:
        raise Fail(EX_IOERR, f'cannot use the spool {spool}: {e}')
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise Fail(EX_TEMPFAIL, f'another backup of {name} is running (it holds {d}.lock)')
    checksum = os.path.join(d, 'stream.sha256')
    if os.path.exists(checksum):
        os.remove(checksum)
    dump = spawn(source_command(src), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    split = spawn([sys.executable, S.config['PIECES'], 'split', d, size, '--pending'], stdin=dump.stdout, stderr=subprocess.PIPE)
    dump.stdout.close()
    tee = Tee(split.stderr)
    src_rc, split_rc = reap(dump), reap(split)
    split_err = tee.text()
    if src_rc != 0 or split_rc != 0:
        # End of input alone does not make the stream whole: no checksum may stay behind.
        for f in (checksum, checksum + '.pending'):
            if os.path.exists(f):
                os.remove(f)
    if split_rc != 0:
        if 'No space left' in split_err or 'Disk quota' in split_err:
            raise Fail(EX_IOERR, f'the spool {spool} is full: the pieces of {name} could not be written; free space there '
                       f'(df -h {spool}) and retry. No snapshot was saved')
        raise Fail(EX_IOERR, f'could not write the pieces of {name} to {d} (exit {split_rc}): see the message above. No snapshot was saved')
    if src_rc != 0:
        raise Fail(EX_DATAERR, f'backup of {name} failed: the source command exited {src_rc}; restic did not run and no snapshot was saved')
    os.replace(checksum + '.pending', checksum)
    with open(checksum) as f:
        sha = f.read().split()[0]
    summary_path = os.path.join(S.work, 'summary.json')
    with open(summary_path, 'wb') as out:
        restic([*common, '--', d], stdout=out, what='restic backup')
    return summary_path, sha, None


def backup_paths(src, common):
    paths = src.get('SOURCE_PATHS', '').split()
    if not paths:
        raise Fail(EX_CONFIG, f'source {src["name"]}: SOURCE_PATHS is empty')
    for p in paths:
        if not os.path.lexists(p):
            raise Fail(EX_DATAERR, f'backup of {src["name"]} failed: {p} does not exist (an unmounted volume?); no snapshot was kept')
    summary_path = os.path.join(S.work, 'summary.json')
    with open(summary_path, 'wb') as out:
        rc, _ = restic([*common, '--', *paths], stdout=out, what='restic backup', allow=(3,))
    if rc == 3:
        summary, _ = backup_summary(open(summary_path, errors='replace').read())
        if summary.get('snapshot_id'):
            restic(['forget', summary['snapshot_id']], stdout=subprocess.DEVNULL)
        raise Fail(EX_DATAERR, f'backup of {src["name"]} failed: some paths could not be read (restic exit 3); the incomplete snapshot was removed')
    return summary_path, None, None


def cmd_backup(args):
    if len(args) != 1:
        raise Fail(EX_USAGE, f'usage: {PROG} backup SOURCE')
    src = load_source(args[0])
    name = S.source = src['name']
    start = time.monotonic()
    remove_unverified(name)
    repair = os.path.exists(repair_stamp())
    if repair:
        rebuild_index()
    common = ['backup', '--json', '--host', S.config['HOST_NAME'], '--tag', f'source:{name}', '--tag', TAG_PENDING]
    if repair:
        common.append('--force')
    kind = src.get('SOURCE_KIND')
    if kind == 'paths':
        summary_path, sha, total = backup_paths(src, common)
    elif src.get('SOURCE_PIECE_SIZE'):
        summary_path, sha, total = backup_pieces(src, common)
    else:
        summary_path, sha, total = backup_stream(src, common)
    with open(summary_path, errors='replace') as f:
        summary, errors = backup_summary(f.read())
    snap = S.snapshot = summary.get('snapshot_id', '')
    if not snap:
        raise Fail(1, f'restic reported no snapshot for {name}')
    if errors:
        raise Fail(EX_DATAERR, f'backup of {name} failed: restic reported {len(errors)} error(s) reading the source; the snapshot was removed')
    if total is not None and summary.get('total_bytes_processed') not in (None, total):
        raise Fail(EX_DATAERR, f'backup of {name} failed: restic read {summary.get("total_bytes_processed")} bytes, the source wrote {total}')
    if repair:
        read_back(snap, src, sha)
    tags = [f'source:{name}', TAG_COMPLETE] + ([TAG_SHA + sha] if sha and kind != 'paths' and not src.get('SOURCE_PIECE_SIZE') else [])
    restic(['tag', '--set', ','.join(tags), snap], stdout=subprocess.DEVNULL)
    S.snapshot = ''
    if repair:
        os.remove(repair_stamp())
        log('repair: the index was rebuilt and the new snapshot reads back whole; the repository is usable again')
    added = summary.get('data_added', 0)
    took = int(time.monotonic() - start)
    log(f'source {name}: snapshot {snap}, {added} bytes added, {took}s')
    put_metric('BackupSuccess', 1, 'Count', name)
    put_metric('BackupDuration', took, 'Seconds', name)
    put_metric('BackupAddedBytes', added, 'Bytes', name)


# ---------------------------------------------------------------- forget, check

def cmd_forget(_args):
    srcs = sources()
    for src in srcs:
        keep = retention_args(src)
        if not keep:
            raise Fail(EX_CONFIG, f'source {src["name"]} has no retention (KEEP_*): refusing to forget')
        # Older than a day: not a backup that is still running.
        remove_unverified(src['name'], older_than=86400)
        log(f'retention for {src["name"]}: {" ".join(keep)}')
        restic(forget_args(src['name'], keep), stdout=None)
    if srcs:
        restic(['prune'], stdout=None)
    put_metric('ForgetSuccess', 1, 'Count')


def publish_drill_age():
    if S.config.get('RESTIC_BACKUPS_DRILL', '0') != '1':
        return
    spool = S.config['SPOOL_DIR']
    os.makedirs(spool, mode=0o700, exist_ok=True)
    path = os.path.join(spool, 'last-drill-success')
    now = int(time.time())
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        with open(path, 'w') as f:
            f.write(f'{now}\n')
    raw = open(path).read().strip()
    last = int(raw) if raw.isdigit() else 0  # an unreadable stamp is an old one
    put_metric('DrillAge', now - last, 'Seconds')


def cmd_check(_args):
    parts = int(S.config.get('RESTIC_BACKUPS_CHECK_SUBSETS') or 7)
    publish_drill_age()
    # Days since 1970, not day of the year: the rotation stays strict across New Year.
    subset = check_subset(int(time.time() // 86400), parts)
    log(f'checking the repository structure and data subset {subset}')
    rc, _, err = restic_once(['check', '--read-data-subset', subset], stdout=None)
    if rc != 0:
        kind = classify(rc, err)
        if kind == 'locked':
            restic(['check', '--read-data-subset', subset], stdout=None)
        else:
            if kind in ('other', 'damaged'):
                kind = 'damaged'
            raise failure_for(kind, rc, S.config['RESTIC_REPOSITORY'], 'restic check')
    put_metric('CheckSuccess', 1, 'Count')
