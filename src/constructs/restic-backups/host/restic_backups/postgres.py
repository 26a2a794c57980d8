"""PostgreSQL for restores: psql helpers, the snapshot SQL filter and the loader role."""

import base64
import datetime
import hashlib
import hmac
import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile

from .common import EX_CONFIG, EX_SOFTWARE, EX_USAGE, Fail, S, log
from .config import sources


def pg(argv, **kw):
    return subprocess.run(['runuser', '-u', S.config['PG_OS_USER'], '--', *argv], check=False, **kw)


def psql_value(db, sql):
    r = pg(['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', sql], capture_output=True, text=True)
    if r.returncode != 0:
        raise Fail(1, f'psql on {db} failed: {r.stderr.strip()}')
    return r.stdout.strip()


def admin(db, *statements):
    """Runs STATEMENTS (each its own transaction) as the session user of the configured
    connection: the role given in PGOPTIONS (-c role=..., the migration's) may not create roles."""
    argv = ['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', 'SET ROLE NONE']
    for sql in statements:
        argv += ['-c', sql]
    r = pg(argv, capture_output=True, text=True)
    if r.returncode != 0:
        raise Fail(1, f'psql on {db} failed: {r.stderr.strip()}')
    return r.stdout.strip()


def ident(s):
    return '"' + s.replace('"', '""') + '"'


def literal(s):
    return "'" + s.replace("'", "''") + "'"



# ---------------------------------------------------------------- the loader role
# Snapshot SQL is untrusted input: a damaged or forged dump may try COPY ... TO PROGRAM,
# ALTER SYSTEM, CREATE ROLE, lo_import or psql's \! and \copy. It is loaded by a role of its
# own that is no superuser and may create nothing but objects in the one database it owns,
# logging in itself (a one-time password in a file only the PostgreSQL OS user reads; SET ROLE
# or SET SESSION AUTHORIZATION from a superuser could be undone by the dump), and psql runs it
# in restricted mode (no meta-command). Only after the load verified are its objects given to
# the database's intended owner, by the administrator connection; then the role is dropped.

LOADER_PREFIX = 'restic_backups_load_'
OWNER_RE = re.compile(rb'ALTER [A-Z][A-Z ]* \S.* OWNER TO (?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*);')
RESTRICT_RE = re.compile(rb'\\(?:un)?restrict [A-Za-z0-9]+')
COPY_RE = re.compile(rb'COPY \S.* FROM stdin;')
DOLLAR_RE = re.compile(rb'\$(?:[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)?\$')


def scan_sql(text, quote, mid):
    """Follows one line of SQL from state (QUOTE: None or the open string, identifier, dollar
    quote or comment; MID: inside a statement): returns (quote, mid, index of the first ';'
    that ended a statement in the line, or -1)."""
    i, n, first = 0, len(text), -1
    while i < n:
        if quote is None:
            c = text[i:i + 1]
            if text.startswith(b'--', i):
                break
            if text.startswith(b'/*', i):
                quote, i = ('/*', 1), i + 2
            elif c == b"'":
                prev = text[i - 1:i]
                escapes = prev in (b'E', b'e') and not (i >= 2 and (text[i - 2:i - 1].isalnum() or text[i - 2:i - 1] == b'_'))
                quote, mid, i = ("'", escapes), True, i + 1
            elif c == b'"':
                quote, mid, i = ('"',), True, i + 1
            elif c == b'$' and DOLLAR_RE.match(text, i) and not (i and (text[i - 1:i].isalnum() or text[i - 1:i] == b'_')):
                m = DOLLAR_RE.match(text, i)
                quote, mid, i = ('$', m.group()), True, m.end()
            elif c == b';':
                mid = False
                first = i if first < 0 else first
                i += 1
            else:
                mid = mid or not c.isspace()
                i += 1
        elif quote[0] == "'":
            j = text.find(b"'", i)
            if quote[1]:
                k = text.find(b'\\', i)
                if 0 <= k and (j < 0 or k < j):
                    i = k + 2
                    continue
            if j < 0:
                i = n
            elif text.startswith(b"''", j):
                i = j + 2
            else:
                quote, i = None, j + 1
        elif quote[0] == '"':
            j = text.find(b'"', i)
            if j < 0:
                i = n
            elif text.startswith(b'""', j):
                i = j + 2
            else:
                quote, i = None, j + 1
        elif quote[0] == '$':
            j = text.find(quote[1], i)
            quote, i = (quote, n) if j < 0 else (None, j + len(quote[1]))
        else:
            o, c = text.find(b'/*', i), text.find(b'*/', i)
            if c < 0 and o < 0:
                i = n
            elif 0 <= o and (c < 0 or o < c):
                quote, i = ('/*', quote[1] + 1), o + 2
            else:
                quote, i = (None if quote[1] == 1 else ('/*', quote[1] - 1)), c + 2
    return quote, mid, first


