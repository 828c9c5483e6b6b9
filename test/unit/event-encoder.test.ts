import { DefaultErrorFunction, SetErrorFunction } from '@sinclair/typebox/errors';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBusMessage, MessageKind, type EventHeader } from '../../src/protocol/bus-format.js';
import { encodeEvents } from '../../src/protocol/event-encoder.js';
import { MAX_BATCH_EVENTS, MAX_CONTENT_BYTES, PublishEvent, TARGET_USERS_RULE } from '../../src/protocol/event.js';
import { InvalidEventError, type EventProblem } from '../../src/protocol/validation-error.js';

const NOW = 1_732_300_000_000;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TYPE_RULE = (PublishEvent.properties.type as { errorMessage?: string }).errorMessage;

const event = (overrides: Record<string, unknown> = {}) => ({
  type: 'ITEM_CREATED',
  content: { item: { id: 7 } },
  targetUsers: ['u1', 'u2'],
  ...overrides,
});

function decodeEvent(message: Uint8Array): { header: EventHeader; frame: Uint8Array; frameJson: Record<string, unknown> } {
  const decoded = decodeBusMessage(message);
  if (decoded.kind !== MessageKind.Event) throw new Error(`kind ${decoded.kind}`);
  return {
    header: decoded.header,
    // Bytes off the wire: encodeEvents' messages are what a broker carries.
    frame: decoded.frame as Uint8Array,
    frameJson: JSON.parse(new TextDecoder().decode(decoded.frame as Uint8Array)) as Record<string, unknown>,
  };
}

/** The problems encodeEvents reports; fails the test when it does not throw InvalidEventError. */
function problemsOf(body: unknown): EventProblem[] {
  try {
    encodeEvents(body, NOW);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidEventError);
    return (error as InvalidEventError).details;
  }
  throw new Error('encodeEvents accepted the body');
}

beforeAll(() => {
  // The schema's own errorMessage must reach publishers without any process-wide error function.
  SetErrorFunction(DefaultErrorFunction);
});

