import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { freePort } from '../e2e/harness/free-port.js';
import { ROOT } from './harness/manifests.js';

const run = promisify(execFile);
const SCRIPT = 'scripts/system-deps.sh';

async function check(env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run('bash', [SCRIPT, 'check'], { cwd: ROOT, env: { ...process.env, ...env } });
    return { code: 0, stderr };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
}

describe('what npm test needs besides Node.js, on a fresh machine', () => {
  it('npm test checks it first (pretest) with the script CI installs it with', () => {
    const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
    expect(scripts.pretest).toMatch(new RegExp(`^bash ${SCRIPT} check && `));
    expect(readFileSync(join(ROOT, '.ci/run'), 'utf8')).toMatch(new RegExp(`^bash ${SCRIPT} install$`, 'm'));
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`sudo ${SCRIPT} install`);
    expect(readme).not.toMatch(/needs only Node\.js/i);
  });

  it('passes on this machine, and names a RabbitMQ that does not answer with what to do', async () => {
    expect(await check()).toEqual({ code: 0, stderr: '' });
    const port = await freePort();
    const missing = await check({ HERALD_AMQP_URL: `amqp://guest:guest@127.0.0.1:${port}` });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`npm test needs a RabbitMQ >= 3.9 at 127.0.0.1:${port} (HERALD_AMQP_URL)`);
    expect(missing.stderr).toContain('apt-get install rabbitmq-server');
  });
});
