// What the tests of the real AWS SDK and CLI against the stand-ins share: an
// environment with static test credentials and no config files or IMDS, a
// guard that refuses any request not addressed to 127.0.0.1, and the AWS CLI
// run with the same isolation (absent → the callers skip, with the reason).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CREDENTIALS } from './fixture.js';

const run = promisify(execFile);

/** Env for the SDK: static test credentials, no config files (under `scratch`), no IMDS. */
export function isolatedSdkEnv(scratch: string): void {
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_CONFIG_FILE: join(scratch, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS;
}

interface WithMiddleware {
  readonly middlewareStack: { add(mw: (next: (args: { request: unknown }) => Promise<unknown>) => (args: { request: unknown }) => Promise<unknown>, options: { step: 'finalizeRequest'; name: string }): void };
}

/** Refuses, before it leaves, any request not addressed to 127.0.0.1 (should the SDK ignore the env, nothing reaches AWS). */
export function localOnly<C>(client: C): C {
  (client as unknown as WithMiddleware).middlewareStack.add(
    (next) => async (args) => {
      const host = (args.request as { hostname?: string }).hostname;
      if (host !== '127.0.0.1') throw new Error(`test guard: the SDK addressed ${host ?? '?'} instead of the stand-in`);
      return next(args);
    },
    { step: 'finalizeRequest', name: 'localOnlyGuard' },
  );
  return client;
}

/** `aws --version`, or undefined when the CLI is not installed. */
export async function awsCliVersion(): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run('aws', ['--version'], { timeout: 30_000 });
    return (stdout || stderr).trim();
  } catch {
    return undefined;
  }
}

/** Runs `aws <service> <args…>` against `endpoint`, isolated as the SDK tests are; never throws. */
export function awsCli(service: string, endpoint: () => string, region: string, scratch: () => string) {
  return async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run('aws', [service, ...args, '--endpoint-url', endpoint(), '--region', region, '--output', 'json'], {
        timeout: 60_000,
        env: {
          PATH: process.env.PATH,
          HOME: scratch(),
          AWS_ACCESS_KEY_ID: 'AKIDCLITEST000000000',
          AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
          AWS_CONFIG_FILE: join(scratch(), 'no-config'),
          AWS_SHARED_CREDENTIALS_FILE: join(scratch(), 'no-credentials'),
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_MAX_ATTEMPTS: '1',
          AWS_PAGER: '',
        },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
}