describe('event encoder', () => {
  it('turns one event into one bus message whose frame is exactly {type,id,content,fromUserId,ts}', () => {
    const { ids, messages } = encodeEvents(
      event({ id: 'evt-1', fromUserId: 'u1', fromSessionId: 's1', inclusive: true }),
      NOW,
    );
    expect(ids).toEqual(['evt-1']);
    expect(messages).toHaveLength(1);
    const { frameJson } = decodeEvent(messages[0]!);
    expect(frameJson).toEqual({ type: 'ITEM_CREATED', id: 'evt-1', content: { item: { id: 7 } }, fromUserId: 'u1', ts: NOW });
    expect(Object.keys(frameJson)).toEqual(['type', 'id', 'content', 'fromUserId', 'ts']);
  });

  it('keeps targetUsers, fromSessionId and inclusive out of the frame and in the routing header', () => {
    const { messages } = encodeEvents(event({ fromUserId: 'u1', fromSessionId: 's1', inclusive: true }), NOW);
    const { header, frameJson } = decodeEvent(messages[0]!);
    expect(header).toEqual({ targetUsers: ['u1', 'u2'], fromSessionId: 's1', inclusive: true, emittedAt: NOW });
    for (const hidden of ['targetUsers', 'fromSessionId', 'inclusive']) expect(frameJson).not.toHaveProperty(hidden);
  });

  it('defaults inclusive to false, fromSessionId and fromUserId to null', () => {
    const { messages } = encodeEvents(event(), NOW);
    const { header, frameJson } = decodeEvent(messages[0]!);
    expect(header).toEqual({ targetUsers: ['u1', 'u2'], fromSessionId: null, inclusive: false, emittedAt: NOW });
    expect(frameJson.fromUserId).toBeNull();
  });

  it('serializes the frame once: the message payload is the frame bytes, content serialized a single time', () => {
    let serializations = 0;
    const content = {
      toJSON() {
        serializations++;
        return { text: 'héllo ✓' };
      },
    };
    const { messages } = encodeEvents(event({ id: 'evt-1', content }), NOW);
    expect(serializations).toBe(1);
    const expectedFrame = `{"type":"ITEM_CREATED","id":"evt-1","content":{"text":"héllo ✓"},"fromUserId":null,"ts":${NOW}}`;
    const { frame } = decodeEvent(messages[0]!);
    expect(Buffer.from(frame).equals(Buffer.from(expectedFrame, 'utf8'))).toBe(true);
    // The frame is the message's tail: a pod forwards these bytes without touching them.
    const message = messages[0]!;
    expect(Buffer.from(message.subarray(message.length - frame.length)).equals(Buffer.from(expectedFrame, 'utf8'))).toBe(true);
  });

  it('keeps an id the publisher gave', () => {
    expect(encodeEvents(event({ id: 'my-own-id' }), NOW).ids).toEqual(['my-own-id']);
  });

  it('makes a UUIDv7 id when none is given, and increasing ids across a batch', () => {
    const { ids, messages } = encodeEvents(Array.from({ length: 200 }, () => event()), NOW);
    expect(ids).toHaveLength(200);
    for (const id of ids) expect(id).toMatch(UUID_V7);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!, `${ids[i - 1]} < ${ids[i]}`).toBe(true);
    expect(messages.map((m) => decodeEvent(m).frameJson.id)).toEqual(ids);
  });

  it('keeps the order of a batch in its ids and its messages', () => {
    const { ids, messages } = encodeEvents(
      [event({ type: 'A', id: 'a' }), event({ type: 'B' }), event({ type: 'C', id: 'c', content: [3] })],
      NOW,
    );
    expect(ids[0]).toBe('a');
    expect(ids[2]).toBe('c');
    expect(messages.map((m) => decodeEvent(m).frameJson.type)).toEqual(['A', 'B', 'C']);
    expect(messages.map((m) => decodeEvent(m).frameJson.id)).toEqual(ids);
  });

  it('refuses a whole batch with one invalid event, with details pointing into that event', () => {
    const details = problemsOf([event(), event({ targetUsers: [] }), event()]);
    expect(details).toEqual([{ path: '/1/targetUsers', message: TARGET_USERS_RULE }]);
  });

  it('refuses a whole batch when one event has a problem only the encoder sees (content)', () => {
    const details = problemsOf([event(), event(), event({ content: 10n })]);
    expect(details).toEqual([{ path: '/2/content', message: 'content is not JSON-serializable' }]);
  });

  it('refuses duplicate targetUsers at /targetUsers with the rule text', () => {
    expect(problemsOf(event({ targetUsers: ['u1', 'u2', 'u1'] }))).toEqual([
      { path: '/targetUsers', message: TARGET_USERS_RULE },
    ]);
  });

  it('refuses a type starting with herald. with the schema message, not typebox generic text', () => {
    expect(TYPE_RULE).toMatch(/herald\./);
    expect(problemsOf(event({ type: 'herald.welcome' }))).toEqual([{ path: '/type', message: TYPE_RULE }]);
  });

  it('refuses a type with characters outside [A-Za-z0-9_.:-] or over 128 characters', () => {
    expect(problemsOf(event({ type: 'ITEM CREATED' }))).toEqual([{ path: '/type', message: TYPE_RULE }]);
    expect(problemsOf(event({ type: 'A'.repeat(129) }))).toEqual([{ path: '/type', message: TYPE_RULE }]);
    expect(encodeEvents(event({ type: 'a.B_c:d-9' + 'x'.repeat(119) }), NOW).ids).toHaveLength(1);
  });

  it('refuses content over 64 KiB serialized, counting multi-byte characters in bytes', () => {
    // 'é' is 2 bytes: the serialized string is 65,538 bytes but only 32,770 UTF-16 units.
    const content = 'é'.repeat(MAX_CONTENT_BYTES / 2);
    expect(problemsOf(event({ content }))).toEqual([
      { path: '/content', message: `content is over ${MAX_CONTENT_BYTES} bytes serialized` },
    ]);
  });

  it('accepts content of exactly 64 KiB serialized', () => {
    const content = 'é'.repeat(MAX_CONTENT_BYTES / 2 - 1); // plus 2 quotes: 65,536 bytes
    expect(Buffer.byteLength(JSON.stringify(content))).toBe(MAX_CONTENT_BYTES);
    expect(encodeEvents(event({ content }), NOW).messages).toHaveLength(1);
  });

  it('refuses content that cannot be serialized (a BigInt) at /content', () => {
    for (const content of [12n, { nested: [1n] }]) {
      expect(problemsOf(event({ content }))).toEqual([{ path: '/content', message: 'content is not JSON-serializable' }]);
    }
  });

  it('refuses a cycle at /content as too deep, before trying to serialize it', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(problemsOf(event({ content: cycle }))).toEqual([{ path: '/content', message: 'content must be nested at most 64 deep' }]);
  });

  it('refuses a batch of more than 1000 events', () => {
    const details = problemsOf(Array.from({ length: MAX_BATCH_EVENTS + 1 }, () => event()));
    expect(details).toHaveLength(1);
    expect(details[0]!.path).toBe('');
    expect(details[0]!.message).toMatch(/1000/);
  });

  it('accepts a batch of exactly 1000 events', () => {
    expect(encodeEvents(Array.from({ length: MAX_BATCH_EVENTS }, () => event()), NOW).messages).toHaveLength(MAX_BATCH_EVENTS);
  });

  it('refuses an empty batch', () => {
    expect(problemsOf([])).toHaveLength(1);
  });

  it('refuses an unknown property at its path', () => {
    expect(problemsOf(event({ includeCurrentSession: true }))).toEqual([
      { path: '/includeCurrentSession', message: expect.any(String) },
    ]);
  });

  it('refuses a body that is not an event', () => {
    for (const body of [null, 'ITEM_CREATED', 42]) {
      const details = problemsOf(body);
      expect(details.length).toBeGreaterThan(0);
    }
  });

  it('reports at most 20 problems for a batch of bad events', () => {
    const details = problemsOf(Array.from({ length: 50 }, () => event({ type: 'herald.bad' })));
    expect(details).toHaveLength(20);
    expect(details[0]).toEqual({ path: '/0/type', message: TYPE_RULE });
  });
});