def whole_statement(text):
    """TEXT is exactly one complete statement (its only top-level ';' is its last byte)."""
    quote, mid, first = scan_sql(text, None, False)
    return quote is None and not mid and first == len(text) - 1


class SqlFilter:
    """Between a plain dump and the loader's psql: puts psql in restricted mode under a key the
    dump cannot know (no meta-command: no \\!, \\copy, \\o |, \\connect), and leaves out the dump's own
    \\restrict lines (they would end it) and its ALTER ... OWNER TO statements (the loader may
    not give objects away; everything goes to the database's owner after verification). COPY
    data passes unread, so the rows are loaded exactly."""

    def __init__(self, out):
        self.out, self.rest, self.copy, self.quote, self.mid, self.owner_statements = out, b'', False, None, False, 0
        self.broken = False  # psql ended before the end of the dump (it failed: its exit status says why)
        self.put(b'\\restrict ' + secrets.token_hex(16).encode() + b'\n')

    def put(self, data):
        try:
            self.out.write(data)
        except BrokenPipeError:
            self.broken = True
            raise

    def line(self, line):
        text = line.rstrip(b'\r\n')
        if self.quote is None and not self.mid:
            if RESTRICT_RE.fullmatch(text):
                return b''
            if OWNER_RE.fullmatch(text) and whole_statement(text):
                self.owner_statements += 1
                return b''
            if COPY_RE.fullmatch(text) and whole_statement(text):
                self.copy = True
                return line
        self.quote, self.mid, _ = scan_sql(text, self.quote, self.mid)
        return line

    def write(self, data):
        buf, pos, out = self.rest + data, 0, []
        while pos < len(buf):
            if self.copy:
                if buf.startswith(b'\\.\n', pos):
                    end = pos
                else:
                    i = buf.find(b'\n\\.\n', pos)
                    end = i + 1 if i >= 0 else -1
                if end < 0:
                    j = buf.rfind(b'\n', pos)
                    if j >= 0:
                        out.append(buf[pos:j + 1])
                        pos = j + 1
                    break
                out.append(buf[pos:end + 3])
                pos, self.copy = end + 3, False
            else:
                j = buf.find(b'\n', pos)
                if j < 0:
                    break
                out.append(self.line(buf[pos:j + 1]))
                pos = j + 1
        self.rest = buf[pos:]
        self.put(b''.join(out))

    def close(self):
        if self.rest:
            self.put(self.rest if self.copy else self.line(self.rest))
            self.rest = b''
        try:
            self.out.close()
        except BrokenPipeError:
            self.broken = True
            raise


def scram_verifier(password):
    """The SCRAM-SHA-256 verifier of PASSWORD: only it reaches the server (and its logs)."""
    salt, rounds = os.urandom(16), 4096
    salted = hashlib.pbkdf2_hmac('sha256', password.encode(), salt, rounds)
    client = hmac.new(salted, b'Client Key', 'sha256').digest()
    server = hmac.new(salted, b'Server Key', 'sha256').digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f'SCRAM-SHA-256${rounds}:{b64(salt)}${b64(hashlib.sha256(client).digest())}:{b64(server)}'


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def remove_stale_loaders():
    """Loader roles of a restore or drill that was SIGKILLed (its PID is gone)."""
    for name in admin('postgres', f"SELECT rolname FROM pg_roles WHERE rolname LIKE {literal(LOADER_PREFIX + '%')}").split():
        m = re.fullmatch(LOADER_PREFIX + r'(\d+)_[0-9a-f]+', name)
        if not m or pid_alive(int(m.group(1))):
            continue
        try:
            admin('postgres', f'DROP ROLE {ident(name)}')
            log(f'dropped the role {name}, left by a restore or drill that was killed')
        except Fail:
            log(f'the role {name}, left by a restore that was killed, still owns a database it loaded (kept for inspection?); '
                'drop that database, then the role')


def create_loader():
    """A login role that is no superuser and may not create roles or databases, with a
    one-time password in a file (mode 0600) that only the PostgreSQL OS user reads."""
    remove_stale_loaders()
    name = f'{LOADER_PREFIX}{os.getpid()}_{secrets.token_hex(4)}'
    password = secrets.token_hex(24)
    user = pwd.getpwnam(S.config['PG_OS_USER'])
    S.loader_dir = tempfile.mkdtemp(prefix='restic-backups-pg.', dir=os.environ.get('TMPDIR') or '/tmp')
    os.chown(S.loader_dir, user.pw_uid, user.pw_gid)
    passfile = os.path.join(S.loader_dir, 'pgpass')
    fd = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(f'*:*:*:{name}:{password}\n')
    os.chown(passfile, user.pw_uid, user.pw_gid)
    until = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)).strftime('%Y-%m-%d %H:%M:%S+00')
    S.loader = name
    # The administrator joins the role (not the other way round) to create its database and,
    # later, to give its objects away (a non-superuser administrator, e.g. RDS's, needs that).
    admin('postgres', f'CREATE ROLE {ident(name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS '
                      f'CONNECTION LIMIT 4 PASSWORD {literal(scram_verifier(password))} VALID UNTIL {literal(until)}',
          f'GRANT {ident(name)} TO SESSION_USER')


