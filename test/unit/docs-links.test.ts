import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'vitest';
import { AuditEventType, DangerousOpKind, REFUSAL_KINDS } from '../../contracts';

const ROOT = join(import.meta.dirname, '..', '..');
const SELF = relative(ROOT, import.meta.filename);
const SCANNED = [
  'README.md',
  'contracts',
  'functions',
  'infra',
  'local',
  'cli',
  'statemachines',
  'bench',
  'test',
  'policy',
  'docs',
];
const EXTENSIONS = /\.(ts|mjs|json|md|sql)$/;

function walk(path: string): string[] {
  const full = join(ROOT, path);
  if (EXTENSIONS.test(path)) return [path];
  let entries;
  try {
    entries = readdirSync(full, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.name !== 'node_modules' && !e.name.startsWith('.'))
    .flatMap((e) => (e.isDirectory() || EXTENSIONS.test(e.name) ? walk(join(path, e.name)) : []));
}

/** Every file whose comments or text could cite a document, with its lines. */
const files = SCANNED.flatMap(walk)
  .filter((f) => f !== SELF)
  .map((path) => ({ path, lines: readFileSync(join(ROOT, path), 'utf8').split('\n') }));

/** The anchors GitHub gives a page's headings (outside code fences). */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const slug = (heading[1] as string)
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

const docs = new Map(
  readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => [f, anchorsOf(readFileSync(join(ROOT, 'docs', f), 'utf8'))]),
);
docs.set('../README.md', anchorsOf(readFileSync(join(ROOT, 'README.md'), 'utf8')));

test('no comment or doc cites a document that is not in the repository (the rules are in docs/)', () => {
  // The specs and the design note this code was built from live outside the repository.
  const outside = [/\bseeds?\s+0\d\d\b/i, /\bseeds\//i, /§/, /\bDESIGN\.md\b/];
  const found = files.flatMap(({ path, lines }) =>
    lines.flatMap((line, i) =>
      outside.some((re) => re.test(line)) ? [`${path}:${i + 1}: ${line.trim()}`] : [],
    ),
  );
  assert.deepEqual(found, [], 'say the rule in docs/ and point there');
});

test('every docs/<page>.md#anchor that code, README or docs point to exists', () => {
  const broken: string[] = [];
  const check = (where: string, page: string, anchor: string | undefined) => {
    const anchors = docs.get(page);
    if (!anchors) broken.push(`${where}: docs/${page} does not exist`);
    else if (anchor && !anchors.has(anchor))
      broken.push(`${where}: docs/${page} has no heading #${anchor}`);
  };
  for (const { path, lines } of files) {
    lines.forEach((line, i) => {
      const where = `${path}:${i + 1}`;
      for (const m of line.matchAll(/\bdocs\/([a-z0-9-]+\.md)(?:#([\p{L}\p{N}_-]+))?/gu))
        check(where, m[1] as string, m[2]);
      if (!path.startsWith('docs/')) return;
      // Links between pages of docs/, and to headings of the same page.
      for (const m of line.matchAll(/\]\((?!https?:|docs\/)([^)#\s]*)(?:#([^)\s]+))?\)/g)) {
        const target = m[1] === '' ? path.slice('docs/'.length) : (m[1] as string);
        if (target.endsWith('.md')) check(where, target, m[2]);
      }
    });
  }
  assert.deepEqual(broken, []);
});

test('the rule pages name every audit event type, dangerous op kind and refusal the contracts define', () => {
  const evidence = readFileSync(join(ROOT, 'docs', 'evidence.md'), 'utf8');
  const safety = readFileSync(join(ROOT, 'docs', 'safety-rules.md'), 'utf8');
  assert.deepEqual(
    AuditEventType.options.filter((t) => !evidence.includes(`\`${t}\``)),
    [],
    'docs/evidence.md#audit-events',
  );
  assert.deepEqual(
    DangerousOpKind.options.filter((k) => !safety.includes(`\`${k}\``)),
    [],
    'docs/safety-rules.md#dangerous-ops',
  );
  assert.deepEqual(
    REFUSAL_KINDS.filter((k) => !safety.includes(`\`${k}\``)),
    [],
    'docs/safety-rules.md#preflight-refusals',
  );
});
