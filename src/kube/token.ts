// Bearer tokens for the API server: a fixed one from a kubeconfig, or one read from a file that the
// kubelet rotates (projected service-account tokens), re-read when the file changes or after a 401.
import { readFileSync, statSync } from 'node:fs';
import { type Result, ok, err } from '../result.ts';

export interface BearerToken {
  /** The token to send now. */
  current(): string;
  /** Called after a 401: re-read the source at once. Returns true if the token changed. */
  refreshNow(): boolean;
}

export class StaticBearerToken implements BearerToken {
  constructor(private readonly token: string) {}

  current(): string {
    return this.token;
  }

  refreshNow(): boolean {
    return false;
  }
}

const DEFAULT_RECHECK_MS = 60_000;

export class FileBearerToken implements BearerToken {
  private lastCheck: number;

  private constructor(
    readonly path: string,
    private token: string,
    private mtimeMs: number,
    private readonly recheckMs: number,
    private readonly now: () => number,
  ) {
    this.lastCheck = now();
  }

  /** Reads the file once; a missing or empty file is an error naming the path. */
  static open(path: string, recheckMs = DEFAULT_RECHECK_MS, now: () => number = Date.now): Result<FileBearerToken> {
    const read = readToken(path);
    if (!read.ok) return read;
    return ok(new FileBearerToken(path, read.value.token, read.value.mtimeMs, recheckMs, now));
  }

  current(): string {
    const t = this.now();
    if (t - this.lastCheck >= this.recheckMs) {
      this.lastCheck = t;
      this.reload(false);
    }
    return this.token;
  }

  refreshNow(): boolean {
    this.lastCheck = this.now();
    return this.reload(true);
  }

  /** Keeps the old token when the file is briefly unreadable (mid-rotation): the next check retries. */
  private reload(force: boolean): boolean {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.path).mtimeMs;
    } catch {
      return false;
    }
    if (!force && mtimeMs === this.mtimeMs) return false;
    const read = readToken(this.path);
    if (!read.ok) return false;
    const changed = read.value.token !== this.token;
    this.token = read.value.token;
    this.mtimeMs = read.value.mtimeMs;
    return changed;
  }
}

function readToken(path: string): Result<{ token: string; mtimeMs: number }> {
  try {
    const mtimeMs = statSync(path).mtimeMs;
    const token = readFileSync(path, 'utf8').trim();
    if (!token) return err(`token file ${path} is empty`);
    return ok({ token, mtimeMs });
  } catch (e) {
    return err(`cannot read token file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}
