"""Pure parts (unit-tested): failures classified from restic's exit code and messages, backup summaries."""

import json
import re

from .common import EX_CONFIG, EX_IOERR, EX_NOPERM, EX_SOFTWARE, EX_UNAVAILABLE, Fail, PROG


PATTERNS = (
    ('password', re.compile(r'wrong password|no key found', re.I)),
    ('locked', re.compile(r'already locked|unable to create lock', re.I)),
    ('disk', re.compile(r'no space left on device|disk quota exceeded', re.I)),
    ('unreachable', re.compile(r'connection refused|no such host|network is unreachable|i/o timeout|'
                               r'tls handshake|connection reset|server misbehaving|context deadline exceeded|'
                               r'giving up after|500 Internal Server Error|InternalError|'
                               r'Service ?Unavailable|SlowDown', re.I)),
    ('no_repo', re.compile(r'Is there a repository at the following location|repository does not exist', re.I)),
    ('damaged', re.compile(r'ciphertext verification failed|does not match|not found in index|blob .* not found|'
                           r'pack .* (?:not found|does not exist|contains \d+ errors)|missing pack|'
                           r'unexpected EOF|invalid data returned|error while checking|Fatal: repository contains errors|'
                           r'errors were found|NoSuchKey|The specified key does not exist', re.I)),
)


def classify(rc, stderr):
    """What a failed restic run means: one of password, locked, disk, unreachable, no_repo,
    damaged, incomplete (exit 3: some source files unreadable) or other. restic 0.17+
    also says it with exit codes 10 (no repository), 11 (locked), 12 (wrong password)."""
    by_code = {10: 'no_repo', 11: 'locked', 12: 'password'}
    if rc in by_code:
        return by_code[rc]
    if rc == 3:
        return 'incomplete'
    for kind, pattern in PATTERNS:
        if pattern.search(stderr or ''):
            return kind
    return 'other'


def failure_for(kind, rc, repository, what='restic'):
    """The Fail to raise for a classified restic failure (not for 'locked')."""
    if kind == 'password':
        return Fail(EX_NOPERM, f'wrong repository password: RESTIC_PASSWORD_COMMAND does not give the password of {repository}')
    if kind == 'no_repo':
        return Fail(EX_CONFIG, f'no restic repository at {repository}: run \'{PROG} init\'')
    if kind == 'unreachable':
        return Fail(EX_UNAVAILABLE, f'the repository storage is unreachable or failing ({repository}): {what} gave up (exit {rc}); '
                    'see the message above, nothing was kept')
    if kind == 'disk':
        return Fail(EX_IOERR, f'a local disk is full ({what} exit {rc}: "no space left on device"); free space and retry')
    if kind == 'damaged':
        return Fail(EX_SOFTWARE, f'the repository holds missing or damaged data ({what} exit {rc}); the next backup rebuilds '
                    'the index and re-reads its source, see the runbook', damaged=True)
    return Fail(1, f'{what} failed with exit code {rc}')


def backup_summary(text):
    """restic backup --json's summary (the last "summary" message) and its error messages."""
    summary, errors = {}, []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith('{'):
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get('message_type') == 'summary':
            summary = msg
        elif msg.get('message_type') == 'error':
            errors.append(msg)
    return summary, errors
