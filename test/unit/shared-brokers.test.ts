import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.(ts|sh|mjs|js)$/.test(entry.name) ? [path] : [];
  });
}

describe('the test suite and the brokers already running on the machine', () => {
  it('never stops or drives the shared RabbitMQ (rabbitmqctl): an outage is a relay the test cuts', () => {
    const offenders = [...sources(join(ROOT, 'test')), ...sources(join(ROOT, 'bench'))]
      .filter((file) => file !== fileURLToPath(import.meta.url))
      .filter((file) => /['"`]rabbitmqctl\b|\bstop_app\b|\bclose_connection\b/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(ROOT, file));
    expect(offenders).toEqual([]);
  });
});
