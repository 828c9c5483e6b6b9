/**
 * A misbehaving client: one socket that writes `herald.ping` frames as fast as TCP takes them,
 * reads and drops what comes back, and when the server closes it opens a new one at once and
 * floods again. Driven by `bench/client-flood.ts` over the worker protocol.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { FrameReader, Opcode } from '../lib/frame-reader.js';
import { signHs256 } from '../lib/hs256.js';
import { serveCommands } from '../lib/worker-side.js';

interface FloodCommand {
  port: number;
  jwtSecret: string;
  userId: string;
}

export interface FloodStats {
  /** Frames written to the kernel (not all of them read by the server before it closed). */
  framesWritten: number;
  /** Sockets opened (the first one and every reconnect). */
  sockets: number;
  /** Server closes by code. */
  closes: Record<string, number>;
}

const stats: FloodStats = { framesWritten: 0, sockets: 0, closes: {} };
let running = false;

/** `count` masked client text frames of `{"type":"herald.ping"}` back to back. */
function pingFrames(count: number): Buffer {
  const payload = Buffer.from('{"type":"herald.ping"}');
  const one = Buffer.alloc(2 + 4 + payload.length);
  one[0] = 0x81;
  one[1] = 0x80 | payload.length;
  const mask = randomBytes(4);
  mask.copy(one, 2);
  for (let i = 0; i < payload.length; i++) one[6 + i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat(Array.from({ length: count }, () => one));
}

const FRAMES_PER_CHUNK = 512;
const CHUNK = pingFrames(FRAMES_PER_CHUNK);

function floodOnce(command: FloodCommand, token: string): Promise<void> {
  return new Promise((resolve) => {
    stats.sockets++;
    const tcp = net.connect({ host: '127.0.0.1', port: command.port });
    tcp.setNoDelay(true);
    let upgraded = false;
    let handshake = '';
    const reader = new FrameReader(
      (opcode) => opcode === Opcode.Close,
      (opcode, _fin, _length, payload) => {
        if (opcode !== Opcode.Close) return;
        const code = payload && payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        stats.closes[code] = (stats.closes[code] ?? 0) + 1;
        tcp.destroy();
      },
    );
    const pump = () => {
      while (running && upgraded && !tcp.destroyed) {
        stats.framesWritten += FRAMES_PER_CHUNK;
        if (!tcp.write(CHUNK)) return;
      }
    };
    tcp.on('drain', pump);
    tcp.on('connect', () => {
      tcp.write(
        `GET /ws?access_token=${token} HTTP/1.1\r\nHost: 127.0.0.1:${command.port}\r\nUpgrade: websocket\r\n` +
          'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    tcp.on('data', (chunk: Buffer) => {
      if (upgraded) {
        reader.push(chunk);
        return;
      }
      handshake += chunk.toString('latin1');
      const end = handshake.indexOf('\r\n\r\n');
      if (end === -1) return;
      if (!handshake.startsWith('HTTP/1.1 101')) {
        tcp.destroy();
        return;
      }
      upgraded = true;
      const rest = Buffer.from(handshake.slice(end + 4), 'latin1');
      if (rest.length > 0) reader.push(rest);
      pump();
    });
    tcp.on('error', () => {});
    tcp.on('close', () => resolve());
  });
}

async function flood(command: FloodCommand): Promise<void> {
  running = true;
  const now = Math.floor(Date.now() / 1000);
  const token = signHs256({ sub: command.userId, sid: `${command.userId}-flood`, iat: now, exp: now + 3600 }, command.jwtSecret);
  while (running) await floodOnce(command, token);
}

serveCommands(async (command) => {
  switch (command.cmd) {
    case 'flood':
      void flood(command as unknown as FloodCommand);
      return null;
    case 'stop':
      running = false;
      return stats;
    case 'stats':
      return stats;
    default:
      throw new Error(`unknown command ${command.cmd}`);
  }
});
