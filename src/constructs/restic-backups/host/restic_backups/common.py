"""What every part of restic-backups shares: exit codes, tags, the failure types, logging and the held state."""

import signal
import sys


PROG = 'restic-backups'
EX_USAGE, EX_DATAERR, EX_UNAVAILABLE, EX_SOFTWARE, EX_IOERR = 64, 65, 69, 70, 74
EX_TEMPFAIL, EX_NOPERM, EX_CONFIG = 75, 77, 78
TAG_PENDING, TAG_COMPLETE, TAG_SHA = 'unverified', 'complete', 'sha256:'
SOURCE_VARS = ('SOURCE_KIND', 'SOURCE_COMMAND', 'SOURCE_USER', 'SOURCE_PATHS', 'SOURCE_FILENAME', 'SOURCE_DATABASE',
               'SOURCE_PG_DUMP_ARGS', 'SOURCE_PG_FULL', 'SOURCE_VERIFY_SQL', 'SOURCE_PIECE_SIZE')
KEEP_KINDS = ('LAST', 'HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY')
CHUNK = 1 << 20


class Fail(Exception):
    """Ends the program with CODE after MESSAGE (and the failure metric for scheduled operations)."""

    def __init__(self, code, message, damaged=False):
        super().__init__(message)
        self.code, self.message, self.damaged = code, message, damaged


class Interrupted(Exception):
    def __init__(self, signum):
        super().__init__(f'stopped by {signal.Signals(signum).name}')
        self.signum = signum



def log(msg):
    sys.stderr.write(f'{PROG}: {msg}\n')
    sys.stderr.flush()


class State:
    """What the program holds, so that every ending (error or signal) can release it."""
    operation = ''
    source = ''
    work = ''
    restore_dir = ''
    scratch_db = ''
    loader = ''  # the role that loads snapshot SQL (not a superuser), dropped at the end
    loader_dir = ''  # its one-time password file
    snapshot = ''  # saved by restic but not (yet) proven complete: removed if the run fails
    keep_scratch = False
    children = []
    config = {}


S = State()