def loader_env(options=''):
    env = {k: v for k, v in os.environ.items() if k not in ('PGPASSWORD', 'PGUSER', 'PGOPTIONS', 'PGSERVICE', 'PGSERVICEFILE')}
    env.update(PGUSER=S.loader, PGPASSFILE=os.path.join(S.loader_dir, 'pgpass'))
    if options:
        env['PGOPTIONS'] = options
    return env


def loader_run(db, *statements):
    """Runs STATEMENTS in DB as the loader role (each its own transaction)."""
    argv = ['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', db]
    for sql in statements:
        argv += ['-c', sql]
    return pg(argv, capture_output=True, text=True, env=loader_env())


def loader_value(db, *statements):
    r = loader_run(db, *statements)
    if r.returncode != 0:
        raise Fail(EX_SOFTWARE, f'psql on {db} as the loader role failed: {r.stderr.strip()}')
    return r.stdout.strip()


def create_target(target):
    """TARGET, owned by a new loader role, which can log in to it."""
    create_loader()
    try:
        admin('postgres', f'CREATE DATABASE {ident(target)} OWNER {ident(S.loader)} TEMPLATE template0')
    except Fail as e:
        raise Fail(EX_SOFTWARE, f'could not create database {target}: {e.message}')
    S.scratch_db = target
    r = loader_run(target, 'SELECT 1')
    if r.returncode != 0:
        raise Fail(EX_CONFIG, f'the loader role cannot log in to {target} ({r.stderr.strip()}): snapshot SQL is loaded by a role '
                   f'that is no superuser, with a password; PostgreSQL on {os.environ.get("PGHOST", "the default socket")} must accept '
                   'scram-sha-256 logins of roles other than the administrator (pg_hba.conf: "local all all scram-sha-256", '
                   'as GravitonDataHost configures it)')


def intended_owner(db):
    """Who owns the restored database and its objects: the owner of the database it replaces,
    else the role the configured connection works as."""
    if database_exists(db):
        owner = psql_value('postgres', f'SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = {literal(db)}')
    else:
        owner = psql_value('postgres', 'SELECT current_user')
    if psql_value('postgres', f'SELECT rolsuper FROM pg_roles WHERE rolname = {literal(owner)}') == 't':
        log(f'warning: {db} will belong to {owner}, a superuser: objects from the snapshot (functions, views) then act with '
            'superuser rights when used; let a role that is no superuser own the database (ALTER DATABASE ... OWNER TO, '
            'REASSIGN OWNED)')
    return owner


def give_to_owner(target, owner):
    """After verification: the database and all the loader made belong to OWNER, and database
    settings the dump may have made are reset before the administrator connects to it."""
    admin('postgres', f'ALTER DATABASE {ident(target)} RESET ALL', f'ALTER DATABASE {ident(target)} WITH ALLOW_CONNECTIONS true')
    admin(target, f'REASSIGN OWNED BY {ident(S.loader)} TO {ident(owner)}', f'DROP OWNED BY {ident(S.loader)}')
    admin('postgres', f'ALTER DATABASE {ident(target)} OWNER TO {ident(owner)}')
    drop_loader()


def drop_loader():
    name, S.loader = S.loader, ''
    if name:
        try:
            admin('postgres', f'DROP ROLE IF EXISTS {ident(name)}')
        except Fail as e:
            log(f'warning: could not drop the loader role {name} ({e.message}); it may no longer log in: drop it once '
                'what it owns is gone')
            try:
                admin('postgres', f'ALTER ROLE {ident(name)} NOLOGIN')
            except Fail:
                pass
    if S.loader_dir:
        shutil.rmtree(S.loader_dir, ignore_errors=True)
        S.loader_dir = ''


def database_exists(db):
    return psql_value('postgres', f'SELECT 1 FROM pg_database WHERE datname = {literal(db)}') == '1'


def database_sources(db):
    """DB's PostgreSQL sources: the full one first, then the partial ones."""
    full, partial = [], []
    for src in sources():
        if src.get('SOURCE_KIND') == 'postgres' and src.get('SOURCE_DATABASE') == db:
            (full if src.get('SOURCE_PG_FULL') == '1' else partial).append(src)
    if len(full) != 1:
        raise Fail(EX_CONFIG, f'database {db} needs exactly one full-database source to restore from '
                   f'(found {len(full)}: {" ".join(s["name"] for s in full) or "none"})')
    return full + partial


def default_database():
    dbs = [s['SOURCE_DATABASE'] for s in sources() if s.get('SOURCE_KIND') == 'postgres' and s.get('SOURCE_PG_FULL') == '1']
    if len(dbs) != 1:
        raise Fail(EX_USAGE, f'say which database to restore with --database (full-database sources: {" ".join(dbs) or "none"})')
    return dbs[0]
