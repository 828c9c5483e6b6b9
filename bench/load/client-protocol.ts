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
  /** Remember each socket's epoch and last seq (§6) so that `drop` and `resume` can follow. */
  track?: boolean;
}

/** Reopens every tracked socket at once, resuming (`since`) or as a new connection (`plain`). */
export interface ResumeCommand {
  host: string;
  mode: 'since' | 'plain';
  /** Event frames each socket must get after its welcome (the replay). */
  expected: number;
  /** Handshakes in flight at once; 0: all of them. */
  concurrency: number;
  /** How long one socket may wait for its replay after the welcome. */
  timeoutMs: number;
}

export interface ResumeResult {
  resumed: number;
  failed: number;
  errors: string[];
  /** From the command to the last socket done, ms (this process). */
  ms: number;
  /** Each socket's time to done (welcome and every expected frame), ms from the command. */
  doneMs: number[];
  /** Welcomes with `gap: true`. */
  gaps: number;
  /** Mode `since`: welcomes other than `gap:false, replayed:<expected>`. */
  wrongReplayed: number;
  /** Event frames received after the welcomes (a double replay would show as more than expected). */
  received: number;
  outOfOrder: number;
  noSeq: number;
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
