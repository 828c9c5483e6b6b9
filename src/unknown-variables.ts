/** A HERALD_* variable the gateway does not read, and the known name closest to it. */
export interface UnknownVariable {
  name: string;
  closest: string;
}

/**
 * The HERALD_* names in `env` that are not in `known`, each with the known name at the least
 * edit distance (a typo must not silently change the setup). Empty values count: a line
 * `HERALD_BUSS=` in an env file is as wrong as one with a value.
 */
export function findUnknownVariables(env: Record<string, string | undefined>, known: readonly string[]): UnknownVariable[] {
  const knownSet = new Set(known);
  return Object.keys(env)
    .filter((name) => name.startsWith('HERALD_') && env[name] !== undefined && !knownSet.has(name))
    .sort()
    .map((name) => ({ name, closest: closestName(name, known) }));
}

/** The candidate at the least Levenshtein distance from `name` (the first one on a tie). */
export function closestName(name: string, candidates: readonly string[]): string {
  let best = candidates[0] ?? '';
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = levenshtein(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Insertions, deletions and substitutions that turn `a` into `b`. */
export function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
