import { ConfigurationError } from '../functions/core/errors';
import type { StackFile } from './home-lock';

/*
 * The local stack's own errors, in one module. They are not in functions/core/errors.ts because no
 * opsrail step throws them (the ASL's error names they carry are Lambda's own, emulated locally) and some carry local-only types
 * (the stack file): core must not import local code. An error the local stack shares with the steps
 * (ConfigurationError) is imported from core, never redefined here.
 */

/** DynamoDB Local cannot start without a Java runtime. */
export class JavaMissingError extends Error {
  override name = 'JavaMissingError';
}

/**
 * A failure Lambda itself reports for an invocation (its name is the error name Step Functions
 * sees).
 */
export class LambdaInvocationError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export class HomeInUseError extends Error {
  override name = 'HomeInUseError';
  constructor(
    readonly home: string,
    readonly holder: StackFile['owner'],
  ) {
    super(
      `OPSRAIL_HOME ${home} is in use by pid ${holder.pid} (opsrail ${holder.command}, started ` +
        `${new Date(holder.startedAtMs).toISOString()}); one npm start per OPSRAIL_HOME: stop that ` +
        'one first, or set OPSRAIL_HOME to another directory',
    );
  }
}

/** The approval page's address is taken: approval links would point at whatever holds it. */
export class ApprovalPortInUseError extends ConfigurationError {
  override name = 'ApprovalPortInUseError';
  readonly address: string;
  constructor(host: string, port: number, cause: NodeJS.ErrnoException) {
    super(
      `cannot serve the approval page on ${host}:${port}: ${cause.code === 'EACCES' ? 'not allowed' : 'the port is already in use'} (another opsrail start, a run waiting at the gate, or another program); stop it, or point approvals.linkBaseUrl of the local policy at a free port`,
      { cause },
    );
    this.address = `${host}:${port}`;
  }
}
