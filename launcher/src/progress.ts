/**
 * Progress lines on stderr, so stdout carries only results (the URL, or
 * JSON with --json) and can be captured by scripts.
 */
export class Progress {
  private readonly _start = Date.now();
  private readonly _quiet: boolean;

  constructor(quiet = false) {
    this._quiet = quiet;
  }

  /** A step begins. */
  step(text: string): void {
    this._write(`==> ${text}`);
  }

  /** A detail of the current step. */
  note(text: string): void {
    this._write(`    ${text}`);
  }

  /** Seconds since this Progress was made, for the final line. */
  elapsed(): string {
    return ((Date.now() - this._start) / 1000).toFixed(1);
  }

  private _write(line: string): void {
    if (!this._quiet) {
      process.stderr.write(`${line}\n`);
    }
  }
}
