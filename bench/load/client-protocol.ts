/** How a contender's clients open a socket and when it counts as ready. */
export type ClientProtocol =
  /** Herald: JWT in `access_token`; ready at `herald.welcome`. */
  | 'herald'
  /** The hand-written peers: `?user=`; ready at their welcome frame. */
  | 'plain'
  /** Engine.IO 4 over a WebSocket: answer the open packet with `40`, ready at `40{…}`, answer pings `2` with `3`. */
  | 'socketio';

/** A range of users whose sockets go to one server port. */
export interface SocketTarget {
  port: number;
  /** Users u<from> … u<to - 1>. */
  from: number;
  to: number;
}

export interface ConnectCommand {
  host: string;
  targets: SocketTarget[];
  protocol: ClientProtocol;
  /** The HS256 secret Herald verifies with (protocol 'herald'). */
  jwtSecret?: string;
  /** Source addresses to spread connections over (127.0.0.x); each pair has ~28k ephemeral ports. */
  localAddresses: string[];
  /** Handshakes in flight at once. */
  concurrency: number;
  /** Keep payloads and record emit→receive latency from the `"t":` timestamp. */
  latency: boolean;
}

export interface ConnectResult {
  opened: number;
  failed: number;
  /** A few failure reasons, for the report. */
  errors: string[];
  ms: number;
}

export interface ClientStats {
  /** Event frames received (not welcome, pong or protocol frames). */
  events: number;
  bytes: number;
  open: number;
  /** Sockets closed since connect, by close code (1006: closed with no close frame). */
  closes: Record<string, number>;
}

export interface ChurnCommand {
  host: string;
  port: number;
  jwtSecret: string;
  localAddresses: string[];
  cycles: number;
  concurrency: number;
  /** Prefix for this worker's session ids so that workers never replace each other's sockets. */
  prefix: string;
}

export interface ChurnResult {
  cycles: number;
  failed: number;
  errors: string[];
  ms: number;
}

export interface LatencyReport {
  /** hdr-histogram, compressed base64, values in microseconds. */
  histogram: string;
  count: number;
}
