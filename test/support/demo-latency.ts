/**
 * The latency demonstration of issue 14 on the local stack (docs/latency-slo.md, docs/webhooks.md,
 * docs/exports.md): a fake endpoint that turns slow, three hours of endpoint_latency_monitor (a
 * warning, then a critical alert whose delivery fails and stays pending), `opsrail status`, a fourth
 * hour that recovers and delivers the pending alert, the weekly report to a fake webhook, and two
 * dataset exports. test/integration/latency-demo.test.ts asserts on what it returns; run by hand it
 * prints the artifacts:
 *
 *     npx tsx test/support/demo-latency.ts
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type ExportDataset,
  ExportManifestEntry,
  LatencyAlertPayload,
  WeeklyHealthPayload,
} from '../../contracts';
import { exportFileKey, exportManifestKey } from '../../functions/core/exports';
import { SIGNATURE_HEADER } from '../../functions/core/webhook-delivery';
import { type ExecutionOutcome, LocalRuntime } from '../../local/runtime';
import { startLocalStack } from '../../local/stack';
import { runOpsrail } from './cli';
import { documentedVerifier, FakeEndpoint, FakeWebhook } from './fake-http';
import { policyFixture } from './local';

export const DEMO_KEY = 'whsec-demo-latency-key';
const KEY_REF = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:demo-hook-AbCdEf';

/** One request the fake webhook received, with the documented verifier's verdicts. */
export interface Received {
  body: string;
  signature: string;
  /** The fake receiver's check (the documented snippet, at receipt). */
  signatureValid: boolean;
  /** The documented snippet run again on the captured request, and on its body altered by a byte. */
  verifier: { asReceived: boolean; bodyAltered: boolean };
}

export interface LatencyDemo {
  monitorRuns: { scheduledTime: string; outcome: ExecutionOutcome }[];
  /**
   * Every alert request, in order, with the run that sent it and the fake's answer: the critical one
   * refused twice, then delivered by the next hour's run.
   */
  alerts: (Received & { run: string; answered: number; payload: LatencyAlertPayload })[];
  /** `opsrail status` after the critical hour (its alert pending) and after the recovery. */
  statusWhilePending: { text: string; json: StatusJson };
  statusAfterRecovery: StatusJson;
  weekly: { outcome: ExecutionOutcome; received: (Received & { payload: WeeklyHealthPayload })[] };
  exports: {
    outcomes: ExecutionOutcome[];
    /** Per export run: its three manifest entries. */
    entries: Record<ExportDataset, ExportManifestEntry>[];
    /** The first export's latency_rollups JSON Lines. */
    latencyRollupsJsonl: string;
  };
}

export interface StatusJson {
  jobs: {
    jobId: string;
    heartbeat: { pendingAlerts: string[] };
    monitors: {
      jobRunId: string | null;
      stateKey: string | null;
      endpoints: {
        endpoint: string;
        lastSuccessAt: string | null;
        lastBreachAt: string | null;
        pendingAlerts: number;
        level: string | null;
        streak: number;
      }[];
    } | null;
  }[];
}

const verify = documentedVerifier();

function received(r: FakeWebhook['received'][number]): Received {
  const signature = String(r.headers[SIGNATURE_HEADER.toLowerCase()] ?? '');
  const t = Number(/t=(\d+)/.exec(signature)?.[1]);
  return {
    body: r.body,
    signature,
    signatureValid: r.signatureValid,
    verifier: {
      asReceived: verify(DEMO_KEY, signature, r.body, t),
      bodyAltered: verify(DEMO_KEY, signature, r.body.replace('"', "'"), t),
    },
  };
}

