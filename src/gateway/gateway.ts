import type { RevocationStore } from '../auth/revocation-store.js';
import { Revocations } from '../auth/revocations.js';
import { TokenVerifier } from '../auth/token-verifier.js';
import { createVerificationKey, type VerificationKey } from '../auth/verification-key.js';
import type { Bus } from '../bus/bus.js';
import type { Config } from '../config.js';
import { Emitter, type DisconnectOptions } from '../emitter.js';
import type { Engine, EngineFrame, EngineHandler } from '../engine/engine.js';
import { createHttpApi } from '../http/api.js';
import type { Logger } from '../log.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { Recovery } from '../recovery/recovery.js';
import { Disconnect } from '../protocol/close-codes.js';
import type { PublishEvent } from '../protocol/event.js';
import { maxConnectionsForThisProcess } from './capacity.js';
import { createClientFrameHandler } from './client-frame-handler.js';
import { Drain } from './drain.js';
import { Hub } from './hub.js';
import { RevocationEnforcer } from './revocation-enforcer.js';
import { createRouter } from './router.js';
import { SessionOwnership } from './session-ownership.js';
import { SocketLifecycle } from './socket-lifecycle.js';
import type { Socket, SocketState } from './socket-state.js';
import { createUpgradePolicy } from './upgrade-policy.js';

export const SOCKET_PATH = '/ws';
export const MAX_PUBLISH_BODY_BYTES = 1024 * 1024;
/** The engine's frame limit: far above the gateway's 16 KiB so an oversized frame gets 1009, not a silent cut. */
const ENGINE_MAX_PAYLOAD = 1024 * 1024;
/** How long start() waits for the revocation store before listening anyway (not ready until it loads). */
const REVOCATIONS_START_WAIT_MS = 5_000;

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

/** What /readyz says besides its status. */
export type Readiness = {
  ready: boolean;
  bus: 'up' | 'down';
  /** `loading` until the table holds every revocation the store holds: at start, and after a lost broker connection. */
  revocations: 'loading' | 'current';
  draining: boolean;
};

/**
 * One gateway pod: the wiring of its parts, and its start and stop. Embeddable: `start()`
 * listens, `emit()` publishes from the same process, `drain()` is what SIGTERM does.
 */
export class Gateway {
  readonly hub = new Hub();
  readonly revocations: Revocations;
  readonly metrics: Metrics;
  readonly podId: string;
  /** The one emit path of this pod: the embedded API and the HTTP API both use it. */
  readonly emitter: Emitter;
  private readonly config: Config;
  private readonly engine: Engine<SocketState>;
  private readonly bus: Bus;
  private readonly revocationStore: RevocationStore | undefined;
  private readonly log: Logger;
  private readonly verifier: TokenVerifier;
  private readonly enforcer: RevocationEnforcer;
  private readonly sessions: SessionOwnership;
  private readonly drainer: Drain;
  private readonly lifecycle: SocketLifecycle;
  /** The pod's view of the event log (§6); none when HERALD_RECOVERY_WINDOW_S is 0. */
  private readonly recovery: Recovery<EngineFrame> | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private socketCounter = 0;

  constructor(options: GatewayOptions) {
    this.config = options.config;
    this.engine = options.engine;
    this.bus = options.bus;
    this.revocationStore = options.revocationStore;
    this.log = options.log;
    this.metrics = options.metrics ?? createMetrics();
    this.podId = options.podId ?? Math.random().toString(36).slice(2, 10);
    const key = options.verificationKey ?? (this.config.key && createVerificationKey(this.config.key));
    if (!key) throw new Error('no token verification key: set HERALD_JWT_SECRET, HERALD_JWT_PUBLIC_KEY or HERALD_JWKS_URL');
    this.revocations = new Revocations({
      maxTokenLifetimeMs: this.config.jwtMaxLifetimeS * 1000,
      clockSkewMs: this.config.jwtClockSkewS * 1000,
    });
    this.verifier = new TokenVerifier(key, this.revocations, {
      issuer: this.config.issuer,
      audience: this.config.audience,
      clockSkewS: this.config.jwtClockSkewS,
      maxLifetimeS: this.config.jwtMaxLifetimeS,
      onRevokedBySight: (identity, revocation) => this.enforcer.sighted(identity, revocation),
    });
    this.emitter = new Emitter({
      bus: this.bus,
      revocationStore: this.revocationStore,
      revocationKeepMs: this.revocations.keepMs,
      clockSkewMs: this.config.jwtClockSkewS * 1000,
      revokeLocally: (revocation) => this.revocations.apply(revocation),
      counters: {
        published: (events) => this.metrics.eventsPublished.inc(events),
        failed: () => this.metrics.publishFailures.inc(),
      },
    });
    this.enforcer = new RevocationEnforcer({
      hub: this.hub,
      revocations: this.revocations,
      cachedTokens: (userId) => this.verifier.cachedFor(userId),
      share: (revocation) => this.emitter.revoke(revocation),
      log: this.log,
    });
    this.sessions = new SessionOwnership(this.hub);
    this.drainer = new Drain(this.hub, this.config.drainTimeoutMs, this.log);
    this.recovery =
      this.config.recoveryWindowS > 0
        ? new Recovery({
            windowMs: this.config.recoveryWindowS * 1000,
            maxBytes: this.config.recoveryMaxBytes,
            metrics: this.metrics,
          })
        : undefined;
    this.lifecycle = new SocketLifecycle({
      hub: this.hub,
      revocations: this.revocations,
      sessions: this.sessions,
      bus: this.bus,
      drain: this.drainer,
      metrics: this.metrics,
      log: this.log,
      heartbeatMs: (this.config.idleTimeoutS > 0 ? this.config.idleTimeoutS : 60) * 500,
      recovery: this.recovery,
    });
    this.metrics.watch({
      connections: () => this.hub.size,
      userTopics: () => this.hub.userCount,
      expiryEntries: () => this.lifecycle.expiryEntries,
      revocations: () => this.revocations.size,
      busUp: () => this.bus.up,
      recoveryBytes: () => this.recovery?.bytes ?? 0,
    });
  }

