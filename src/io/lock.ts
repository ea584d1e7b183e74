/**
 * Exclusive use of an output (a statistics file, an experiment folder, a download): a file
 * `<path>.lock`, created whole by a hard link (atomic and exclusive), says who holds it — pid,
 * host, start time, command line — so that a second run can say whom it is waiting for. A lock whose process is gone (same
 * host, pid dead) is taken over. The holder releases it when done or on error; an 'exit'
 * handler releases whatever is still held, synchronously (the CLI leaves on Ctrl+C through
 * process.exit), and on SIGINT/SIGTERM with no other handler installed the locks are released
 * before the signal takes its default course.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { PssError } from '../errors.js';
import { errnoCode, ioError } from './files.js';

export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** How the holder was started (the whole command line). */
  command: string;
  /** The holder in a few words, for messages: "pss stats". */
  label: string;
  /** Tells this holder's lock from a later one at the same path. */
  token: string;
  /** The cluster task the holder runs as (LockOptions.task), if any. */
  task?: string;
}

export interface LockOptions {
  /** Who takes the lock, for the messages others get (default: "pss <command words>"). */
  label?: string;
  /** Wait while a live process holds it (downloads) instead of failing at once. */
  wait?: boolean;
  /** How often a waiting caller looks again (ms, default 200). */
  pollMs?: number;
  /**
   * The cluster task this process runs as ("k8s:<job uid>:3"). A cluster runs one instance
   * of a task at a time and restarts it on another host (a new pod, a requeued Slurm task),
   * so a lock of the same task from another host is an earlier instance's: taken over.
   */
  task?: string;
}

export interface Lock extends AsyncDisposable {
  /** The lock file. */
  readonly path: string;
  /** Removes the lock file if it is still this holder's; safe to call twice. */
  release(): void;
}

/** A lock file that cannot be parsed yet is being written; after this long it is garbage. */
const UNREADABLE_GRACE_MS = 10_000;
/** How long a caller that does not wait gives a lock file being written to say who holds it. */
const WRITING_GRACE_MS = 1_000;

/** The lock file of an output: `out.lock` beside it (a folder's trailing slashes ignored). */
export const lockPath = (target: string): string => `${target.replace(/(.)\/+$/, '$1')}.lock`;

/** path -> token of the locks this process holds. */
const held = new Map<string, string>();
/**
 * Tokens of this process's callers that are taking a lock or hold one: a lock file with our pid
 * and one of these tokens is live. (Not `held` alone: between a lock file's creation and its
 * caller's next step another caller of this process could read it, find it in no one's hands
 * and take it over.)
 */
const ours = new Set<string>();
/** Every token this process has taken a lock with: a lock file of ours not in `ours` was released meanwhile. */
const issued = new Set<string>();

/** Releases every lock this process holds, synchronously (for exit and interrupt handlers). */
export function releaseAllLocks(): void {
  for (const [path, token] of [...held]) releaseFile(path, token);
}

function releaseFile(path: string, token: string): void {
  held.delete(path);
  ours.delete(token);
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    if (owner.token === token) unlinkSync(path);
  } catch {
    // Gone already, or replaced by someone else's: nothing of ours to remove.
  }
  if (!held.size) uninstallHandlers();
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

function onSignal(signal: NodeJS.Signals): void {
  // An application handler (the CLI's) decides how to leave; process.exit runs the 'exit' handler.
  if (process.listenerCount(signal) > 1) return;
  releaseAllLocks(); // uninstalls this handler, so the signal below takes its default course
  process.kill(process.pid, signal);
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', releaseAllLocks);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstallHandlers(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', releaseAllLocks);
  for (const s of SIGNALS) process.off(s, onSignal);
}

const commandWords = () => {
  const words = process.argv.slice(2);
  const end = words.findIndex((w) => w.startsWith('-'));
  return ['pss', ...words.slice(0, end < 0 ? words.length : end)].join(' ');
};

/**
 * Takes `<target>.lock`. Fails at once, in one line naming the holder, while another live
 * process holds it — or, with `wait`, waits until it is released.
 */
export async function acquireLock(target: string, options: LockOptions = {}): Promise<Lock> {
  const path = lockPath(target);
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    command: ['pss', ...process.argv.slice(2)].join(' '),
    label: options.label ?? commandWords(),
    token: randomUUID(),
    ...(options.task !== undefined ? { task: options.task } : {}),
  };
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (e) {
    // mkdir -p says EEXIST when a part of the path is a file
    if (errnoCode(e) === 'EEXIST')
      throw new PssError(`cannot write ${target}: a part of the path is a file, not a folder`);
    throw ioError(e, 'write', target);
  }
  const started = Date.now();
  ours.add(owner.token);
  issued.add(owner.token);
  try {
    return await take(path, target, owner, options, started);
  } catch (e) {
    ours.delete(owner.token);
    throw e;
  }
}