/** Runs the demonstration on a local stack of its own (its own home, DynamoDB Local, S3). */
export async function runLatencyDemo(): Promise<LatencyDemo> {
  const endpoint = new FakeEndpoint();
  const hook = new FakeWebhook(DEMO_KEY);
  await endpoint.start();
  await hook.start();
  const webhook = {
    url: hook.url,
    signingKey: { secret_ref: KEY_REF },
    delivery: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 },
  };
  const policyDir = policyFixture({
    'catalog.json': (catalog) => ({
      ...catalog,
      jobs: catalog.jobs.map((j: { jobId: string }) =>
        j.jobId === 'endpoint_latency_monitor'
          ? {
              ...j,
              schedule: { expression: 'rate(1 hour)' },
              window: { kind: 'tick', minutes: 60 },
              params: {
                endpoints: [
                  {
                    name: 'api',
                    url: `${endpoint.base}/api`,
                    timeoutMs: 2000,
                    p95ThresholdMs: 200,
                  },
                  {
                    name: 'web',
                    url: `${endpoint.base}/web`,
                    timeoutMs: 2000,
                    p95ThresholdMs: 1000,
                  },
                ],
                warningAfter: 2,
                criticalAfter: 3,
                webhook,
              },
            }
          : j.jobId === 'weekly_health_report'
            ? { ...j, params: { webhook } }
            : j,
      ),
    }),
    'local.json': (policy) => ({
      ...policy,
      jobs: {
        ...policy.jobs,
        endpoint_latency_monitor: { enabled: true },
        weekly_health_report: { enabled: true },
        dataset_export: { enabled: true },
      },
    }),
  });
  const home = mkdtempSync(join(tmpdir(), 'opsrail-latency-demo-'));
  // The owner of its home, as `npm start` is: the CLI commands below attach to it.
  const stack = await startLocalStack({ home, attach: false, policyDir });
  const cliEnv = { OPSRAIL_HOME: home, OPSRAIL_POLICY_DIR: policyDir };
  try {
    writeFileSync(
      stack.env.OPSRAIL_SECRETS_FILE as string,
      JSON.stringify({ [KEY_REF]: DEMO_KEY }),
    );
    const runtime = new LocalRuntime(stack.env);
    const run = (jobId: string, scheduledTime: string) =>
      runtime.run({ jobId, scheduledTime, trigger: 'manual' }, { retryPauseMs: 1 });
    const status = async (...args: string[]) => {
      const result = await runOpsrail(['status', ...args], cliEnv);
      if (result.code !== 0)
        throw new Error(`opsrail status exited ${result.code}: ${result.stderr}`);
      return result.stdout;
    };

    // Three slow hours of `api` on Wed 2026-11-25 (UTC); `web` stays fast. The critical alert's
    // webhook refuses both attempts: it stays pending.
    endpoint.scripts = {
      '/api': [{ delayMs: 400, status: 200 }],
      '/web': [{ delayMs: 0, status: 200 }],
    };
    const monitorRuns: LatencyDemo['monitorRuns'] = [];
    const alerts: LatencyDemo['alerts'] = [];
    const monitor = async (scheduledTime: string, answers: number[] = []) => {
      hook.reset(answers.map((status) => ({ status })));
      monitorRuns.push({
        scheduledTime,
        outcome: await run('endpoint_latency_monitor', scheduledTime),
      });
      hook.received.forEach((r, i) => {
        alerts.push({
          ...received(r),
          run: scheduledTime,
          answered: answers[i] ?? 200,
          payload: LatencyAlertPayload.parse(JSON.parse(r.body)),
        });
      });
    };
    await monitor('2026-11-25T09:00:00Z');
    await monitor('2026-11-25T10:00:00Z');
    await monitor('2026-11-25T11:00:00Z', [503, 503]);
    const [text, json] = await Promise.all([status(), status('--json')]);
    const statusWhilePending = { text, json: JSON.parse(json) as StatusJson };

    // The next hour `api` is fast again: its streak ends, and the pending alert is delivered.
    endpoint.scripts['/api'] = [{ delayMs: 0, status: 200 }];
    await monitor('2026-11-25T12:00:00Z');
    const statusAfterRecovery = JSON.parse(await status('--json')) as StatusJson;

    // The weekly report of that ISO week (Monday 01:00 in Tokyo), delivered signed.
    hook.reset();
    const weeklyOutcome = await run('weekly_health_report', '2026-11-29T16:00:00Z');
    const weekly = {
      outcome: weeklyOutcome,
      received: hook.received.map((r) => ({
        ...received(r),
        payload: WeeklyHealthPayload.parse(JSON.parse(r.body)),
      })),
    };

    // Two daily exports (00:20 in Tokyo): 2026-11-25 (Tokyo) holds the four monitored hours, the
    // next day none.
    const outcomes = [];
    for (const scheduledTime of ['2026-11-25T15:20:00Z', '2026-11-26T15:20:00Z'])
      outcomes.push(await run('dataset_export', scheduledTime));
    const evidence = runtime.deps.evidence;
    const entryOf = async (dataset: ExportDataset, n: number) => {
      const bytes = await evidence.getObject(exportManifestKey('local', dataset, n));
      if (!bytes) throw new Error(`no ${dataset} #${n}`);
      return ExportManifestEntry.parse(JSON.parse(new TextDecoder().decode(bytes)));
    };
    const entries = [];
    for (const n of [1, 2])
      entries.push({
        run_records: await entryOf('run_records', n),
        job_kpis: await entryOf('job_kpis', n),
        latency_rollups: await entryOf('latency_rollups', n),
      });
    const jsonl = await evidence.getObject(exportFileKey('local', 'latency_rollups', 1, 'jsonl'));
    return {
      monitorRuns,
      alerts,
      statusWhilePending,
      statusAfterRecovery,
      weekly,
      exports: {
        outcomes,
        entries,
        latencyRollupsJsonl: new TextDecoder().decode(jsonl),
      },
    };
  } finally {
    await stack.stop();
    await endpoint.stop();
    await hook.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const demo = await runLatencyDemo();
  const show = (title: string, value: unknown) =>
    console.log(
      `\n=== ${title}\n${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}`,
    );
  const check = (r: Received) =>
    `signatureValid=${r.signatureValid} documented verifier: as received ${r.verifier.asReceived}, body altered ${r.verifier.bodyAltered}`;
  show(
    'latency alert requests received by the fake webhook',
    demo.alerts
      .map(
        (a) =>
          `run ${a.run} -> ${a.payload.level} ${a.payload.endpoint} hour ${a.payload.at} streak ${a.payload.streak}, answered ${a.answered}; ${check(a)}`,
      )
      .join('\n'),
  );
  const critical = demo.alerts.find((a) => a.payload.level === 'critical');
  if (critical)
    show('the critical alert payload (as POSTed) and its signature header', {
      payload: critical.payload,
      [SIGNATURE_HEADER]: critical.signature,
    });
  show('opsrail status (the critical alert pending)', demo.statusWhilePending.text.trimEnd());
  show(
    'opsrail status --json: monitors of endpoint_latency_monitor after the recovery',
    demo.statusAfterRecovery.jobs.find((j) => j.monitors)?.monitors,
  );
  for (const w of demo.weekly.received)
    show(`weekly report delivery: ${check(w)}`, {
      payload: w.payload,
      [SIGNATURE_HEADER]: w.signature,
    });
  for (const [i, e] of demo.exports.entries.entries())
    show(`export run ${i + 1}: the latency_rollups manifest entry`, e.latency_rollups);
  show('export run 1: latency_rollups.jsonl', demo.exports.latencyRollupsJsonl.trimEnd());
  show(
    'both export runs: dataset, sequence, rows',
    demo.exports.entries
      .flatMap((e) =>
        Object.values(e).map(
          (x) =>
            `${x.dataset} #${x.sequence}: ${x.row_count} row(s), window ${x.provenance.inputs.window.start}`,
        ),
      )
      .join('\n'),
  );
}
