import { createServer } from 'node:net';
import { ListenError, type ListenFailure } from '../errors.js';

/** A listen failure from its errno code (`EADDRINUSE`, `ENOTFOUND`…), as the operator fixes it. */
export function listenFailureOf(code: string | undefined): ListenFailure {
  switch (code) {
    case 'EADDRINUSE':
      return 'address_in_use';
    case 'EADDRNOTAVAIL':
    case 'EINVAL':
    case 'ENOTFOUND':
    case 'EAI_NONAME':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAFNOSUPPORT':
      return 'bad_host';
    case 'EACCES':
    case 'EPERM':
      return 'permission_denied';
    default:
      return 'unknown';
  }
}

export function listenError(host: string, port: number, code: string | undefined, cause?: unknown): ListenError {
  const failure = listenFailureOf(code);
  return new ListenError(failure, host, port, code, `cannot listen on ${host}:${port} (${code ?? 'no reason given'})`, { cause });
}

/**
 * For an engine whose listen says only "no" (uWebSockets.js): the errno a plain listen on the
 * same address gets, or undefined when that one succeeds (the address was freed meanwhile).
 */
export function probeListen(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'unknown'));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}
