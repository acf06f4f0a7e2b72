// Peer addresses as people and configs write them: host:port, IPv6 in brackets.

export function parseAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) throw new Error(`not a host:port address: ${address}`);
  return { host: m[1]!, port };
}

/** host:port, with IPv6 in brackets and IPv4-mapped IPv6 shown as plain IPv4. */
export function formatAddress(host: string, port: number): string {
  const h = host.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
  return h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
}
