import type { RevocationStore } from '../auth/revocation-store.js';
import { Revocations } from '../auth/revocations.js';
import { TokenVerifier } from '../auth/token-verifier.js';
import { createVerificationKey, type VerificationKey } from '../auth/verification-key.js';
import type { Bus } from '../bus/bus.js';
import { publishAll } from '../bus/publish-all.js';
import type { Config } from '../config.js';
import type { Engine, EngineHandler } from '../engine/engine.js';
import { createHttpApi } from '../http/api.js';
import type { Logger } from '../log.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { encodeBusMessage, MessageKind } from '../protocol/bus-format.js';
import { CloseCode } from '../protocol/close-codes.js';
import type { PublishEvent } from '../protocol/event.js';
import { encodeEvents } from '../publisher/event-encoder.js';
import { maxConnectionsForThisProcess } from './capacity.js';
import { createClientFrameHandler } from './client-frame-handler.js';
import { ExpiryWheel } from './expiry-wheel.js';
import { Hub } from './hub.js';
import { createRouter } from './router.js';
import type { Socket, SocketState } from './socket-state.js';
import { createUpgradePolicy } from './upgrade-policy.js';

export const SOCKET_PATH = '/ws';
export const MAX_PUBLISH_BODY_BYTES = 1024 * 1024;
/** The engine's frame limit: far above the gateway's 16 KiB so an oversized frame gets 1009, not a silent cut. */
const ENGINE_MAX_PAYLOAD = 1024 * 1024;

export interface GatewayOptions {
  config: Config;
  engine: Engine<SocketState>;
  bus: Bus;
  log: Logger;
  metrics?: Metrics;
  /** Defaults to the key in `config`. */
  verificationKey?: VerificationKey;
  /** Names this pod in socket keys; defaults to a random id. */
  podId?: string;
  /** Shares revocations with every pod, including later ones; without it they live in this process and on the bus. */
  revocationStore?: RevocationStore;
}

/** How long start() waits for the revocation store before listening anyway (not ready until it loads). */
const REVOCATIONS_START_WAIT_MS = 5_000;

/**
 * One gateway pod: sockets in, events out. Embeddable: `start()` listens, `emit()` publishes
 * from the same process, `drain()` is what SIGTERM does.
 */
export class Gateway {
  readonly hub = new Hub();
  readonly revocations = new Revocations();
  readonly metrics: Metrics;
  readonly podId: string;
  private readonly wheel = new ExpiryWheel<Socket>();
  private readonly config: Config;
  private readonly engine: Engine<SocketState>;
  private readonly bus: Bus;
  private readonly revocationStore: RevocationStore | undefined;
  private revocationsLoaded: boolean;
  private readonly log: Logger;
  private readonly verifier: TokenVerifier;
  private readonly maxConnections = maxConnectionsForThisProcess();
  private ticker: ReturnType<typeof setInterval> | undefined;
  private socketCounter = 0;
  private draining = false;
  /** The drain's deadline has come: sockets still opening are closed with 1012 at once. */
  private closingAll = false;
  private drained: Promise<void> | undefined;

  constructor(options: GatewayOptions) {
    this.config = options.config;
    this.engine = options.engine;
    this.bus = options.bus;
    this.revocationStore = options.revocationStore;
    this.revocationsLoaded = options.revocationStore === undefined;
    this.log = options.log;
    this.metrics = options.metrics ?? createMetrics();
    this.podId = options.podId ?? Math.random().toString(36).slice(2, 10);
    const key = options.verificationKey ?? (this.config.key && createVerificationKey(this.config.key));
    if (!key) throw new Error('no token verification key: set HERALD_JWT_SECRET, HERALD_JWT_PUBLIC_KEY or HERALD_JWKS_URL');
    this.verifier = new TokenVerifier(key, this.revocations, {
      issuer: this.config.issuer,
      audience: this.config.audience,
    });
    this.metrics.watch({
      connections: () => this.hub.size,
      userTopics: () => this.hub.userCount,
      expiryEntries: () => this.wheel.size,
      revocations: () => this.revocations.size,
      busUp: () => this.bus.up,
    });
  }

  /** True when the bus is up, the revocations are loaded and the pod is not draining: /readyz. */
  get ready(): boolean {
    return this.bus.up && this.revocationsLoaded && !this.draining;
  }

