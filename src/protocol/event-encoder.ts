import type { TypeCheck } from '@sinclair/typebox/compiler';
import { uuidv7 } from 'uuidv7';
import { encodeEventMessage } from './bus-format.js';
import {
  MAX_CONTENT_BYTES,
  MAX_CONTENT_DEPTH,
  TARGET_USERS_RULE,
  publishBatchValidator,
  publishEventValidator,
  type PublishEvent,
} from './event.js';
import { InvalidEventError, type EventProblem } from './validation-error.js';

const MAX_REPORTED_PROBLEMS = 20;
const encoder = new TextEncoder();

export interface EncodedEvents {
  /** The event ids, in request order (given, or made here as UUIDv7). */
  ids: string[];
  /** One bus message per event, in request order. */
  messages: Uint8Array[];
}

/**
 * Validates one event or a batch and turns each into its bus message: the client frame is
 * serialized here, once, and every pod forwards its bytes. All or nothing: throws
 * InvalidEventError with every problem found (JSON pointers into `body`) and encodes nothing.
 */
export function encodeEvents(body: unknown, now = Date.now()): EncodedEvents {
  const isBatch = Array.isArray(body);
  const events = (isBatch ? body : [body]) as PublishEvent[];
  const validator: TypeCheck<any> = isBatch ? publishBatchValidator : publishEventValidator;
  if (!validator.Check(body)) throw new InvalidEventError(collectProblems(validator, body));

  const problems: EventProblem[] = [];
  const contents: string[] = [];
  events.forEach((event, index) => {
    const targets = event.targetUsers;
    if (targets.length > 1 && new Set(targets).size !== targets.length) {
      problems.push({ path: isBatch ? `/${index}/targetUsers` : '/targetUsers', message: TARGET_USERS_RULE });
    }
    const at = isBatch ? `/${index}/content` : '/content';
    // Checked before serializing: JSON.stringify of a deep value is slow, and drops what is not finite.
    const shape = contentProblem(event.content, 0);
    if (shape !== undefined) {
      problems.push(shape === TOO_DEEP ? { path: at, message: TOO_DEEP_MESSAGE } : { path: at + shape.path, message: NOT_FINITE_MESSAGE });
      contents.push('null');
      return;
    }
    const json = serializeContent(event.content);
    if (json === undefined) problems.push({ path: at, message: 'content is not JSON-serializable' });
    else if (json.length > MAX_CONTENT_BYTES / 3 && encoder.encode(json).length > MAX_CONTENT_BYTES)
      problems.push({ path: at, message: `content is over ${MAX_CONTENT_BYTES} bytes serialized` });
    contents.push(json ?? 'null');
  });
  if (problems.length > 0) throw new InvalidEventError(problems);

  const ids: string[] = [];
  const messages: Uint8Array[] = [];
  events.forEach((event, index) => {
    const id = event.id ?? uuidv7();
    const fromUserId = event.fromUserId ?? null;
    const frame =
      `{"type":${JSON.stringify(event.type)},"id":${JSON.stringify(id)},"content":${contents[index]},` +
      `"fromUserId":${fromUserId === null ? 'null' : JSON.stringify(fromUserId)},"ts":${now}}`;
    ids.push(id);
    messages.push(
      encodeEventMessage(
        {
          targetUsers: event.targetUsers,
          fromSessionId: event.fromSessionId ?? null,
          inclusive: event.inclusive ?? false,
          emittedAt: now,
        },
        frame,
      ),
    );
  });
  return { ids, messages };
}

const TOO_DEEP = { path: '' };
const TOO_DEEP_MESSAGE = `content must be nested at most ${MAX_CONTENT_DEPTH} deep`;
const NOT_FINITE_MESSAGE = 'numbers in content must be finite (JSON has no NaN or Infinity)';

/**
 * The first reason `value` (nested `depth` deep) cannot be content: TOO_DEEP, or the JSON
 * pointer (below the content) of a number that is not finite. Stops at MAX_CONTENT_DEPTH, so
 * a value of any depth costs at most its first 64 levels.
 */
function contentProblem(value: unknown, depth: number): { path: string } | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : { path: '' };
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth === MAX_CONTENT_DEPTH) return TOO_DEEP;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = contentProblem(value[i], depth + 1);
      if (problem !== undefined) return problem === TOO_DEEP ? problem : { path: `/${i}${problem.path}` };
    }
    return undefined;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const problem = contentProblem((value as Record<string, unknown>)[key], depth + 1);
    if (problem !== undefined) return problem === TOO_DEEP ? problem : { path: `/${pointerSegment(key)}${problem.path}` };
  }
  return undefined;
}

function pointerSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function serializeContent(content: unknown): string | undefined {
  try {
    return JSON.stringify(content);
  } catch {
    return undefined;
  }
}

function collectProblems(validator: TypeCheck<any>, body: unknown): EventProblem[] {
  const problems: EventProblem[] = [];
  const seen = new Set<string>();
  for (const error of validator.Errors(body)) {
    // A union reports each branch; the deepest, first error per path is the useful one.
    const message = (error.schema as { errorMessage?: string }).errorMessage ?? error.message;
    const key = `${error.path}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push({ path: error.path, message });
    if (problems.length >= MAX_REPORTED_PROBLEMS) break;
  }
  return problems.length > 0 ? problems : [{ path: '', message: 'invalid event' }];
}
