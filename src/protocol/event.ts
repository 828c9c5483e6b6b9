import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

export const MAX_BATCH_EVENTS = 1000;
export const MAX_CONTENT_BYTES = 64 * 1024;
/** Containers inside `content` (a scalar is 0 deep, `{"a":[1]}` 2 deep). */
export const MAX_CONTENT_DEPTH = 64;
export const MAX_TARGET_USERS = 10_000;
export const MAX_ID_LENGTH = 128;
/**
 * An id (`sub`, `sid`, targets, path parameters): well-formed UTF-16 — a surrogate only as half
 * of a pair — and no control character (C0, DEL, C1). uWebSockets turns a topic into UTF-8, where
 * a lone surrogate becomes U+FFFD: "\ud800x" and "\ufffdx" would share a topic.
 */
export const ID_PATTERN = '^(?:[^\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff]|[\\ud800-\\udbff][\\udc00-\\udfff])*$';
export const ID_RULE = `1–${MAX_ID_LENGTH} characters of well-formed Unicode without control characters`;
export const TARGET_USERS_RULE = `targetUsers must hold 1–${MAX_TARGET_USERS} unique user ids of ${ID_RULE}`;
/** Same rule as the `sub` and `sid` claims, so every addressable id is a valid target. */
export const IdString = Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH, pattern: ID_PATTERN, errorMessage: `an id must be ${ID_RULE}` });
const idPattern = new RegExp(ID_PATTERN);

/** The one id rule, for ids that do not come through a schema (path parameters). */
export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && id.length >= 1 && id.length <= MAX_ID_LENGTH && idPattern.test(id);
}

/**
 * An event as a publisher sends it (HTTP body, embedded API, publisher client). A schema may
 * carry `errorMessage`: event-encoder.ts says it to publishers instead of typebox's generic text.
 */
export const PublishEvent = Type.Object(
  {
    type: Type.String({
      minLength: 1,
      maxLength: 128,
      pattern: '^(?!herald\\.)[A-Za-z0-9_.:-]+$',
      errorMessage: 'type must be 1–128 characters of [A-Za-z0-9_.:-] and must not start with "herald."',
    }),
    content: Type.Unknown(),
    // Uniqueness is checked by the encoder with a Set: typebox's `uniqueItems` hashes every id
    // through BigInt FNV-1a, ~18 ms for 10,000 targets (bench/RESULTS.md).
    targetUsers: Type.Array(IdString, {
      minItems: 1,
      maxItems: MAX_TARGET_USERS,
      errorMessage: TARGET_USERS_RULE,
    }),
    fromUserId: Type.Optional(Type.Union([IdString, Type.Null()], { errorMessage: `fromUserId must be null or ${ID_RULE}` })),
    fromSessionId: Type.Optional(Type.Union([IdString, Type.Null()], { errorMessage: `fromSessionId must be null or ${ID_RULE}` })),
    inclusive: Type.Optional(Type.Boolean()),
    id: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH, pattern: ID_PATTERN, errorMessage: `id must be ${ID_RULE}` })),
  },
  { additionalProperties: false },
);
export type PublishEvent = Static<typeof PublishEvent>;

export const PublishBody = Type.Union([
  PublishEvent,
  Type.Array(PublishEvent, { minItems: 1, maxItems: MAX_BATCH_EVENTS }),
]);

export const publishEventValidator = TypeCompiler.Compile(PublishEvent);
export const publishBatchValidator = TypeCompiler.Compile(
  Type.Array(PublishEvent, { minItems: 1, maxItems: MAX_BATCH_EVENTS }),
);