  async start(): Promise<{ port: number }> {
    this.bus.onStatus((up) => this.log.info({ bus: this.bus.name, up }, up ? 'bus up' : 'bus down'));
    const route = createRouter({
      engine: this.engine,
      hub: this.hub,
      revocations: this.revocations,
      metrics: this.metrics,
      log: this.log,
      maxBackpressure: this.config.maxBackpressure,
    });
    const fanOut = this.engine.fanOut?.bind(this.engine);
    await this.bus.start(fanOut ? (msg) => fanOut(() => route(msg)) : route);
    await this.loadRevocations();
    this.ticker = setInterval(() => this.tick(), 1000);
    this.ticker.unref?.();
    const { port } = await this.engine.listen(
      {
        host: this.config.host,
        port: this.config.port,
        socketPath: SOCKET_PATH,
        maxPayloadLength: ENGINE_MAX_PAYLOAD,
        idleTimeoutS: this.config.idleTimeoutS,
        // Headroom above the gateway's limit, so the 4008 close frame still fits in the buffer.
        backpressureLimit: this.config.maxBackpressure * 2,
        maxBodyBytes: MAX_PUBLISH_BODY_BYTES,
      },
      this.engineHandler(),
    );
    this.log.info(
      { port, host: this.config.host, engine: this.engine.name, bus: this.bus.name, podId: this.podId },
      'listening',
    );
    return { port };
  }

  /** Validates, encodes once and publishes events (one or a batch, all or nothing). Returns their ids. */
  async emit(events: PublishEvent | PublishEvent[] | unknown): Promise<string[]> {
    const { ids, messages } = encodeEvents(events);
    await this.publishAll(messages);
    this.metrics.eventsPublished.inc(messages.length);
    return ids;
  }

  /**
   * Closes every socket of the user on every pod (4003) and revokes the tokens issued before now.
   * The revocation is stored first: when the store cannot take it, nothing is published (503).
   */
  async disconnectUser(userId: string): Promise<void> {
    const revokedAt = Date.now();
    if (this.revocationStore) {
      try {
        await this.revocationStore.record(userId, revokedAt, this.revocations.keepMs);
      } catch (error) {
        this.metrics.publishFailures.inc();
        throw error;
      }
    }
    this.revocations.revoke(userId, revokedAt);
    await this.publishAll([encodeBusMessage(MessageKind.DisconnectUser, { userId, revokedAt })]);
  }

  /** Closes the session's socket, wherever it is, with 1000. */
  async disconnectSession(sessionId: string): Promise<void> {
    await this.publishAll([encodeBusMessage(MessageKind.DisconnectSession, { sessionId })]);
  }

  /**
   * The SIGTERM procedure: not ready, upgrades refused, every client asked to leave with a
   * jittered `afterMs`; after HERALD_DRAIN_TIMEOUT_MS the rest are closed with 1012; then the
   * bus and the listener close.
   */
  drain(): Promise<void> {
    this.drained ??= this.runDrain();
    return this.drained;
  }

  private async runDrain(): Promise<void> {
    this.draining = true;
    const { drainTimeoutMs } = this.config;
    this.log.info({ sockets: this.hub.size, drainTimeoutMs }, 'draining: asking clients to reconnect elsewhere');
    for (const socket of this.hub.sockets()) socket.send(this.reconnectFrame());
    await this.waitForEmptyHub(Date.now() + drainTimeoutMs);
    const remaining = this.hub.size;
    this.closingAll = true;
    for (const socket of [...this.hub.sockets()]) socket.end(CloseCode.PodRestart, 'pod restarting');
    await this.waitForEmptyHub(Date.now() + 1_000);
    this.log.info({ closedWith1012: remaining }, 'drain finished');
    await this.stop();
  }

  /** Stops at once: bus and listener closed, remaining sockets cut. `drain()` is the graceful path. */
  async stop(): Promise<void> {
    this.draining = true;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    await this.revocationStore?.close();
    await this.bus.close();
    await this.engine.stop();
  }

  /** Jittered so the clients of a draining pod do not all reconnect at the same instant. */
  private reconnectFrame(): string {
    const spreadMs = Math.max(1, Math.min(5_000, Math.floor(this.config.drainTimeoutMs / 2)));
    return `{"type":"herald.reconnect","afterMs":${Math.floor(Math.random() * spreadMs)}}`;
  }

