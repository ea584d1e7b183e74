/**
 * Who may use the explorer. The page runs models on this machine (and, with --allow-paths,
 * names its files), so no other web site may drive it and, off the loopback interface, no
 * stranger either:
 * - Host must name this server (its own addresses, or an allowed origin's host): a DNS
 *   rebinding page (Host: evil.com) is refused;
 * - Origin, when sent, must be this server's own origin or an allowed one — compared with the
 *   address the server listens on, never with the client's Host header;
 * - with a token, every request carries it: a cookie set once from the printed URL
 *   (`?token=…`, then redirected away), or `Authorization: Bearer …` for scripts.
 * Every 127.0.0.0/8 address, ::1 and localhost count as loopback.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { PssError } from '../errors.js';
import { HttpError } from './http.js';

/** The address without IPv6 brackets or an IPv4-mapped prefix, lower case. */
const bare = (host: string) =>
  host
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');

export function isLoopback(host: string): boolean {
  const h = bare(host);
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return /^(0{0,4}:){7}0{0,3}1$|^::1$/.test(h);
  return false;
}

/** 0.0.0.0 or :: — every interface. */
export const isWildcard = (host: string) => ['0.0.0.0', '::', '0:0:0:0:0:0:0:0', ''].includes(bare(host));

/** host:port as it appears in a URL (IPv6 in brackets). */
export const hostPort = (host: string, port: number) =>
  `${isIP(bare(host)) === 6 ? `[${bare(host)}]` : bare(host)}:${port}`;

/** `--allow-origin` values: origins such as http://myhost:8765, comma-separated. */
export function parseOrigins(list: string | undefined): string[] {
  if (!list) return [];
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      let url: URL | undefined;
      try {
        url = new URL(s);
      } catch {
        // said below
      }
      if (!url || !/^https?:$/.test(url.protocol) || url.origin !== s.replace(/\/$/, ''))
        throw new PssError(
          `--allow-origin takes origins such as http://myhost:8765 (scheme, host, port; no path), got ${JSON.stringify(s)}`,
        );
      return url.origin;
    });
}

export interface AccessOptions {
  /** The address the server listens on (as given to --host). */
  host: string;
  port: number;
  /** Origins (besides the server's own) whose pages may use it. */
  allowOrigins?: readonly string[];
  /** Require this secret on every request. */
  token?: string;
}

/** A fresh token: 24 random bytes, URL-safe. */
export const newToken = () => randomBytes(24).toString('base64url');

/** The names this machine answers to when the server listens on `host`. */
function ownHosts(host: string): string[] {
  if (isLoopback(host)) return ['127.0.0.1', 'localhost', '::1', host];
  if (!isWildcard(host)) return [host];
  const addresses = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && !a.address.startsWith('fe80'))
    .map((a) => a!.address);
  return ['127.0.0.1', 'localhost', '::1', hostname(), ...addresses];
}

export class Access {
  /** Origins whose requests are accepted. */
  readonly origins: Set<string>;
  /** Host header values that name this server. */
  readonly hosts: Set<string>;
  private readonly token?: Buffer;
  readonly cookie: string;

  constructor(readonly o: AccessOptions) {
    const own = ownHosts(o.host).map((h) => `http://${hostPort(h, o.port)}`);
    this.origins = new Set([...own, ...(o.allowOrigins ?? [])]);
    this.hosts = new Set([...this.origins].map((origin) => new URL(origin).host.toLowerCase()));
    this.token = o.token === undefined ? undefined : Buffer.from(o.token);
    this.cookie = `pss-token-${o.port}`;
  }

  /** The address to print: the page's URL, with the token when there is one. */
  url(): string {
    const h = isWildcard(this.o.host)
      ? (ownHosts(this.o.host).find((a) => isIP(a) === 4 && !isLoopback(a)) ?? '127.0.0.1')
      : this.o.host;
    return `http://${hostPort(h, this.o.port)}/${this.o.token ? `?token=${this.o.token}` : ''}`;
  }

  /**
   * Checks a request; throws the HttpError to answer. Returns true when it has answered itself
   * (the token from the URL was turned into a cookie and the browser redirected).
   */
  check(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const host = (req.headers.host ?? '').toLowerCase();
    if (!this.hosts.has(host)) throw new HttpError(403, `unexpected Host header ${JSON.stringify(host)}`);
    const origin = req.headers.origin;
    if (origin !== undefined && !this.origins.has(origin))
      throw new HttpError(403, `cross-origin requests are refused (${origin})`);
    if (!this.token) return false;
    const given = url.searchParams.get('token');
    if (given !== null && req.method === 'GET' && this.matches(given)) {
      url.searchParams.delete('token');
      res.writeHead(303, {
        location: `${url.pathname}${url.search}`,
        'set-cookie': `${this.cookie}=${given}; HttpOnly; SameSite=Lax; Path=/`,
        'cache-control': 'no-store',
      });
      res.end();
      return true;
    }
    if (!this.matches(this.presented(req)))
      throw new HttpError(
        401,
        'this explorer needs its token: open the address pss serve printed (with ?token=…)',
      );
    return false;
  }

  private presented(req: IncomingMessage): string {
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer) return bearer;
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === this.cookie) return v.join('=');
    }
    return '';
  }

  private matches(given: string): boolean {
    const a = Buffer.from(given);
    return this.token !== undefined && a.length === this.token.length && timingSafeEqual(a, this.token);
  }
}

/**
 * How a server on `host` is exposed, for the start-up line; throws when a non-loopback
 * address comes without a token or allowed origins.
 */
export function exposureWarning(o: AccessOptions & { allowPaths?: boolean }): string | undefined {
  if (isLoopback(o.host)) return undefined;
  if (!o.token && !o.allowOrigins?.length)
    throw new PssError(
      `--host ${o.host} is not a loopback address: anyone who can reach it could run models on this machine; add --token (a secret, printed once in the URL) and/or --allow-origin <the origin browsers will use>`,
    );
  const where = isWildcard(o.host) ? `every interface (${o.host})` : o.host;
  const guard = [
    o.token
      ? 'every request must carry the token in the printed URL'
      : 'no token: any client that can reach it may use it',
    `pages may come from ${[...new Access(o).origins].join(', ')} only`,
  ].join('; ');
  return `pss serve: WARNING: listening on ${where}, not only on this machine's loopback interface; ${guard}${o.allowPaths ? '; --allow-paths: the page may name files on this machine' : ''}`;
}
