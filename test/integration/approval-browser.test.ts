import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { approvalGate } from '../../functions/adapters/dependencies';
import { startApprovalServer } from '../../local/approval-server';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { countingJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';
import { freeLoopbackPort } from '../support/net';

/**
 * The approval page in a real browser (Debian's chromium, driven by playwright-core): open the
 * link, check what is shown, sign in against the local stand-in IdP, type the challenge, approve;
 * the run (the real ASL) then carries out the plan once. Screenshots go to
 * test-artifacts/approval-browser/.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve('test-artifacts/approval-browser');

describe('the approval page in chromium: sign in, read the plan, type the challenge, approve', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  let server: NonNullable<Awaited<ReturnType<typeof startApprovalServer>>>;
  let context: BrowserContext;
  let userDataDir: string;
  const requests: { approvalId: string; link: string }[] = [];
  const purge = {
    ...countingJob('browser_purge'),
    plan: async () => ({
      summary:
        'purge 3 run record(s) of runs scheduled before 2026-11-01T00:00:00Z from the state table',
      details: {
        cutoff: '2026-11-01T00:00:00Z',
        count: 3,
        jobRunIds: [
          'job_a/2026-10-01T00:00:00Z',
          'job_a/2026-10-02T00:00:00Z',
          'job_b/2026-10-03T00:00:00Z',
        ],
      },
    }),
  };

  beforeAll(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)`,
    );
    const base = `http://127.0.0.1:${await freeLoopbackPort()}`;
    const policyDir = withTestJobs(
      [{ jobId: 'browser_purge', dangerous: { value: true, opKind: 'retention' } }],
      (p) => ({ ...p, approvals: { ...p.approvals, linkBaseUrl: base } }),
    );
    stack = await testStack({ policyDir });
    runtime = new LocalRuntime(stack.env, [purge], {
      onApprovalRequested: (r) => requests.push(r),
    });
    const started = await startApprovalServer(await approvalGate(runtime.deps)(), {
      idpDir: join(stack.home, 'idp'),
    });
    assert.ok(started);
    server = started;
    rmSync(ARTIFACTS, { recursive: true, force: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    userDataDir = mkdtempSync(join(tmpdir(), 'opsrail-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 390, height: 844 },
    });
  });
  afterAll(async () => {
    await context?.close();
    await server?.close();
    await stack?.stop();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  async function shot(page: Page, name: string, diagnostic: (m: string) => void) {
    const path = join(ARTIFACTS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    diagnostic(`screenshot ${path}`);
    console.log(`screenshot ${path}`);
  }

  /**
   * Every visible form control has a label; the page fits the viewport's width (no sideways
   * scroll).
   */
  async function checkLayout(page: Page) {
    // Evaluated in the page (a string: the project compiles without the DOM library).
    const unlabelled = (await page.evaluate(
      "[...document.querySelectorAll('input:not([type=hidden]), select, textarea')].filter((el) => !el.labels || el.labels.length === 0).map((el) => el.name)",
    )) as string[];
    assert.deepEqual(unlabelled, [], 'every field is labelled');
    assert.ok(
      await page.evaluate(
        'document.documentElement.scrollWidth <= document.documentElement.clientWidth',
      ),
      'no sideways scrolling',
    );
  }

  test('an approver opens the link on a phone, signs in, approves with the challenge; the run carries out the plan once', async () => {
    const diagnostic = (m: string) => console.log(m);
    const outcome = runtime.run({
      jobId: 'browser_purge',
      scheduledTime: '2026-11-01T00:00:00Z',
      trigger: 'manual',
      requestedBy: 'alice',
    });
    while (requests.length === 0) await new Promise((r) => setTimeout(r, 50));
    const { link, approvalId } = requests[0]!;
    const gate = await approvalGate(runtime.deps)();
    const challenge = (await gate.approvals.getApproval(approvalId))!.record.challenge;

    // 1. The link, not signed in: the plan as a table, who asked and when, the expiry; no way to decide yet.
    const page = await context.newPage();
    await page.goto(link);
    assert.equal(await page.locator('h1').innerText(), 'Approve retention of browser_purge?');
    const plan = page.locator('table').first();
    assert.equal(
      await plan.locator('tr', { hasText: 'cutoff' }).locator('td').innerText(),
      '2026-11-01T00:00:00Z',
    );
    assert.equal(await plan.locator('tr', { hasText: 'count' }).locator('td').innerText(), '3');
    assert.match(
      await plan.locator('tr', { hasText: 'jobRunIds' }).locator('td').innerText(),
      /^3 item\(s\)/,
    );
    const request = page.locator('table').nth(1);
    assert.equal(
      await request.locator('tr', { hasText: 'requested by' }).locator('td').innerText(),
      'alice',
    );
    assert.match(
      await request.locator('tr', { hasText: 'expires at' }).locator('td').innerText(),
      /^\d{4}-\d\d-\d\dT/,
    );
    assert.match(
      await request.locator('tr', { hasText: 'requested at' }).locator('td').innerText(),
      /^\d{4}-\d\d-\d\dT/,
    );
    assert.equal(await page.locator('form').count(), 0, 'no decision form before sign-in');
    await checkLayout(page);
    await shot(page, '1-link-signed-out-phone', diagnostic);
    await page.setViewportSize({ width: 1280, height: 900 });
    await shot(page, '2-link-signed-out-desktop', diagnostic);

    // 2. Sign in at the stand-in IdP: it lists the policy's names; none is chosen for you.
    await page.getByRole('link', { name: 'Sign in to decide' }).click();
    assert.equal(await page.locator('h1').innerText(), 'Sign in (local stand-in)');
    assert.equal(await page.locator('input[type=radio]:checked').count(), 0);
    await shot(page, '3-stand-in-idp', diagnostic);
    await page.getByLabel('bob').check();
    await page.getByRole('button', { name: 'Sign in' }).click();

    // 3. Back on the page, signed in: a labelled form with no decision pre-selected and the challenge to copy.
    await page.waitForURL((url) => url.pathname === `/approvals/${approvalId}`);
    assert.match(await page.locator('main').innerText(), /Signed in as bob/);
    assert.equal(
      await page.locator('input[name=decision]:checked').count(),
      0,
      'no decision is pre-selected',
    );
    assert.equal(
      await page.locator('code', { hasText: challenge }).count(),
      1,
      'the challenge is shown to copy',
    );
    await page.setViewportSize({ width: 390, height: 844 });
    await checkLayout(page);
    await shot(page, '4-signed-in-form-phone', diagnostic);
    assert.equal(purge.effects.length, 0, 'nothing has run: viewing and signing in decide nothing');

    // 4. Type the challenge and approve.
    await page.getByLabel('Approve: carry out the plan above').check();
    await page.getByLabel('Challenge (required to approve)').fill(challenge);
    await page.getByLabel('Reason (optional, recorded)').fill('counts checked');
    await page.getByRole('button', { name: 'Submit decision' }).click();
    assert.equal(await page.locator('h1').innerText(), 'Approved');
    assert.match(await page.locator('main').innerText(), /Decided by bob/);
    await shot(page, '5-approved', diagnostic);

    const done = await outcome;
    assert.equal(done.kind, 'completed');
    assert.deepEqual(purge.effects, ['browser_purge/2026-11-01T00:00:00Z']);
    const stored = (await gate.approvals.getApproval(approvalId))!;
    assert.deepEqual(
      [stored.record.status, stored.record.decidedBy, stored.record.reason],
      ['APPROVED', 'bob', 'counts checked'],
    );
    assert.deepEqual(
      stored.attempts.map((a) => [a.outcome, a.identity]),
      [
        ['viewed', null],
        ['viewed', 'bob'],
        ['approved', 'bob'],
      ],
    );
    assert.ok(
      stored.attempts.every((a) => a.userAgent?.includes('Chrome')),
      'the browser is recorded',
    );

    // 5. The used link, reloaded: already decided, no form.
    await page.goto(link);
    assert.match(await page.locator('main').innerText(), /Already approved by bob/);
    assert.equal(await page.locator('form').count(), 0);
  });
});