  private async loadRevocations(): Promise<void> {
    const store = this.revocationStore;
    if (!store) return;
    const loaded = store.start(this.revocations).then(() => {
      this.revocationsLoaded = true;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, REVOCATIONS_START_WAIT_MS)));
    await Promise.race([loaded, waited]);
    clearTimeout(timer);
    if (!this.revocationsLoaded) this.log.warn({ store: store.name }, 'revocations not loaded yet: not ready until they are');
  }

  private async waitForEmptyHub(deadline: number): Promise<void> {
    while (this.hub.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, Math.max(1, deadline - Date.now()))));
    }
  }

  private async publishAll(messages: Uint8Array[]): Promise<void> {
    try {
      await publishAll(this.bus, messages);
    } catch (error) {
      this.metrics.publishFailures.inc();
      throw error;
    }
  }

  /** One coarse timer for every socket: token expiry, and now and then the revocation sweep. */
  private tick(): void {
    const now = Date.now();
    for (const socket of this.wheel.takeExpired(Math.floor(now / 1000))) {
      socket.end(CloseCode.TokenExpired, 'token expired');
    }
    if (Math.floor(now / 1000) % 60 === 0) this.revocations.sweep(now);
  }

  private engineHandler(): EngineHandler<SocketState> {
    const decideUpgrade = createUpgradePolicy({
      verifier: this.verifier,
      hub: this.hub,
      metrics: this.metrics,
      allowedOrigins: this.config.allowedOrigins,
      maxSocketsPerUser: this.config.maxSocketsPerUser,
      maxConnections: this.maxConnections,
      isDraining: () => this.draining,
      isReady: () => this.bus.up && this.revocationsLoaded,
      nextSocketKey: () => `${this.podId}:${++this.socketCounter}`,
    });
    const onClientFrame = createClientFrameHandler({
      verifier: this.verifier,
      refreshExpiry: (socket, exp) => {
        this.wheel.remove(socket, socket.data.expiryBucket);
        socket.data.exp = exp;
        socket.data.expiryBucket = this.wheel.add(socket, exp);
      },
    });
    const heartbeatMs = (this.config.idleTimeoutS > 0 ? this.config.idleTimeoutS : 60) * 500;
    // A bug in a socket callback costs that socket, never the process (uWebSockets.js would crash).
    const guarded =
      <Rest extends unknown[]>(name: string, handler: (socket: Socket, ...rest: Rest) => void) =>
      (socket: Socket, ...rest: Rest): void => {
        try {
          handler(socket, ...rest);
        } catch (error) {
          this.log.error({ err: error, handler: name, sessionId: socket.data.sessionId }, 'socket handler failed');
          socket.end(CloseCode.InternalError, 'internal error');
        }
      };
    return {
      http: createHttpApi({ gateway: this, publishToken: this.config.publishToken, log: this.log }),
      upgrade: decideUpgrade,
      open: guarded('open', (socket) => {
        const state = socket.data;
        // A user disconnect or the drain's last sweep may have run between the upgrade and now.
        if (this.revocations.isRevoked(state.userId, state.iat)) {
          socket.end(CloseCode.UserInvalidated, 'every session of this user was invalidated');
          return;
        }
        if (this.closingAll) {
          socket.end(CloseCode.PodRestart, 'pod restarting');
          return;
        }
        state.openedAt = Date.now();
        this.hub.add(socket)?.end(CloseCode.Replaced, 'replaced by a newer socket of this session');
        socket.subscribe(this.hub.user(state.userId)!.topic);
        state.expiryBucket = this.wheel.add(socket, state.exp);
        socket.send(
          JSON.stringify({ type: 'herald.welcome', userId: state.userId, sessionId: state.sessionId, heartbeatMs }),
        );
        // Accepted just before the drain began: ask it to leave like the others.
        if (this.draining) socket.send(this.reconnectFrame());
        // Other pods close their socket of this session (4009); this pod ignores its own message.
        const opened = { sessionId: state.sessionId, socketKey: state.socketKey, openedAt: state.openedAt };
        this.bus.publish(encodeBusMessage(MessageKind.SessionOpened, opened)).catch((error) => {
          // No echo will come: let a later announcement from another pod replace this socket.
          state.announced = true;
          this.log.warn({ err: error, sessionId: state.sessionId }, 'could not announce a session to other pods');
        });
      }),
      message: guarded('message', onClientFrame),
      close: (socket, code) => {
        this.hub.remove(socket);
        this.wheel.remove(socket, socket.data.expiryBucket);
        this.metrics.connectionsClosed.inc({ code: String(code) });
      },
    };
  }
}
