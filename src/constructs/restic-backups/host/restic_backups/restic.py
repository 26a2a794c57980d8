"""Running restic: retries on a locked repository, classified failures, JSON output; CloudWatch metrics."""

import hashlib
import json
import re
import subprocess
import time

from .common import CHUNK, EX_TEMPFAIL, Fail, S, log
from .failures import classify, failure_for
from .process import Tee, reap, spawn, stop


def restic_argv(args):
    argv = [S.config['RESTIC_BIN']]
    if S.config.get('RESTIC_CACERT'):
        argv += ['--cacert', S.config['RESTIC_CACERT']]
    return argv + list(args)


def restic_once(args, stdout=subprocess.PIPE, quiet=False):
    """Runs restic once: (exit code, stdout bytes or None, stderr text)."""
    p = spawn(restic_argv(args), stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE)
    if quiet:
        out, err = p.communicate()
        reap(p)
        return p.returncode, out, err.decode(errors='replace')
    tee = Tee(p.stderr)
    out = p.stdout.read() if stdout == subprocess.PIPE else None
    rc = reap(p)
    return rc, out, tee.text()


def unlock_stale():
    restic_once(['unlock'], stdout=subprocess.DEVNULL, quiet=True)


def interrupt(p):
    """Stops a restic run (SIGINT: it removes its own lock), then removes a lock left anyway:
    an interrupt that lands while restic is still writing its lock leaves the lock behind."""
    stop(p)
    unlock_stale()


def lock_wait(deadline, attempt):
    """After a "locked" failure: remove stale locks and retry at once; later attempts wait."""
    if time.monotonic() >= deadline:
        raise Fail(EX_TEMPFAIL, f'the repository is still locked after {S.config["LOCK_WAIT"]}s by a live process '
                   '(see \'restic list locks\'); giving up')
    unlock_stale()
    if attempt > 0:
        log(f'the repository is locked by a live process; retrying in {S.config["LOCK_RETRY"]}s')
        time.sleep(S.config['LOCK_RETRY'])
    else:
        log('the repository is locked; removed stale locks, retrying')


def restic(args, stdout=subprocess.PIPE, what=None, allow=()):
    """Runs restic; waits for locks; raises a Fail naming the cause for anything else.
    Returns (exit code, stdout) (exit code is 0 or one of ALLOW)."""
    deadline = time.monotonic() + S.config['LOCK_WAIT']
    attempt = 0
    while True:
        rc, out, err = restic_once(args, stdout)
        if rc == 0 or rc in allow:
            return rc, out
        kind = classify(rc, err)
        if kind != 'locked':
            raise failure_for(kind, rc, S.config['RESTIC_REPOSITORY'], what or f'restic {args[0]}')
        lock_wait(deadline, attempt)
        attempt += 1


def restic_json(args):
    _, out = restic(args)
    return json.loads(out or b'null') or []


def restic_version():
    try:
        out = subprocess.run([S.config['RESTIC_BIN'], 'version'], capture_output=True, text=True, check=False).stdout
    except OSError:
        return (0, 0)
    m = re.search(r'restic (\d+)\.(\d+)', out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def put_metric(name, value, unit, source=''):
    dims = f'BackupSet={S.config.get("RESTIC_BACKUPS_SET", "")}' + (f',Source={source}' if source else '')
    cmd = (S.config.get('RESTIC_BACKUPS_PUT_METRIC_COMMAND') or 'aws cloudwatch put-metric-data').split()
    try:
        rc = subprocess.run([*cmd, '--namespace', S.config.get('RESTIC_BACKUPS_NAMESPACE') or 'ResticBackups', '--metric-name', name,
                             '--value', str(value), '--unit', unit, '--dimensions', dims],
                            stdout=subprocess.DEVNULL, check=False).returncode
    except OSError:
        rc = 1
    if rc != 0:
        log(f'warning: could not publish metric {name} (the backup-age alarm will notice)')


def dump_stream(snap_id, file, sink):
    """restic dump of a stream into SINK (a file object or None): (exit, sha256, bytes, stderr)."""
    p = spawn(restic_argv(['dump', snap_id, f'/{file}']), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tee = Tee(p.stderr)
    digest, total = hashlib.sha256(), 0
    try:
        while True:
            data = p.stdout.read1(CHUNK)
            if not data:
                break
            digest.update(data)
            total += len(data)
            if sink is not None:
                sink.write(data)
    except BrokenPipeError:
        interrupt(p)
    rc = reap(p)
    return rc, digest.hexdigest(), total, tee.text()