async function take(
  path: string,
  target: string,
  owner: LockOwner,
  options: LockOptions,
  started: number,
): Promise<Lock> {
  for (;;) {
    if (await create(path, owner)) {
      held.set(path, owner.token);
      installHandlers();
      const release = () => {
        if (held.get(path) === owner.token) releaseFile(path, owner.token);
      };
      return { path, release, [Symbol.asyncDispose]: async () => release() };
    }
    const found = await readLock(path);
    if (!found) continue; // released meanwhile: try again
    const state = judge(found, options.task);
    if (state === 'released') continue;
    if (state === 'stale') {
      await takeOver(path, found.text);
      continue;
    }
    if (options.wait || (state === 'being-written' && Date.now() - started < WRITING_GRACE_MS)) {
      await new Promise((r) => setTimeout(r, state === 'being-written' ? 50 : (options.pollMs ?? 200)));
      continue;
    }
    throw new PssError(inUseMessage(target, path, found.owner));
  }
}

/** Runs `fn` holding `<target>.lock`; released however `fn` ends. */
export async function withLock<T>(target: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
  const lock = await acquireLock(target, options);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/**
 * Creates the lock file whole: the owner is written to a file of its own, then hard-linked to
 * `path` (link fails with EEXIST when the lock exists), so no reader ever sees it half written.
 * False when it exists.
 */
async function create(path: string, owner: LockOwner): Promise<boolean> {
  const draft = `${path}.new-${process.pid}-${owner.token.slice(0, 8)}`;
  try {
    await writeFile(draft, `${JSON.stringify(owner)}\n`, { flag: 'wx' });
  } catch (e) {
    await rm(draft, { force: true });
    throw ioError(e, 'write lock file', path);
  }
  try {
    await link(draft, path);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return false;
    // A file system without hard links (FAT, some network mounts): O_EXCL, then write
    if (['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(errnoCode(e) ?? ''))
      return createExclusive(path, owner);
    throw ioError(e, 'create lock file', path);
  } finally {
    await rm(draft, { force: true });
  }
}

async function createExclusive(path: string, owner: LockOwner): Promise<boolean> {
  try {
    await writeFile(path, `${JSON.stringify(owner)}\n`, { flag: 'wx' });
    return true;
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return false;
    await rm(path, { force: true });
    throw ioError(e, 'write lock file', path);
  }
}

interface FoundLock {
  text: string;
  owner?: LockOwner;
  ageMs: number;
}

async function readLock(path: string): Promise<FoundLock | undefined> {
  try {
    const [text, s] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { text, owner: parseOwner(text), ageMs: Date.now() - s.mtimeMs };
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw ioError(e, 'read lock file', path);
  }
}

function parseOwner(text: string): LockOwner | undefined {
  // Download locks of earlier pss versions held only the pid.
  if (/^\d+\s*$/.test(text))
    return { pid: Number(text), host: hostname(), since: '', command: '', label: '', token: '' };
  try {
    const o = JSON.parse(text) as LockOwner;
    return Number.isInteger(o.pid) && o.pid > 0 && typeof o.host === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

function judge(found: FoundLock, task?: string): 'live' | 'stale' | 'being-written' | 'released' {
  const o = found.owner;
  if (!o) return found.ageMs > UNREADABLE_GRACE_MS ? 'stale' : 'being-written';
  // No way to look at another host's processes; but our own task's earlier instance is gone.
  if (o.host !== hostname()) return task !== undefined && o.task === task ? 'stale' : 'live';
  // Our own pid: one of our callers' (live, or released since we read it), else an earlier
  // process's (containers restart with the same pids).
  if (o.pid === process.pid) return ours.has(o.token) ? 'live' : issued.has(o.token) ? 'released' : 'stale';
  try {
    process.kill(o.pid, 0);
    return 'live';
  } catch (e) {
    return errnoCode(e) === 'ESRCH' ? 'stale' : 'live'; // EPERM: alive, another user's
  }
}

/**
 * Moves a stale lock aside and removes it. Two processes may judge the same lock stale at
 * once; the rename lets only one of them have it, and a fresh lock moved by mistake (the
 * other process took it between our read and our rename) is linked back.
 */
async function takeOver(path: string, staleText: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomUUID().slice(0, 8)}`;
  try {
    await rename(path, aside);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw ioError(e, 'take over lock file', path);
  }
  const moved = await readFile(aside, 'utf8').catch(() => staleText);
  if (moved !== staleText) await link(aside, path).catch(() => {});
  await rm(aside, { force: true });
}

function inUseMessage(target: string, path: string, o: LockOwner | undefined): string {
  const who = o
    ? `${o.label || 'another process'} (pid ${o.pid} on ${o.host}, since ${clock(o.since)})`
    : 'another process (its lock file is unreadable)';
  return `${target} is in use by ${who}; wait for it to finish, or delete ${path} if that process is gone`;
}

/** "10:21:03" today, "2024-05-02 10:21:03" on another day (local time). */
function clock(iso: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return 'an unknown time';
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  const now = new Date();
  return t.toDateString() === now.toDateString()
    ? time
    : `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${time}`;
}
