import amqplib, { type ChannelModel } from 'amqplib';
import { BrokerAuthenticationError, BusUnavailableError } from '../../errors.js';
import { redactUrl } from '../redact-url.js';

/**
 * Seconds between AMQP heartbeats. Both sides drop a connection silent for two of them: the
 * broker drops a pod stalled for 20 s. The bus notices a silent broker sooner (SilenceWatch).
 */
const HEARTBEAT_S = 10;
/** The TCP connect and the AMQP handshake give up after this long. */
const CONNECT_TIMEOUT_MS = 5_000;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** One connection to RabbitMQ with Herald's heartbeat and handshake timeout. */
export function connectAmqp(url: string, connectionName: string): Promise<ChannelModel> {
  return amqplib.connect(withHeartbeat(url), { timeout: CONNECT_TIMEOUT_MS, clientProperties: { connection_name: connectionName } });
}

/**
 * A failed connection or set-up as the operator should read it: refused credentials
 * (BrokerAuthenticationError) apart from an unreachable broker and from anything else.
 */
export function classifyAmqpFailure(error: unknown, url: string): BusUnavailableError {
  const shown = redactUrl(url);
  const { message = String(error), code } = (error ?? {}) as { message?: string; code?: string };
  if (/\b403\b|ACCESS.REFUSED/.test(message)) {
    const user = URL.canParse(url) ? decodeURIComponent(new URL(url).username) || 'guest' : 'guest';
    return new BrokerAuthenticationError(
      `RabbitMQ refused the credentials of HERALD_AMQP_URL (authentication refused) for user ${JSON.stringify(user)} at ${shown}`,
      { cause: error },
    );
  }
  if ((code && NETWORK_CODES.has(code)) || /ETIMEDOUT|closed abruptly|Socket closed/i.test(message)) {
    return new BusUnavailableError(`cannot connect to RabbitMQ at ${shown} (unreachable)`, { cause: error });
  }
  return new BusUnavailableError(`cannot set up the AMQP bus at ${shown}: ${message}`, { cause: error });
}

/** amqplib takes the heartbeat from the URL; one given there wins. */
function withHeartbeat(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(HEARTBEAT_S));
  return parsed.toString();
}
