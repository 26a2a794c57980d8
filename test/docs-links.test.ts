import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// Every relative link and #anchor in the repository's Markdown must resolve, so that moving a
// section (README -> construct READMEs -> docs/) can never leave a reader at a dead end.

const repoRoot = path.resolve(__dirname, '..');

/** The Markdown files git knows about (tracked, or new and not ignored). */
function markdownFiles(root: string): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', '*.md'], {
    cwd: root,
    encoding: 'utf8',
  });
  return [...new Set(out.split('\0').filter((f) => f && fs.existsSync(path.join(root, f))))].sort();
}

/** The lines outside fenced code blocks, with inline code spans blanked out. */
function proseLines(text: string): Array<{ line: string; lineNumber: number }> {
  const result: Array<{ line: string; lineNumber: number }> = [];
  let fence: string | undefined;
  text.split('\n').forEach((raw, index) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(raw);
    if (marker) {
      if (!fence) {
        fence = marker[1][0];
      } else if (marker[1][0] === fence) {
        fence = undefined;
      }
      return;
    }
    if (fence) return;
    result.push({ line: raw.replace(/(`+)[^`]*?\1/g, (m) => ' '.repeat(m.length)), lineNumber: index + 1 });
  });
  return result;
}

/** GitHub's heading anchor: rendered text, lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  const text = heading
    .replace(/<[^>]*>/g, '')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*~]/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every anchor a Markdown file offers: heading slugs (numbered when repeated) and explicit ids. */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence: string | undefined;
  for (const raw of text.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(raw);
    if (marker) {
      if (!fence) fence = marker[1][0];
      else if (marker[1][0] === fence) fence = undefined;
      continue;
    }
    if (fence) continue;
    for (const tag of raw.matchAll(/<a\s[^>]*>/g)) {
      for (const m of tag[0].matchAll(/\s(?:name|id)="([^"]+)"/g)) anchors.add(m[1]);
    }
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(raw);
    if (!heading) continue;
    const base = slug(heading[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** The relative links of one file that do not resolve: a missing file or folder, or a missing anchor. */
export function brokenLinks(root: string, file: string): string[] {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  const broken: string[] = [];
  const targets: Array<{ target: string; lineNumber: number }> = [];
  for (const { line, lineNumber } of proseLines(text)) {
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push({ target: m[1], lineNumber });
    const reference = /^\s{0,3}\[[^\]]+\]:\s+<?(\S+?)>?(\s|$)/.exec(line);
    if (reference) targets.push({ target: reference[1], lineNumber });
    for (const m of line.matchAll(/<a\s[^>]*?href="([^"]+)"/g)) targets.push({ target: m[1], lineNumber });
  }
  for (const { target, lineNumber } of targets) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: ...: not a file in this repository
    const hash = target.indexOf('#');
    const targetPath = decodeURI(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const resolved = targetPath === '' ? path.join(root, file) : path.resolve(path.dirname(path.join(root, file)), targetPath);
    const where = `${file}:${lineNumber}: ${target}`;
    if (!resolved.startsWith(root + path.sep) && resolved !== root) {
      broken.push(`${where} (points outside the repository)`);
      continue;
    }
    if (!fs.existsSync(resolved)) {
      broken.push(`${where} (no such file: ${path.relative(root, resolved)})`);
      continue;
    }
    if (anchor !== undefined && anchor !== '') {
      if (!resolved.endsWith('.md')) {
        if (!/^L\d+(-L\d+)?$/.test(anchor)) broken.push(`${where} (#${anchor} in a file that is not Markdown)`);
        continue;
      }
      if (!anchorsOf(fs.readFileSync(resolved, 'utf8')).has(anchor)) {
        broken.push(`${where} (no heading or anchor #${anchor} in ${path.relative(root, resolved)})`);
      }
    }
  }
  return broken;
}

describe('documentation links', () => {
  const files = markdownFiles(repoRoot);

  test('the checked files include the README, the docs and every construct README', () => {
    expect(files).toContain('README.md');
    expect(files).toEqual(expect.arrayContaining([
      'docs/CONTRIBUTING.md',
      'docs/operations.md',
      'docs/scaling.md',
      'docs/deploying.md',
    ]));
    const constructDirs = fs.readdirSync(path.join(repoRoot, 'src/constructs'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && fs.existsSync(path.join(repoRoot, 'src/constructs', d.name, 'index.ts')))
      .map((d) => `src/constructs/${d.name}/README.md`);
    expect(constructDirs.length).toBeGreaterThan(0);
    expect(files).toEqual(expect.arrayContaining(constructDirs));
  });

  test.each(markdownFiles(repoRoot))('every relative link and anchor in %s resolves', (file) => {
    expect(brokenLinks(repoRoot, file)).toEqual([]);
  });

  test('a broken file link, a broken anchor and a link out of the repository are reported', () => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'docs-links-')));
    try {
      fs.mkdirSync(path.join(root, 'docs'));
      fs.writeFileSync(path.join(root, 'docs', 'other.md'), '# Other page\n\n## The `restore` command\n');
      fs.writeFileSync(path.join(root, 'README.md'), [
        '# Title',
        '',
        '## Good section',
        '',
        '[ok](docs/other.md) [ok](docs/other.md#the-restore-command) [ok](#good-section) [web](https://example.org/x.md#y)',
        '[file](docs/missing.md) [anchor](docs/other.md#no-such-heading) [self](#nowhere) [out](../outside.md)',
        '',
        '```md',
        '[inside a code block](not-checked.md)',
        '```',
        '',
        '[ref]: docs/gone.md',
      ].join('\n'));
      expect(brokenLinks(root, 'README.md')).toEqual([
        'README.md:6: docs/missing.md (no such file: docs/missing.md)',
        'README.md:6: docs/other.md#no-such-heading (no heading or anchor #no-such-heading in docs/other.md)',
        'README.md:6: #nowhere (no heading or anchor #nowhere in README.md)',
        'README.md:6: ../outside.md (points outside the repository)',
        'README.md:12: docs/gone.md (no such file: docs/gone.md)',
      ]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('repeated headings get numbered anchors, as on GitHub', () => {
    expect([...anchorsOf('# Operations\n## Operations\n### What `shtetl-ops` does, & why?\n')]).toEqual([
      'operations',
      'operations-1',
      'what-shtetl-ops-does--why',
    ]);
  });
});

describe('section references in messages', () => {
  // Operator-facing texts (shtetl-ops, alarms) name a guide and a section: `docs/x.md, "A > B"`.
  // Each section must exist, so that a message read at 3 a.m. leads somewhere.
  const headingsOf = (file: string) => new Set(fs.readFileSync(path.join(repoRoot, file), 'utf8').split('\n')
    .filter((line) => /^#{1,6} /.test(line)).map((line) => line.replace(/^#+ /, '').replace(/`/g, '').trim()));

  test('every `docs/<guide>.md, "<section>"` in src/ names a heading of that guide', () => {
    const sources = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', 'src'], { cwd: repoRoot, encoding: 'utf8' })
      .split('\n').filter((f) => /\.(ts|sh|py)$/.test(f));
    const refs = sources.flatMap((file) => [...fs.readFileSync(path.join(repoRoot, file), 'utf8').matchAll(/(docs\/[\w-]+\.md), "([^"]+)"/g)]
      .map((m) => ({ file, guide: m[1], section: m[2] })));
    expect(refs.length).toBeGreaterThanOrEqual(7);
    const missing = refs.filter((r) => !fs.existsSync(path.join(repoRoot, r.guide))
      || !r.section.split(' > ').every((part) => headingsOf(r.guide).has(part)));
    expect(missing).toEqual([]);
  });
});
