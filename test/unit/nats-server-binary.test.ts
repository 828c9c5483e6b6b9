import { describe, expect, it } from 'vitest';
import { natsServerBinary, NatsServerMissingError } from '../e2e/harness/nats-server.js';

describe('finding nats-server for the NATS tests', () => {
  it('fails, not skips, with the command that installs it when the binary is nowhere', () => {
    const find = () => natsServerBinary({ PATH: '/nonexistent' }, []);
    expect(find).toThrow(NatsServerMissingError);
    expect(find).toThrow(/apt-get install nats-server/);
  });

  it('prefers NATS_SERVER_BIN when it names an executable', () => {
    expect(natsServerBinary({ NATS_SERVER_BIN: process.execPath, PATH: '' }, [])).toBe(process.execPath);
  });
});
