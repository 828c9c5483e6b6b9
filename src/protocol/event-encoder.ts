import type { TypeCheck } from '@sinclair/typebox/compiler';
import { outgoingBytes, outgoingEvent, type OutgoingMessage } from './bus-format.js';
import { eventId } from './event-id.js';
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
  /** One bus message per event (bus format, docs/bus-format.md), in request order. */
  messages: Uint8Array[];
}

export interface PreparedEvents {
  /** The event ids, in request order (given, or made here as UUIDv7). */
  ids: string[];
  /** One outgoing bus message per event, in request order. */
  messages: OutgoingMessage[];
}

/**
 * Validates one event or a batch and turns each into its bus message bytes, for a service that
 * publishes them itself. All or nothing, as `prepareEvents`.
 */
export function encodeEvents(body: unknown, now = Date.now()): EncodedEvents {
  const { ids, messages } = prepareEvents(body, now);
  return { ids, messages: messages.map(outgoingBytes) };
}

/**
 * Validates one event or a batch and turns each into an outgoing bus message: the client frame
 * is serialized here, once, and every pod forwards it. All or nothing: throws
 * InvalidEventError with every problem found (JSON pointers into `body`) and prepares nothing.
 */
export function prepareEvents(body: unknown, now = Date.now()): PreparedEvents {
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
    const shape = contentProblem(event.content, 0, { bytes: 0 });
    if (shape !== undefined) {
      problems.push(
        shape === TOO_DEEP
          ? { path: at, message: TOO_DEEP_MESSAGE }
          : shape === TOO_LARGE
            ? { path: at, message: TOO_LARGE_MESSAGE }
            : { path: at + shape.path, message: NOT_FINITE_MESSAGE },
      );
      contents.push('null');
      return;
    }
    const json = serializeContent(event.content);
    if (json === undefined) problems.push({ path: at, message: 'content is not JSON-serializable' });
    else if (json.length > MAX_CONTENT_BYTES / 3 && encoder.encode(json).length > MAX_CONTENT_BYTES)
      problems.push({ path: at, message: TOO_LARGE_MESSAGE });
    contents.push(json ?? 'null');
  });
  if (problems.length > 0) throw new InvalidEventError(problems);

  const ids: string[] = [];
  const messages: OutgoingMessage[] = [];
  events.forEach((event, index) => {
    const id = event.id ?? eventId(now);
    const fromUserId = event.fromUserId ?? null;
    // Without its closing brace: a pod appends the event's `seq` to it (§6).
    const frameOpen =
      `{"type":${JSON.stringify(event.type)},"id":${JSON.stringify(id)},"content":${contents[index]},` +
      `"fromUserId":${fromUserId === null ? 'null' : JSON.stringify(fromUserId)},"ts":${now}`;
    ids.push(id);
    messages.push(
      outgoingEvent(
        {
          targetUsers: event.targetUsers,
          fromSessionId: event.fromSessionId ?? null,
          inclusive: event.inclusive ?? false,
          emittedAt: now,
        },
        frameOpen,
      ),
    );
  });
  return { ids, messages };
}

const TOO_DEEP = { path: '' };
const TOO_LARGE = { path: '' };
const TOO_DEEP_MESSAGE = `content must be nested at most ${MAX_CONTENT_DEPTH} deep`;
const TOO_LARGE_MESSAGE = `content is over ${MAX_CONTENT_BYTES} bytes serialized`;
const NOT_FINITE_MESSAGE = 'numbers in content must be finite (JSON has no NaN or Infinity)';

/**
 * The first reason `value` (nested `depth` deep) cannot be content: TOO_DEEP, TOO_LARGE, or the
 * JSON pointer (below the content) of a number that is not finite. `seen.bytes` adds up a lower
 * bound of the serialized size as it goes, so the walk stops after MAX_CONTENT_DEPTH levels or
 * MAX_CONTENT_BYTES of content, whatever the value's size: JSON.stringify never sees a value
 * that is certain to be refused.
 */
function contentProblem(value: unknown, depth: number, seen: { bytes: number }): { path: string } | undefined {
  switch (typeof value) {
    case 'number':
      seen.bytes += 1;
      return Number.isFinite(value) ? undefined : { path: '' };
    case 'string':
      // UTF-8 takes at least a byte per UTF-16 code unit.
      seen.bytes += value.length + 2;
      return seen.bytes > MAX_CONTENT_BYTES ? TOO_LARGE : undefined;
    case 'boolean':
      seen.bytes += 4;
      return undefined;
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null) {
    seen.bytes += 4;
    return undefined;
  }
  // toJSON (a Date, a class) replaces the value when serialized: JSON.stringify decides.
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return undefined;
  if (depth === MAX_CONTENT_DEPTH) return TOO_DEEP;
  if (Array.isArray(value)) {
    // The brackets and the commas between n elements: n + 1.
    seen.bytes += 1 + value.length;
    if (seen.bytes > MAX_CONTENT_BYTES) return TOO_LARGE;
    for (let i = 0; i < value.length; i++) {
      const problem = contentProblem(value[i], depth + 1, seen);
      if (problem !== undefined) return problem === TOO_DEEP || problem === TOO_LARGE ? problem : { path: `/${i}${problem.path}` };
    }
    return seen.bytes > MAX_CONTENT_BYTES ? TOO_LARGE : undefined;
  }
  // The braces count 1, not 2: each member below counts a comma, one more than there are.
  seen.bytes += 1;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const member = (value as Record<string, unknown>)[key];
    if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
    seen.bytes += key.length + 4;
    if (seen.bytes > MAX_CONTENT_BYTES) return TOO_LARGE;
    const problem = contentProblem(member, depth + 1, seen);
    if (problem !== undefined) {
      return problem === TOO_DEEP || problem === TOO_LARGE ? problem : { path: `/${pointerSegment(key)}${problem.path}` };
    }
  }
  return seen.bytes > MAX_CONTENT_BYTES ? TOO_LARGE : undefined;
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
