import { describe, expect, it } from 'vitest';
import { closeAction } from '../../../src/client/close-policy.js';
import { CloseCode } from '../../../src/protocol/close-codes.js';

describe('the close-code table as the client reads it', () => {
  it.each([
    [CloseCode.SessionClosed, 'stop'],
    [CloseCode.BadFrame, 'stop'],
    [CloseCode.FrameTooLarge, 'stop'],
    [CloseCode.UserInvalidated, 'stop'],
    [CloseCode.Replaced, 'stop'],
    [CloseCode.TokenExpired, 'renew-token'],
    [CloseCode.PodRestart, 'reconnect'],
    [CloseCode.SlowConsumer, 'reconnect'],
  ] as const)('%i → %s', (code, action) => {
    expect(closeAction(code)).toBe(action);
  });

  it.each([1001, 1006, 1011, 1013, 4000, 4100])('%i (not in the table: the link broke) → reconnect', (code) => {
    expect(closeAction(code)).toBe('reconnect');
  });
});
