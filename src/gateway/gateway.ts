import type { Server } from 'bun';
import type { RevocationStore } from '../auth/revocation-store.js';
import { Revocations } from '../auth/revocations.js';
import { TokenVerifier } from '../auth/token-verifier.js';
import { createVerificationKey, type VerificationKey } from '../auth/verification-key.js';
import type { Bus, BusMessageHandler } from '../bus/bus.js';
import type { Config } from '../config.js';
import { Emitter, type DisconnectOptions } from '../emitter.js';
import type { Engine, EngineFrame, EngineHandler, MountOptions, ServeHandlers } from '../engine/engine.js';
import { createHttpApi, isApiPath } from '../http/api.js';
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
/** A publish body must arrive within this long: 1 MiB at 200 KB/s, and under the engines' 10 s idle cut. */
const BODY_TIMEOUT_MS = 5_000;
/** The engine's frame limit: far above the gateway's 16 KiB so an oversized frame gets 1009, not a silent cut. */
const ENGINE_MAX_PAYLOAD = 1024 * 1024;
/**
 * How long start() waits for the bus, and then for the revocation store, before listening
 * anyway: a pod whose broker is away listens, not ready, and becomes ready once both are there.
 */
const BUS_START_WAIT_MS = 5_000;
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

export interface MountGatewayOptions {
  /** The app's handler for every request that is not the gateway's (its pages, its API). */
  fallback?: (request: Request, server: Server<unknown>) => Response | Promise<Response>;
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
 * listens (or `mount()` hands the app's Bun.serve a `fetch` and a `websocket`), `emit()` publishes from the same process, `drain()` is what SIGTERM does.
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
  /** Past the start's wait for the bus: a late bus failure is logged, no longer thrown. */
  private backendWaitOver = false;

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
        ? new Recovery<EngineFrame>({
            windowMs: this.config.recoveryWindowS * 1000,
            maxBytes: this.config.recoveryMaxBytes,
            metrics: this.metrics,
            readLog: this.bus.readLog?.bind(this.bus),
            prepareFrame: (frame) => this.engine.prepareFrame(frame),
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
    await this.prepare();
    const { port } = await this.engine.listen(
      { host: this.config.host, port: this.config.port, ...this.socketOptions() },
      this.engineHandler(),
    );
    this.log.info(
      { port, host: this.config.host, engine: this.engine.name, bus: this.bus.name, podId: this.podId },
      'listening',
    );
    return { port };
  }

  /**
   * Starts the gateway inside the app's own server instead of listening: returns the `fetch` and
   * `websocket` to pass to `Bun.serve`. `fetch` answers the gateway's paths (the socket path,
   * `/v1/*`, `/healthz`, `/readyz`, `/metrics`) and hands every other request to `fallback`
   * (404 without one). Bun only (docs/embedding.md); `drain()` and `stop()` work as after `start()`
   * but leave the app's server to the app.
   */
  async mount(options: MountGatewayOptions = {}): Promise<ServeHandlers> {
    const mount = this.engine.mount?.bind(this.engine);
    if (!mount) throw new Error(`the ${this.engine.name} engine cannot share the app's server: use start(), which listens`);
    await this.prepare();
    const herald = mount(this.socketOptions(), this.engineHandler());
    const { fallback } = options;
    this.log.info({ engine: this.engine.name, bus: this.bus.name, podId: this.podId }, 'mounted');
    if (!fallback) return herald;
    return {
      websocket: herald.websocket,
      fetch: async (request, server) => {
        const { pathname } = new URL(request.url);
        if (pathname === SOCKET_PATH || isApiPath(pathname)) return herald.fetch(request, server);
        return fallback(request, server);
      },
    };
  }

  /** Everything before the first socket: the bus (warm with its log), revocations, the tick. */
  private async prepare(): Promise<void> {
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
    await this.connectBackend(route);
    this.ticker = setInterval(() => this.tick(), 1000);
    this.ticker.unref?.();
  }

  /** The engine options that do not depend on where it listens. */
  private socketOptions(): MountOptions {
    return {
      socketPath: SOCKET_PATH,
      maxPayloadLength: ENGINE_MAX_PAYLOAD,
      idleTimeoutS: this.config.idleTimeoutS,
      // Headroom above the gateway's limit, so the 4008 close frame still fits in the buffer.
      backpressureLimit: this.config.maxBackpressure * 2,
      maxBodyBytes: MAX_PUBLISH_BODY_BYTES,
      bodyTimeoutMs: BODY_TIMEOUT_MS,
    };
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

  /**
   * Starts the bus and waits for it at most BUS_START_WAIT_MS, then for the revocation store at
   * most REVOCATIONS_START_WAIT_MS: a bus that keeps trying while its broker is away (what
   * createBackend makes for a pod) goes on in the background, and the pod listens not ready
   * until it is up and the revocations are loaded. A bus that gives up (rejects) within its
   * wait fails the start.
   */
  private async connectBackend(route: BusMessageHandler): Promise<void> {
    // A bus that keeps a log delivers what it held before it says it is up: the pod starts warm.
    const busStarted = this.bus
      .start(
        (stored, position) => this.engine.fanOut(() => route(stored, position)),
        (log) => this.recovery?.opened(log),
      )
      .then(
      () => true,
      (error: unknown) => {
        if (!this.backendWaitOver) throw error;
        this.log.error({ err: error, bus: this.bus.name }, 'the bus did not start: not ready');
        return false;
      },
    );
    const loaded = busStarted.then((started) => (started ? this.loadRevocations() : undefined));
    // Awaited below only when the bus came up in time; a failed start is reported by busStarted.
    loaded.catch(() => {});
    if (await waitAtMost(busStarted, BUS_START_WAIT_MS)) await waitAtMost(loaded, REVOCATIONS_START_WAIT_MS);
    this.backendWaitOver = true;
    if (this.recovery && this.bus.up && this.recovery.epoch === undefined) {
      this.log.warn({ bus: this.bus.name }, 'this bus keeps no event log: every resume is a gap (recovery off)');
    }
    if (!this.bus.up) this.log.warn({ bus: this.bus.name }, 'the bus is not connected yet: not ready until it is');
    else if (!(this.revocationStore?.current ?? true)) {
      this.log.warn({ store: this.revocationStore?.name }, 'revocations not loaded yet: not ready until they are');
    }
  }

  private async loadRevocations(): Promise<void> {
    await this.revocationStore?.start(this.revocations);
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
      maxFramesPerS: this.config.maxClientFramesPerS,
      refreshToken: (socket, token) => lifecycle.refreshToken(socket, token),
    });
    return {
      http: createHttpApi({
        emitter: this.emitter,
        metrics: this.metrics,
        readiness: () => this.readiness(),
        publishToken: this.config.publishToken,
        socketPath: SOCKET_PATH,
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

/** The promise's value, or undefined once `ms` have passed first; its rejection passes through. */
async function waitAtMost<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
