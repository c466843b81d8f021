/**
 * A local S3 endpoint in a process of its own, for a test to kill -9 (argv: its data directory).
 * Prints `ENDPOINT <url>` once it listens.
 */
import { startS3Endpoint } from '../../local/s3-endpoint';

const started = await startS3Endpoint(process.argv[2] as string);
process.stdout.write(`ENDPOINT ${started.endpoint}\n`);
