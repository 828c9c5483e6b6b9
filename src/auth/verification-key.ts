import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'];
export const ASYMMETRIC_ALGORITHMS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA',
];

export type KeySource =
  | { kind: 'secret'; secret: string }
  | { kind: 'public-key'; pem: string }
  | { kind: 'jwks'; url: string };

/** What jose verifies with, and the only algorithms a token may name (never `none`). */
export interface VerificationKey {
  key: Uint8Array | KeyObject | JWTVerifyGetKey;
  algorithms: string[];
}

export function createVerificationKey(source: KeySource): VerificationKey {
  switch (source.kind) {
    case 'secret':
      return { key: new TextEncoder().encode(source.secret), algorithms: HMAC_ALGORITHMS };
    case 'public-key': {
      const key = createPublicKey(source.pem);
      return { key, algorithms: algorithmsForPublicKey(key) };
    }
    case 'jwks':
      return { key: createRemoteJWKSet(new URL(source.url)), algorithms: ASYMMETRIC_ALGORITHMS };
  }
}

/** The key's type fixes the algorithm family, so an RSA key can never verify an HMAC token. */
function algorithmsForPublicKey(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1' || curve === 'P-256') return ['ES256'];
      if (curve === 'secp384r1' || curve === 'P-384') return ['ES384'];
      if (curve === 'secp521r1' || curve === 'P-521') return ['ES512'];
      throw new Error(`unsupported EC curve ${curve}`);
    }
    case 'ed25519':
      return ['EdDSA'];
    default:
      throw new Error(`unsupported public key type ${key.asymmetricKeyType}`);
  }
}
