/** Where a resuming client left off: `since=<epoch>:<seq>` on the upgrade (§6). */
export interface Since {
  epoch: string;
  seq: number;
}

const EPOCH = /^[^:]{1,64}$/;
const SEQ = /^[0-9]{1,16}$/;

/** Reads `since`; undefined when absent, 'invalid' when unreadable (400 invalid_since). */
export function parseSince(value: string | null): Since | undefined | 'invalid' {
  if (value === null) return undefined;
  const colon = value.lastIndexOf(':');
  if (colon === -1) return 'invalid';
  const epoch = value.slice(0, colon);
  const digits = value.slice(colon + 1);
  if (!EPOCH.test(epoch) || !SEQ.test(digits)) return 'invalid';
  const seq = Number(digits);
  return Number.isSafeInteger(seq) ? { epoch, seq } : 'invalid';
}
