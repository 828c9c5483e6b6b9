import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './harness/manifests.js';

type Version = [number, number, number];

function parse(version: string): Version {
  const [major = 0, minor = 0, patch = 0] = version
    .replace(/^v/, '')
    .split('.')
    .map((part) => (/^\d+$/.test(part) ? Number(part) : 0));
  return [major, minor, patch];
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** The npm range forms the lockfile's engines use: `>=18`, `>= 18.x`, `^16 || >=20`, `>=6.14.2`. */
function satisfies(version: string, range: string): boolean {
  const v = parse(version);
  return range.split('||').some((set) =>
    set
      .trim()
      .replace(/(>=|<=|>|<|\^|~|=)\s+/g, '$1')
      .split(/\s+/)
      .every((comparator) => {
        const [, op = '', bound = ''] = /^(>=|<=|>|<|\^|~|=)?(.+)$/.exec(comparator) ?? [];
        const b = parse(bound);
        const c = compare(v, b);
        if (op === '>=') return c >= 0;
        if (op === '>') return c > 0;
        if (op === '<=') return c <= 0;
        if (op === '<') return c < 0;
        if (op === '^') return c >= 0 && v[0] === b[0];
        if (op === '~') return c >= 0 && v[0] === b[0] && v[1] === b[1];
        return c === 0 || (bound.endsWith('.x') && v[0] === b[0]);
      }),
  );
}

describe('Node versions', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; dev?: boolean; engines?: { node?: string } }>;
  };

  it('reads the range forms the lockfile uses', () => {
    expect(satisfies('20.0.0', '>= 18.x')).toBe(true);
    expect(satisfies('20.0.0', '>= 22.x')).toBe(false);
    expect(satisfies('20.0.0', '^16 || ^18 || >=20')).toBe(true);
    expect(satisfies('19.9.0', '^16 || ^18 || >=20')).toBe(false);
    expect(satisfies('20.0.0', '>=6.14.2')).toBe(true);
  });

  it('every runtime dependency accepts the oldest Node that package.json (and the README) claims: no EBADENGINE on install', () => {
    const oldest = /^>=\s*(\d+)$/.exec(pkg.engines.node)?.[1];
    expect(oldest, `engines.node ${pkg.engines.node} names its oldest Node`).toBeDefined();
    const refused = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && !p.dev && p.engines?.node && !satisfies(`${oldest}.0.0`, p.engines.node))
      .map(([path, p]) => `${path.replace(/^.*node_modules\//, '')}@${p.version} wants node ${p.engines!.node}`);
    expect(refused).toEqual([]);
  });
});
