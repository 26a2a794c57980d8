"""Pure parts (unit-tested): snapshot times and choice, retention arguments, the check rotation."""

import datetime
import re

from .common import EX_CONFIG, Fail, KEEP_KINDS, TAG_COMPLETE, TAG_PENDING, TAG_SHA


def parse_time(s):
    """restic's RFC 3339 time (nanoseconds) as epoch seconds."""
    s = s.replace('Z', '+00:00')
    m = re.match(r'^([^.]*)(?:\.(\d+))?(.*)$', s)
    head, frac, tz = m.group(1), m.group(2), m.group(3)
    if frac:
        head += '.' + frac[:6]
    return datetime.datetime.fromisoformat(head + tz).timestamp()


def is_complete(snap):
    tags = snap.get('tags') or []
    return TAG_COMPLETE in tags and TAG_PENDING not in tags


def stream_sha(snap):
    for t in snap.get('tags') or []:
        if t.startswith(TAG_SHA):
            return t[len(TAG_SHA):]
    return None


def choose_snapshot(snaps, want='', before=None, after=None):
    """The newest complete snapshot (not newer than BEFORE, whole epoch seconds; newer than
    AFTER, an exact snapshot time), or the one whose id starts with WANT. Returns (snapshot or
    None, why-not message)."""
    if want:
        named = [s for s in snaps if s['id'].startswith(want) or s.get('short_id') == want]
        if not named:
            return None, f'no snapshot with id {want}'
        if len(named) > 1:
            return None, f'snapshot id {want} is ambiguous ({len(named)} match)'
        if not is_complete(named[0]):
            return None, (f'snapshot {want} is not proven complete (it has no "{TAG_COMPLETE}" tag: its backup '
                          'did not finish, or it was made by a tool that did not record completeness); refusing to restore it')
        snaps = named
    snaps = [s for s in snaps if is_complete(s)]
    if before is not None:
        snaps = [s for s in snaps if int(parse_time(s['time'])) <= before]
    if after is not None:
        # Exact, not per second: a partial snapshot taken in the full one's second is newer.
        snaps = [s for s in snaps if parse_time(s['time']) > after]
    if not snaps:
        return None, 'no complete snapshot'
    return max(snaps, key=lambda s: parse_time(s['time'])), ''


def retention_args(source):
    """restic forget's policy flags for a source's KEEP_* values."""
    args = []
    for kind in KEEP_KINDS:
        raw = source.get(f'KEEP_{kind}', '') or '0'
        if not raw.isdigit():
            raise Fail(EX_CONFIG, f'source {source["name"]}: KEEP_{kind}={raw!r} is not a whole number')
        if int(raw) > 0:
            args += [f'--keep-{kind.lower()}', raw]
    return args


def forget_args(name, keep):
    """One group per source, whatever host, paths or other tags its snapshots have: a
    replaced host's snapshots share the policy, and the per-snapshot completeness tags do not
    split the group."""
    return ['forget', '--tag', f'source:{name}', '--group-by', '', *keep]


def check_subset(day, parts):
    """The data subset the daily check reads on DAY (days since 1970): every subset once in
    any PARTS consecutive days, so a damaged pack is found within PARTS days."""
    return f'{day % parts + 1}/{parts}'


# (exit code, message, kind) for restic's stderr; the order matters: an unreachable server
# also makes restic ask "Is there a repository at the following location?".
