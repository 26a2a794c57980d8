/**
 * Snapshot SQL is untrusted input (a damaged repository, or one an attacker could write to):
 * the tool's restore and drill load it as a role of their own that is no superuser, in psql's
 * restricted mode, and give the objects to the database's owner only after verification.
 * Real PostgreSQL 15, restic and s3rver (test/support/restic-harness.ts). RESTIC_BACKUPS_TOOL=<an earlier build>
 * runs the same cases against it (the tool before this fix fails them: it loaded as postgres).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Harness } from '../support/restic-harness';

jest.setTimeout(300_000);

const h = new Harness();
const OWNER = 'shul_app';
const LIVE = 'shul'; // backed up by the tool as pieces
const FORGED = 'forged'; // its source's snapshots are written by the test
const tag = crypto.randomBytes(6).toString('hex');
const marker = (what: string) => `/tmp/restic-backups-marker-${tag}-${what}`;

function ok(args: string[]): string {
  const r = h.run(args);
  if (r.status !== 0) throw new Error(`restic-backups ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stderr;
}

/** Every row of every table, and who owns each schema, table and function. */
function contentOf(db: string): string {
  return [
    h.psql(db, "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) || ' ' || count(*) FROM shiurim.sessions t"),
    h.psql(db, "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) || ' ' || count(*) FROM public.members t"),
    h.psql(db, "SELECT string_agg(DISTINCT pg_get_userbyid(nspowner), ',') FROM pg_namespace WHERE nspname = 'shiurim'"),
    h.psql(db, "SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ',') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'shiurim')"),
    h.psql(db, "SELECT string_agg(DISTINCT pg_get_userbyid(proowner), ',') FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'shiurim'"),
  ].join('\n');
}

const databases = (like: string) => h.psql('postgres', `SELECT coalesce(string_agg(datname, ' ' ORDER BY datname), '') FROM pg_database WHERE datname LIKE '${like}'`);
const loaderRoles = () => h.psql('postgres', "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'restic\\_backups\\_load\\_%'");
const superusers = () => h.psql('postgres', "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolsuper");
const autoConf = () => fs.readFileSync(path.join(h.pgData, 'postgresql.auto.conf'), 'utf8');

/** Replaces the forged source's snapshots with one whose SQL is SQL (tagged complete, as a good backup would be). */
function forge(sql: string): void {
  for (const s of h.snapshots(`source:${FORGED}`)) h.resticOk(['forget', s.id]);
  h.resticOk(['backup', '--stdin', '--stdin-filename', `${FORGED}.sql`, '--tag', `source:${FORGED},complete`, '--host', 'elsewhere'], sql);
}

beforeAll(async () => {
  await h.start();
  h.psql('postgres', `CREATE ROLE ${OWNER} NOLOGIN`);
  for (const db of [LIVE, FORGED]) {
    h.asPostgres(['createdb', '-O', OWNER, db]);
    h.psql(db, `
      SET ROLE ${OWNER};
      CREATE SCHEMA shiurim;
      CREATE TABLE shiurim.sessions (id int PRIMARY KEY, title text NOT NULL, notes text);
      -- Rows that look like statements the restore leaves out or refuses, inside COPY data.
      INSERT INTO shiurim.sessions SELECT i, 'Daf ' || i, CASE i % 4 WHEN 0 THEN E'ALTER TABLE x OWNER TO postgres;'
        WHEN 1 THEN E'\\\\restrict abc' WHEN 2 THEN E'line\\nALTER SCHEMA shiurim OWNER TO postgres;\\n\\\\.' END FROM generate_series(1, 4000) i;
      CREATE TABLE public.members (id serial PRIMARY KEY, name text);
      INSERT INTO public.members (name) SELECT 'member ' || i FROM generate_series(1, 300) i;
      -- A function whose body holds an ownership statement on its own line: kept as it is.
      CREATE FUNCTION shiurim.note() RETURNS text LANGUAGE sql AS $$
SELECT 'x;
ALTER TABLE shiurim.sessions OWNER TO postgres;'
$$;`);
  }
  h.addSource({ name: 'database', kind: 'postgres', database: LIVE, full: true, pieceSize: 16384, verifySql: 'SELECT count(*) > 0 FROM shiurim.sessions' });
  h.addSource({ name: FORGED, kind: 'postgres', database: FORGED, full: true, verifySql: 'SELECT count(*) > 0 FROM shiurim.sessions' });
  ok(['init']);
  await h.useTestKeyCost();
});
afterAll(async () => {
  for (const f of fs.readdirSync('/tmp').filter((n) => n.startsWith(`restic-backups-marker-${tag}`))) fs.rmSync(path.join('/tmp', f));
  await h.stop();
});

