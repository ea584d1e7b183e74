/**
 * Text bound for the page names no absolute path of this machine: a file the page uploaded
 * is named by the name the page gave it, the download cache as such, and any other absolute
 * path by its last component. (What the page itself typed, with --allow-paths, it knows.)
 */

/** An absolute path of two components or more, not part of a URL or a relative path. */
const ABSOLUTE = /(?<![\w.:/~+=-])\/(?:[\w.@%+~=-]+\/)+[\w.@%+~=-]*/g;

export class Redactor {
  private readonly known = new Map<string, string>();

  /** Shows `path` (a file or a folder: anything below it too) as `shown`. */
  name(path: string, shown: string): void {
    this.known.set(path.replace(/\/+$/, ''), shown);
  }

  forget(path: string): void {
    this.known.delete(path);
  }

  /** `typed`: paths the request named itself, shown back as they are. */
  clean(text: string, typed: readonly string[] = []): string {
    let out = text;
    for (const [path, shown] of [...this.known].sort((a, b) => b[0].length - a[0].length))
      out = out.split(path).join(shown);
    return out.replace(ABSOLUTE, (p) => (typed.includes(p) ? p : (p.split('/').filter(Boolean).pop() ?? p)));
  }
}
