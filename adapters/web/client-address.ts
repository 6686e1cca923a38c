/**
 * The address a playground request comes from, for the per-address limit (one client must not
 * get past the per-user caps by minting sessions or sending no cookie).
 *
 * The socket's peer is the client, unless the operator says reverse proxies stand in front
 * (TRUST_PROXY = how many): each of those appended the address it saw to X-Forwarded-For, so the
 * client is that many entries from the right end of [...X-Forwarded-For, peer]. Entries further
 * left were written by the client itself and prove nothing, which is why the header is ignored
 * unless the operator asks for it.
 *
 * An IPv6 client is counted by its /64: one host is usually given a whole /64 and can pick any
 * address in it.
 */
import type { IncomingMessage } from 'node:http';
import net from 'node:net';

export function clientAddress(req: IncomingMessage, trustedProxies: number): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (trustedProxies <= 0) return addressGroup(peer);
  const forwarded = String(req.headers['x-forwarded-for'] ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  const chain = [...forwarded, peer];
  return addressGroup(chain[Math.max(0, chain.length - 1 - trustedProxies)]);
}

/** What one client is counted as: an IPv4 address (also when IPv4-mapped), or an IPv6 /64. */
export function addressGroup(address: string): string {
  const plain = address.replace(/^\[|\](:\d+)?$/g, '').replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(plain);
  if (mapped) return mapped[1];
  if (net.isIPv4(plain)) return plain;
  if (!net.isIPv6(plain)) return address;
  return `${expandIPv6(plain).slice(0, 4).join(':')}::/64`;
}

/** The eight hextets of a valid IPv6 address, each as 1-4 lower-case hex digits without leading zeros. */
function expandIPv6(address: string): string[] {
  let text = address.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = text.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const front = head ? head.split(':') : [];
  const back = tail ? tail.split(':') : [];
  const groups = tail === undefined ? front : [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
  return groups.map((g) => parseInt(g, 16).toString(16));
}