test('a restore gives the exact rows, and every object to the database\'s owner; the loader role is gone', () => {
  ok(['backup', 'database']);
  const expected = contentOf(LIVE);
  expect(expected).toContain(`\n${OWNER}\n${OWNER}\n${OWNER}`);
  h.psql(LIVE, 'DELETE FROM shiurim.sessions WHERE id % 3 = 0; UPDATE public.members SET name = NULL');
  expect(contentOf(LIVE)).not.toBe(expected);
  expect(ok(['restore', '--database', LIVE])).toMatch(/restored, verified and swapped in shul/);
  expect(contentOf(LIVE)).toBe(expected);
  expect(h.psql('postgres', `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '${LIVE}'`)).toBe(OWNER);
  expect(h.psql(LIVE, 'SELECT shiurim.note()')).toBe('x;\nALTER TABLE shiurim.sessions OWNER TO postgres;');
  expect(loaderRoles()).toBe('0');
  const kept = databases(`${LIVE}_before_restore_%`);
  expect(kept).toMatch(/^shul_before_restore_\d+$/);
  h.psql('postgres', `DROP DATABASE ${kept}`);
});

describe('snapshot SQL that tries what only a superuser may', () => {
  const dump = () => h.asPostgres(['pg_dump', FORGED]);
  let live = '';
  beforeAll(() => { live = contentOf(FORGED); });

  test.each([
    ['COPY TO PROGRAM', `COPY (SELECT 1) TO PROGRAM 'touch ${marker('copy')}';`, () => fs.existsSync(marker('copy'))],
    ['CREATE ROLE ... SUPERUSER', `CREATE ROLE evil_${tag} SUPERUSER LOGIN;`, () => superusers() !== 'postgres'],
    ['ALTER SYSTEM', 'ALTER SYSTEM SET log_min_messages = \'debug5\';', () => autoConf().includes('debug5')],
    ['psql\'s \\! (a shell command as the OS user running psql)', `\\! touch ${marker('shell')}`, () => fs.existsSync(marker('shell'))],
    ['RESET ROLE, then COPY TO PROGRAM', `RESET ROLE;\nCOPY (SELECT 1) TO PROGRAM 'touch ${marker('reset')}';`, () => fs.existsSync(marker('reset'))],
    ['SET SESSION AUTHORIZATION postgres', `SET SESSION AUTHORIZATION postgres;\nCOPY (SELECT 1) TO PROGRAM 'touch ${marker('auth')}';`, () => fs.existsSync(marker('auth'))],
    ['lo_import of a server file', "SELECT lo_import('/etc/hostname');", () => false],
  ])('%s: the restore and the drill fail, nothing happened, the live database is untouched', (_name, attack, happened) => {
    forge(`${attack}\n${dump()}`);
    const restore = h.run(['restore', '--database', FORGED]);
    expect({ status: restore.status, happened: happened() }).toEqual({ status: 70, happened: false });
    expect(restore.stderr).toMatch(/did not load \(psql exit 3, as the loader role, which is no superuser/);
    expect(restore.stderr).toMatch(/forged was not touched/);
    const drill = h.run(['drill', '--database', FORGED]);
    expect({ status: drill.status, happened: happened() }).toEqual({ status: 70, happened: false });
    expect(contentOf(FORGED)).toBe(live);
    expect(databases(`${FORGED}_%`)).toBe('');
    expect(loaderRoles()).toBe('0');
  });

  test('an attempt the SQL hides from the load (an exception caught) does nothing; the rows restore exactly, owned by the owner', () => {
    const attempts = [
      `COPY (SELECT 1) TO PROGRAM ''touch ${marker('hidden')}''`,
      `CREATE ROLE evil_hidden_${tag} SUPERUSER`,
    ].map((sql) => `DO $$ BEGIN EXECUTE '${sql}'; EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'refused: %', SQLERRM; END $$;`);
    forge(`${attempts.join('\n')}\n${dump()}`);
    const r = h.run(['restore', '--database', FORGED, '--into', 'forged_copy', '--no-swap']);
    expect(r.status).toBe(0);
    expect(fs.existsSync(marker('hidden'))).toBe(false);
    expect(superusers()).toBe('postgres');
    expect(contentOf('forged_copy')).toBe(live);
    expect(loaderRoles()).toBe('0');
    h.psql('postgres', 'DROP DATABASE forged_copy');
  });
});
