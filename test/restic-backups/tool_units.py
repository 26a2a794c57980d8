"""Unit tests of the restic-backups tool's pure parts (run by tool-units.test.ts)."""
import os
import sys
import unittest

# The tool's modules, as the entry script finds them (beside it).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'src', 'constructs', 'restic-backups', 'host'))
from restic_backups import common, snapshots, failures, backup, postgres  # noqa: E402


def snap(id_, time, *tags):
    return {'id': id_, 'short_id': id_[:8], 'time': time, 'tags': ['source:db', *tags]}


class ChooseSnapshot(unittest.TestCase):
    snaps = [
        snap('aaaa0001', '2026-03-01T03:00:00.123456789Z', 'complete', 'sha256:00'),
        snap('bbbb0002', '2026-03-02T03:00:00Z', 'complete'),
        snap('cccc0003', '2026-03-03T03:00:00Z', 'unverified'),  # a killed run
        snap('dddd0004', '2026-03-04T03:00:00+02:00'),  # no completeness marker
    ]

    def test_newest_complete_only(self):
        self.assertEqual(snapshots.choose_snapshot(self.snaps)[0]['id'], 'bbbb0002')

    def test_before_and_after(self):
        t2 = int(snapshots.parse_time('2026-03-02T03:00:00Z'))
        self.assertEqual(snapshots.choose_snapshot(self.snaps, before=t2 - 1)[0]['id'], 'aaaa0001')
        self.assertIsNone(snapshots.choose_snapshot(self.snaps, after=t2)[0])

    def test_after_is_exact_not_per_second(self):
        # An hourly partial snapshot taken in the same second as the full one still holds writes
        # the full one lacks: the restore must apply it.
        full = snapshots.parse_time('2026-03-05T03:00:07.100000Z')
        same_second = [snap('eeee0005', '2026-03-05T03:00:07.900000Z', 'complete')]
        self.assertEqual(snapshots.choose_snapshot(same_second, after=full)[0]['id'], 'eeee0005')
        self.assertIsNone(snapshots.choose_snapshot(same_second, after=snapshots.parse_time('2026-03-05T03:00:07.900000Z'))[0])

    def test_named_snapshot_must_be_complete(self):
        self.assertEqual(snapshots.choose_snapshot(self.snaps, want='aaaa')[0]['id'], 'aaaa0001')
        for want in ('cccc', 'dddd0004'):
            chosen, why = snapshots.choose_snapshot(self.snaps, want=want)
            self.assertIsNone(chosen)
            self.assertIn('not proven complete', why)
        self.assertIn('no snapshot with id', snapshots.choose_snapshot(self.snaps, want='ffff')[1])
        self.assertIn('ambiguous', snapshots.choose_snapshot(self.snaps + [snap('aaaa0009', '2026-03-05T00:00:00Z', 'complete')], want='aaaa')[1])

    def test_stream_checksum_tag(self):
        self.assertEqual(snapshots.stream_sha(self.snaps[0]), '00')
        self.assertIsNone(snapshots.stream_sha(self.snaps[1]))

    def test_nanosecond_times(self):
        self.assertAlmostEqual(snapshots.parse_time('2026-03-01T03:00:00.123456789Z') - snapshots.parse_time('2026-03-01T03:00:00Z'), 0.123456, places=5)
        self.assertEqual(snapshots.parse_time('2026-03-04T03:00:00+02:00'), snapshots.parse_time('2026-03-04T01:00:00Z'))


class Retention(unittest.TestCase):
    def test_one_group_per_source(self):
        keep = snapshots.retention_args({'name': 'db', 'KEEP_DAILY': '7', 'KEEP_WEEKLY': '4', 'KEEP_HOURLY': '0'})
        self.assertEqual(keep, ['--keep-daily', '7', '--keep-weekly', '4'])
        # Grouped by nothing within the source's tag: other hosts, paths and the per-snapshot
        # checksum tags do not split the group.
        self.assertEqual(snapshots.forget_args('db', keep), ['forget', '--tag', 'source:db', '--group-by', '', '--keep-daily', '7', '--keep-weekly', '4'])

    def test_no_policy_and_bad_values(self):
        self.assertEqual(snapshots.retention_args({'name': 'db'}), [])
        with self.assertRaises(common.Fail) as e:
            snapshots.retention_args({'name': 'db', 'KEEP_LAST': 'seven'})
        self.assertEqual(e.exception.code, common.EX_CONFIG)


class Classify(unittest.TestCase):
    def kind(self, rc, err):
        return failures.classify(rc, err)

    def test_causes(self):
        self.assertEqual(self.kind(1, 'Fatal: wrong password or no key found'), 'password')
        self.assertEqual(self.kind(1, 'unable to create lock in backend: repository is already locked by PID 7'), 'locked')
        # An unreachable server also makes restic ask whether there is a repository.
        refused = ('Fatal: unable to open config file: Stat: Get "https://127.0.0.1:1/b/?location=": dial tcp 127.0.0.1:1: '
                   'connect: connection refused\nIs there a repository at the following location?')
        self.assertEqual(self.kind(1, refused), 'unreachable')
        self.assertEqual(self.kind(1, 'Fatal: unable to open config file: Stat: The specified key does not exist.\n'
                                      'Is there a repository at the following location?'), 'no_repo')
        self.assertEqual(self.kind(1, 'write /var/cache/x: no space left on device'), 'disk')
        self.assertEqual(self.kind(1, 'pack 1234abcd: not found\nFatal: repository contains errors'), 'damaged')
        self.assertEqual(self.kind(1, 'ciphertext verification failed'), 'damaged')
        self.assertEqual(self.kind(3, 'Warning: at least one source file could not be read'), 'incomplete')
        self.assertEqual(self.kind(1, 'something else'), 'other')

    def test_restic_017_exit_codes(self):
        self.assertEqual(self.kind(10, ''), 'no_repo')
        self.assertEqual(self.kind(11, ''), 'locked')
        self.assertEqual(self.kind(12, ''), 'password')

    def test_failures_name_the_cause(self):
        repo = 's3:https://s3.eu-west-1.amazonaws.com/b/p'
        self.assertEqual(failures.failure_for('password', 1, repo).code, common.EX_NOPERM)
        self.assertEqual(failures.failure_for('unreachable', 1, repo).code, common.EX_UNAVAILABLE)
        self.assertIn('unreachable', failures.failure_for('unreachable', 1, repo).message)
        self.assertEqual(failures.failure_for('disk', 1, repo).code, common.EX_IOERR)
        self.assertTrue(failures.failure_for('damaged', 1, repo).damaged)
        self.assertEqual(failures.failure_for('no_repo', 1, repo).code, common.EX_CONFIG)


