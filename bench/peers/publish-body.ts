/** What the hand-written peers read from Herald's POST /v1/events body: no validation, by design. */
export interface PeerEvent {
  type: string;
  content: unknown;
  targetUsers: string[];
  fromUserId?: string | null;
}

/** The client frame, in the shape Herald sends, serialized once per event. */
export function peerFrame(event: PeerEvent, id: string, now: number): string {
  return (
    `{"type":${JSON.stringify(event.type)},"id":"${id}","content":${JSON.stringify(event.content)},` +
    `"fromUserId":${event.fromUserId ? JSON.stringify(event.fromUserId) : 'null'},"ts":${now}}`
  );
}

/** A UUID-sized id without the cost of a random one: the peers are the lower bound of the work. */
export function counterId(n: number): string {
  return `0190f5a2-7c1e-7000-8000-${n.toString(16).padStart(12, '0')}`;
}

export function listening(port: number, extra: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ msg: 'listening', port, ...extra }) + '\n');
}
