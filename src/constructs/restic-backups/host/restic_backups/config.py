"""The configuration and sources (bash env files), the repair stamp."""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from .common import EX_CONFIG, EX_USAGE, Fail, KEEP_KINDS, S, SOURCE_VARS, log

# The pieces tool is installed beside the program (taken at import, before main's chdir).
TOOL_DIR = os.path.dirname(os.path.realpath(sys.argv[0]))


def bash_env(files, unset=()):
    """The environment after bash sources FILES (the construct writes bash)."""
    script = ('set -a; ' + (f'unset {" ".join(unset)}; ' if unset else '') +
              'for f; do source "$f" >&2 || exit 78; done; exec env -0')
    r = subprocess.run(['bash', '-c', script, 'bash', *files], capture_output=True, check=False)
    if r.returncode != 0:
        raise Fail(EX_CONFIG, f'cannot read {" ".join(files)}: {r.stderr.decode(errors="replace").strip()}')
    env = {}
    for item in r.stdout.split(b'\0'):
        if b'=' in item:
            k, v = item.split(b'=', 1)
            env[k.decode()] = v.decode(errors='replace')
    return env


def load_config():
    cdir = os.path.realpath(os.environ.get('RESTIC_BACKUPS_CONFIG_DIR') or '/etc/restic-backups')
    path = os.path.join(cdir, 'restic-backups.env')
    if not os.access(path, os.R_OK):
        raise Fail(EX_CONFIG, f'configuration {path} is missing (installed by the ResticBackups construct at boot)')
    env = bash_env([path])
    for v in ('RESTIC_REPOSITORY', 'RESTIC_PASSWORD_COMMAND', 'RESTIC_BACKUPS_SET'):
        if not env.get(v):
            raise Fail(EX_CONFIG, f'{v} is not set in {path} or the environment')
    env.setdefault('RESTIC_CACHE_DIR', '/var/cache/restic-backups')
    if env.get('AWS_REGION'):
        env.setdefault('AWS_DEFAULT_REGION', env['AWS_REGION'])
    os.environ.clear()
    os.environ.update(env)
    c = dict(env)
    c['CONFIG_DIR'] = cdir
    c['RESTIC_BIN'] = env.get('RESTIC_BIN') or 'restic'
    if not shutil.which(c['RESTIC_BIN']):
        raise Fail(EX_CONFIG, f'restic is not installed ({c["RESTIC_BIN"]} not found): install restic 0.14 or newer')
    c['PG_OS_USER'] = env.get('RESTIC_BACKUPS_PG_OS_USER') or 'postgres'
    c['LOCK_WAIT'] = int(env.get('RESTIC_BACKUPS_LOCK_WAIT_SECONDS') or 1800)
    c['LOCK_RETRY'] = int(env.get('RESTIC_BACKUPS_LOCK_RETRY_SECONDS') or 30)
    c['HOST_NAME'] = env.get('RESTIC_BACKUPS_HOST') or socket.gethostname()
    c['SPOOL_DIR'] = env.get('RESTIC_BACKUPS_SPOOL_DIR') or '/var/lib/restic-backups'
    c['PIECES'] = env.get('RESTIC_BACKUPS_PIECES') or os.path.join(TOOL_DIR, 'restic-backups-pieces')
    S.config = c
    S.work = tempfile.mkdtemp(prefix='restic-backups.', dir=env.get('TMPDIR') or '/tmp')


def list_sources():
    d = os.path.join(S.config['CONFIG_DIR'], 'sources')
    return sorted(f[:-4] for f in os.listdir(d) if f.endswith('.env')) if os.path.isdir(d) else []


def load_source(name):
    path = os.path.join(S.config['CONFIG_DIR'], 'sources', f'{name}.env')
    if not re.fullmatch(r'[a-z0-9][a-z0-9-]*', name) or not os.access(path, os.R_OK):
        raise Fail(EX_USAGE, f"unknown source '{name}' (configured: {''.join(n + ' ' for n in list_sources())})")
    env = bash_env([path], unset=SOURCE_VARS + tuple(f'KEEP_{k}' for k in KEEP_KINDS))
    src = {k: v for k, v in env.items() if k.startswith('SOURCE_') or k.startswith('KEEP_')}
    src['name'] = name
    return src


def sources():
    return [load_source(n) for n in list_sources()]


def source_command(src):
    kind = src.get('SOURCE_KIND', '')
    if kind == 'postgres':
        return ['runuser', '-u', S.config['PG_OS_USER'], '--', 'pg_dump', '--no-password', '--format=plain',
                *src.get('SOURCE_PG_DUMP_ARGS', '').split(), src['SOURCE_DATABASE']]
    if kind == 'command':
        sh = ['bash', '-o', 'pipefail', '-c', src['SOURCE_COMMAND']]
        return ['runuser', '-u', src['SOURCE_USER'], '--', *sh] if src.get('SOURCE_USER') else sh
    raise Fail(EX_CONFIG, f"source {src['name']}: unknown kind '{kind}'")


def repair_stamp():
    return os.path.join(S.config['SPOOL_DIR'], 'repair-needed')


def mark_repair_needed(why):
    try:
        os.makedirs(S.config['SPOOL_DIR'], mode=0o700, exist_ok=True)
        with open(repair_stamp(), 'a') as f:
            f.write(f'{int(time.time())} {why}\n')
        log(f'the repository needs repair ({why}): the next backup of each source rebuilds the index and re-reads it in full')
    except OSError as e:
        log(f'warning: could not record that the repository needs repair: {e}')