class CheckSubsets(unittest.TestCase):
    def test_every_subset_within_n_days(self):
        for parts in (1, 3, 7, 30):
            for first in (0, 20454, 20818):  # 1970-01-01, 2026-01-01, 2026-12-31 (across New Year)
                seen = {snapshots.check_subset(day, parts) for day in range(first, first + parts)}
                self.assertEqual(seen, {f'{i}/{parts}' for i in range(1, parts + 1)})


class Parsing(unittest.TestCase):
    def test_backup_summary(self):
        text = '\n'.join([
            '{"message_type":"status","percent_done":0.5}',
            '{"message_type":"error","error":{"Op":"open","Err":13},"item":"/x/b"}',
            'not json',
            '{"message_type":"summary","data_added":42,"snapshot_id":"abc","total_bytes_processed":7}',
        ])
        summary, errors = failures.backup_summary(text)
        self.assertEqual((summary['snapshot_id'], summary['data_added']), ('abc', 42))
        self.assertEqual(len(errors), 1)

    def test_s3_location(self):
        self.assertEqual(backup.s3_location('s3:https://127.0.0.1:9000/backups/restic'), ('https://127.0.0.1:9000', 'backups', 'restic'))
        self.assertEqual(backup.s3_location('s3:s3.eu-west-1.amazonaws.com/bucket/a/b/'), ('https://s3.eu-west-1.amazonaws.com', 'bucket', 'a/b'))
        self.assertEqual(backup.s3_location('s3:http://minio:9000/bucket'), ('http://minio:9000', 'bucket', ''))
        self.assertIsNone(backup.s3_location('/srv/restic'))


class FilteredSink:
    def __init__(self):
        self.data = b''

    def write(self, b):
        self.data += b

    def close(self):
        pass


def filtered(sql, chunk=None):
    out = FilteredSink()
    f = postgres.SqlFilter(out)
    step = chunk or len(sql) or 1
    for i in range(0, len(sql), step):
        f.write(sql[i:i + step])
    f.close()
    first, rest = out.data.split(b'\n', 1)
    return first, rest, f.owner_statements


class SqlFilterOfSnapshotSql(unittest.TestCase):
    dump = b"""--
-- PostgreSQL database dump
--

\\restrict AbC123

SET statement_timeout = 0;
CREATE SCHEMA geo;


ALTER SCHEMA geo OWNER TO app;

CREATE FUNCTION geo.f() RETURNS text
    LANGUAGE sql
    AS $_$
SELECT 'x;
ALTER TABLE geo.t OWNER TO app;'
$_$;


ALTER FUNCTION geo.f() OWNER TO app;

COMMENT ON SCHEMA geo IS 'it''s;
ALTER SCHEMA geo OWNER TO evil;';

ALTER TABLE "we""ird" OWNER TO "App Owner";

COPY geo.t (id, s) FROM stdin;
1\tALTER TABLE x OWNER TO y;
2\t\\\\restrict abc
\\.

ALTER TABLE geo.t OWNER TO app; SELECT 'smuggled';
/* ALTER TABLE geo.t OWNER TO app;
*/
\\unrestrict AbC123
"""

    def test_restricts_first_drops_owner_and_restrict_lines_keeps_data_and_quoted_text(self):
        for chunk in (None, 1, 3, 17):
            first, rest, owners = filtered(self.dump, chunk)
            self.assertRegex(first, rb'^\\restrict [0-9a-f]{32}$')
            self.assertEqual(owners, 3, chunk)
            self.assertNotIn(b'AbC123', rest)
            self.assertNotIn(b'ALTER SCHEMA geo OWNER TO app;', rest)
            self.assertNotIn(b'ALTER FUNCTION geo.f() OWNER TO app;', rest)
            self.assertNotIn(b'"App Owner"', rest)
            # Inside a function body, a string, COPY data, a comment, or not alone on its line: kept.
            for kept in (b"ALTER TABLE geo.t OWNER TO app;'\n$_$;", b"ALTER SCHEMA geo OWNER TO evil;';",
                         b'1\tALTER TABLE x OWNER TO y;\n2\t\\\\restrict abc\n\\.\n',
                         b"ALTER TABLE geo.t OWNER TO app; SELECT 'smuggled';", b'/* ALTER TABLE geo.t OWNER TO app;\n*/'):
                self.assertIn(kept, rest, chunk)

    def test_a_new_key_each_time(self):
        self.assertNotEqual(filtered(b'SELECT 1;\n')[0], filtered(b'SELECT 1;\n')[0])

    def test_scram_verifier_is_what_postgres_checks(self):
        v = postgres.scram_verifier('secret')
        self.assertRegex(v, r'^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$')
        self.assertNotIn('secret', v)


if __name__ == '__main__':
    unittest.main()
