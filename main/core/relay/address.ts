// parley-relay://host:port/?id=<relay peer ID>
// The relay's ID is part of its address, as in Syncthing: a client checks the relay's
// certificate against it before sending anything (in particular the token), so an address
// that leads somewhere else fails as "wrong relay ID" instead of leaking the token.
import type { PeerId } from '../../contract/contract.ts';
import { parsePeerId } from '../identity/peer-id.ts';

export const RELAY_SCHEME = 'parley-relay:';
export const DEFAULT_RELAY_PORT = 47_480;

export interface RelayAddress {
  host: string;
  port: number;
  id: PeerId;
}

export class RelayAddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RelayAddressError';
  }
}

export function parseRelayAddress(input: string): RelayAddress {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    throw new RelayAddressError('not a parley-relay:// address');
  }
  if (url.protocol !== RELAY_SCHEME) throw new RelayAddressError(`expected ${RELAY_SCHEME}// not ${url.protocol}//`);
  if (url.username || url.password) throw new RelayAddressError('a relay address carries no user name or password');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new RelayAddressError('the relay address has no host');
  const port = url.port ? Number(url.port) : DEFAULT_RELAY_PORT;
  const rawId = url.searchParams.get('id');
  if (!rawId) throw new RelayAddressError('the relay address lacks ?id=<relay ID>; ask the relay admin for the full address');
  let id: PeerId;
  try {
    id = parsePeerId(rawId);
  } catch (err) {
    throw new RelayAddressError(`bad relay ID: ${(err as Error).message}`);
  }
  return { host, port, id };
}

export function formatRelayAddress(a: RelayAddress): string {
  const host = a.host.includes(':') ? `[${a.host}]` : a.host;
  return `parley-relay://${host}:${a.port}/?id=${a.id}`;
}
