/**
 * Whether a downloaded file is the one asked for: its SHA-256 against the caller's, the
 * server's (the Hub's `X-Linked-Etag`, a 64-hex strong `ETag`, or `Digest: sha-256=`) and
 * torch.hub's name convention, and a `.safetensors` file's header against the file (the
 * same checks as reading it, src/io/safetensors.ts).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { fsStep } from '../../io/files.js';
import { checkSafeTensorsHeader, SafeTensorsError } from '../../io/safetensors.js';

export interface Expectations {
  /** The SHA-256 (hex, any case) the caller expects. */
  expected?: string;
  /** The SHA-256 the server announced (announcedSha256). */
  announced?: string;
  /** Check the safetensors header. */
  safetensors: boolean;
  /** The URL, for torch.hub's name convention (a SHA-256 prefix in the file name). */
  url?: string;
}

/**
 * The file's SHA-256 and, when it is not the file asked for, why not — as a clause that
 * follows "refused:" ("its SHA-256 is …, but the server announced …").
 */
export async function verifyDownload(
  path: string,
  expect: Expectations,
): Promise<{ sha256: string; problem?: string }> {
  const sha256 = await sha256File(path);
  const expected = expect.expected?.toLowerCase();
  if (expected && sha256 !== expected)
    return { sha256, problem: `its SHA-256 is ${sha256}, not the expected ${expected}` };
  if (expect.announced && sha256 !== expect.announced)
    return { sha256, problem: `its SHA-256 is ${sha256}, but the server announced ${expect.announced}` };
  const named = expect.url && torchHubNameProblem(expect.url, sha256);
  if (named) return { sha256, problem: named };
  if (expect.safetensors) return { sha256, problem: await safetensorsProblem(path) };
  return { sha256 };
}

async function safetensorsProblem(path: string): Promise<string | undefined> {
  const file = await fsStep('read', path, () => open(path, 'r'));
  try {
    await checkSafeTensorsHeader(file, 'the download');
    return undefined;
  } catch (e) {
    if (!(e instanceof SafeTensorsError)) throw e;
    const page = /^(too short|header length)/.test(e.reason) ? '; a web page instead of the file?' : '';
    return `it is not a valid safetensors file (${e.reason}${page})`;
  } finally {
    await file.close();
  }
}

/**
 * torch.hub's convention: a file name `name-<hex>.pth` carries the first hex digits of the
 * file's SHA-256 (torchvision's URLs: resnet50-19c8e357.pth). Why `sha256` breaks it, or
 * undefined when it does not (or the name carries no prefix).
 */
export function torchHubNameProblem(url: string, sha256: string): string | undefined {
  const prefix = basename(new URL(url).pathname).match(/-([0-9a-f]{8,64})\.[A-Za-z]+$/)?.[1];
  if (!prefix || sha256.startsWith(prefix)) return undefined;
  return `its SHA-256 is ${sha256}, but its file name promises one starting ${prefix} (torch.hub's convention)`;
}

/** The SHA-256 a response chain announces: the Hub's X-Linked-Etag, a 64-hex strong ETag, or Digest. */
export function announcedSha256(hops: readonly Headers[]): string | undefined {
  const hex = (v: string | null) => {
    const s = v?.trim() ?? '';
    if (s.startsWith('W/')) return undefined;
    const m = s.replace(/^"|"$/g, '').match(/^[0-9a-fA-F]{64}$/);
    return m ? m[0].toLowerCase() : undefined;
  };
  for (const h of hops) {
    const v = hex(h.get('x-linked-etag'));
    if (v) return v;
  }
  for (const h of hops) {
    const v = hex(h.get('etag'));
    if (v) return v;
  }
  for (const h of hops) {
    const m = (h.get('digest') ?? '').match(/(?:^|,)\s*sha-256=([A-Za-z0-9+/=]{44})/i);
    if (m) return Buffer.from(m[1], 'base64').toString('hex');
  }
  return undefined;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
