import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

export const MAX_BATCH_EVENTS = 1000;
export const MAX_CONTENT_BYTES = 64 * 1024;
/** Containers inside `content` (a scalar is 0 deep, `{"a":[1]}` 2 deep). */
export const MAX_CONTENT_DEPTH = 64;
export const MAX_TARGET_USERS = 10_000;
export const TARGET_USERS_RULE = `targetUsers must hold 1–${MAX_TARGET_USERS} unique user ids of 1–128 characters`;
/** Same limits as the `sub` and `sid` claims, so every addressable id is a valid target. */
export const IdString = Type.String({ minLength: 1, maxLength: 128 });

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
    fromUserId: Type.Optional(Type.Union([IdString, Type.Null()])),
    fromSessionId: Type.Optional(Type.Union([IdString, Type.Null()])),
    inclusive: Type.Optional(Type.Boolean()),
    id: Type.Optional(IdString),
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