  /** True when the bus is up, the revocation table is complete and the pod is not draining: /readyz. */
  get ready(): boolean {
    return this.readiness().ready;
  }

  readiness(): Readiness {
    const bus = this.bus.up;
    const revocations = this.revocationStore?.current ?? true;
    const draining = this.drainer.draining;
    return {
      ready: bus && revocations && !draining,
      bus: bus ? 'up' : 'down',
      revocations: revocations ? 'current' : 'loading',
      draining,
    };
  }

  async start(): Promise<{ port: number }> {
    this.bus.onStatus((up) => this.log.info({ bus: this.bus.name, up }, up ? 'bus up' : 'bus down'));
    const route = createRouter({
      engine: this.engine,
      hub: this.hub,
      revocations: this.revocations,
      sessions: this.sessions,
      metrics: this.metrics,
      log: this.log,
      maxBackpressure: this.config.maxBackpressure,
      recovery: this.recovery,
    });
    // A bus that keeps a log delivers what it held before this resolves: the pod starts warm.
    await this.bus.start(
      (stored, position) => this.engine.fanOut(() => route(stored, position)),
      (log) => this.recovery?.opened(log),
    );
    if (this.recovery && this.recovery.epoch === undefined) {
      this.log.warn({ bus: this.bus.name }, 'this bus keeps no event log: every resume is a gap (recovery off)');
    }
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
  emit(events: PublishEvent | PublishEvent[] | unknown): Promise<string[]> {
    return this.emitter.emit(events);
  }

  /** Closes every socket of the user on every pod (4003) and revokes the tokens issued before now (or `issuedBefore`). */
  disconnectUser(userId: string, options?: DisconnectOptions): Promise<void> {
    return this.emitter.disconnectUser(userId, options);
  }

  /** Logs a session out on every pod (1000) and revokes its older tokens: that user's session, or every user's of that id. */
  disconnectSession(sessionId: string, options?: DisconnectOptions & { userId?: string }): Promise<void> {
    return this.emitter.disconnectSession(sessionId, options);
  }

  /** What SIGTERM does (drain.ts), then stop. */
  async drain(): Promise<void> {
    await this.drainer.run();
    await this.stop();
  }

  /** Stops at once: bus and listener closed, remaining sockets cut. `drain()` is the graceful path. */
  async stop(): Promise<void> {
    this.drainer.draining = true;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    await this.revocationStore?.close();
    await this.bus.close();
    await this.engine.stop();
  }

  private async loadRevocations(): Promise<void> {
    const store = this.revocationStore;
    if (!store) return;
    let loaded = false;
    const loading = store.start(this.revocations).then(() => {
      loaded = true;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, REVOCATIONS_START_WAIT_MS)));
    await Promise.race([loading, waited]);
    clearTimeout(timer);
    if (!loaded) this.log.warn({ store: store.name, loaded: this.revocations.size }, 'revocations not loaded yet: not ready until they are');
  }

  /** One coarse timer for every socket: token expiry, and now and then the revocation sweep. */
  private tick(): void {
    const now = Date.now();
    this.lifecycle.expireTokens(Math.floor(now / 1000));
    this.recovery?.sweep(now);
    this.sessions.sweep(now);
    if (Math.floor(now / 1000) % 60 === 0) this.revocations.sweep(now);
  }

  private engineHandler(): EngineHandler<SocketState> {
    const lifecycle = this.lifecycle;
    const onClientFrame = createClientFrameHandler({
      verifier: this.verifier,
      refreshToken: (socket, token) => lifecycle.refreshToken(socket, token),
    });
    return {
      http: createHttpApi({
        emitter: this.emitter,
        metrics: this.metrics,
        readiness: () => this.readiness(),
        publishToken: this.config.publishToken,
        log: this.log,
      }),
      upgrade: createUpgradePolicy({
        verifier: this.verifier,
        hub: this.hub,
        metrics: this.metrics,
        allowedOrigins: this.config.allowedOrigins,
        maxSocketsPerUser: this.config.maxSocketsPerUser,
        maxConnections: maxConnectionsForThisProcess(),
        isDraining: () => this.drainer.draining,
        isReady: () => this.bus.up && (this.revocationStore?.current ?? true),
        nextSocketKey: () => `${this.podId}:${++this.socketCounter}`,
        recovery: this.recovery,
      }),
      open: this.guarded('open', (socket) => lifecycle.open(socket)),
      message: this.guarded('message', onClientFrame),
      close: (socket, code) => lifecycle.close(socket, code),
    };
  }

  /** A bug in a socket callback costs that socket, never the process (uWebSockets.js would crash). */
  private guarded<Rest extends unknown[]>(name: string, handler: (socket: Socket, ...rest: Rest) => void) {
    return (socket: Socket, ...rest: Rest): void => {
      try {
        handler(socket, ...rest);
      } catch (error) {
        this.log.error({ err: error, handler: name, sessionId: socket.data.sessionId }, 'socket handler failed');
        socket.end(Disconnect.InternalError);
      }
    };
  }
}
