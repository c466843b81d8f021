import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'vitest';
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { startS3Endpoint } from '../../local/s3-endpoint';
import { REPO_ROOT } from '../../local/stack';

const client = (endpoint: string) =>
  new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });

/** Every file under the directory, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the local S3 endpoint stores a PUT whole or not at all, as S3 does', () => {
  test('kill -9 of the endpoint in the middle of a PUT leaves no object; the write-once PUT then succeeds', async () => {
    // Prepare: an endpoint in its own process, a bucket, and a PUT whose body is half sent
    const dir = mkdtempSync(join(tmpdir(), 'opsrail-s3-atomic-'));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/support/s3-endpoint-child.ts', dir],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await until('the endpoint', () => output.includes('ENDPOINT '));
    const endpoint = /ENDPOINT (\S+)/.exec(output)![1]!;
    await client(endpoint).send(new CreateBucketCommand({ Bucket: 'evidence' }));
    const body = Buffer.alloc(1024 * 1024, 0x61);
    const url = new URL(`${endpoint}/evidence/run/replay_pointers.json`);
    const put = request(url, { method: 'PUT', headers: { 'content-length': body.length } });
    put.on('error', () => {}); // the endpoint dies under it
    put.write(body.subarray(0, body.length / 2));
    const written = () =>
      filesUnder(dir).some(
        (f) => f.includes('replay_pointers.json') && !f.endsWith('.json') && statSync(f).size > 0,
      );
    await until('part of the body on disk', written);

    // Act: kill -9 the endpoint, then start one on the same data
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    put.destroy();
    const restarted = await startS3Endpoint(dir);
    try {
      const s3 = client(restarted.endpoint);
      const read = () =>
        s3.send(new GetObjectCommand({ Bucket: 'evidence', Key: 'run/replay_pointers.json' }));

      // Assess: no truncated object; the write-once PUT of the whole body wins and reads back exactly
      await assert.rejects(read(), (error: Error) => error.name === 'NoSuchKey');
      await s3.send(
        new PutObjectCommand({
          Bucket: 'evidence',
          Key: 'run/replay_pointers.json',
          Body: body,
          IfNoneMatch: '*',
        }),
      );
      const stored = Buffer.from(await (await read()).Body!.transformToByteArray());
      assert.equal(stored.length, body.length);
      assert.ok(stored.equals(body));
    } finally {
      await restarted.stop();
    }
  });
});
