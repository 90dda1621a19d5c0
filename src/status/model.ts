/**
 * What the status bar item says: the kernel's GPU (or CPU) use and the
 * running run's epoch and ETA. No DOM here.
 *
 * It never subscribes to telemetry: it reads the telemetry model that the
 * panel's chart or a `yolo_lab.monitor()` output keeps fed while they are
 * shown, and otherwise the samples a running run takes of itself. With
 * neither (telemetry off, no run) it says nothing and the item hides, so
 * the status bar alone never makes the kernel sample.
 */
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import type { Widget } from '@lumino/widgets';
import { formatBytes, formatBytesOf, formatDuration } from '../format';
import type { TelemetryChange, TelemetryModel } from '../telemetry/model';
import type { ITelemetrySample } from '../telemetry/types';
import type { IKernelTarget } from '../tokens';
import type { RunModel } from '../training/model';
import type { ITelemetryEvent } from '../training/types';
import type { DetachedCount } from './detached';
import type { RunWatch } from './watch';

/**
 * The kernel's telemetry counts as on while batches keep coming: it goes
 * stale after this many sampling intervals without one (and at least
 * {@link MIN_STALE_MS}).
 */
export const STALE_INTERVALS = 3;

/** The least time without a batch before the kernel's telemetry is stale. */
export const MIN_STALE_MS = 5000;

/** The notebooks: which one is current. */
export interface ICurrentNotebook {
  readonly currentWidget: Widget | null;
  readonly currentChanged: ISignal<unknown, unknown>;
}

/** Where runs go: the notebook's kernel, or a kernel on another server. */
export interface IRunTarget {
  readonly target: IKernelTarget;
  readonly targetChanged: ISignal<unknown, IKernelTarget>;
}

/** Options of the status model. */
export interface IStatusModelOptions {
  /** The kernel's telemetry, read only (null without the telemetry plugin). */
  telemetry: TelemetryModel | null;
  /** The runs the page shows. */
  watch: RunWatch;
  /** The notebooks, to follow the current one's runs. */
  notebooks: ICurrentNotebook;
  /** Where runs go: a kernel on another server shows its runs anywhere. */
  transport: IRunTarget;
  /** The server's detached runs (none counted without it). */
  detached?: DetachedCount | null;
  /** The user's language (English without one). */
  trans?: TranslationBundle;
}

/**
 * The status bar's text and tooltip, following the current notebook.
 */
export class StatusModel implements IDisposable {
  constructor(options: IStatusModelOptions) {
    this._options = options;
    this._trans = options.trans ?? nullTranslator.load('yolo_lab');
    options.telemetry?.changed.connect(this._onTelemetry, this);
    options.watch.changed.connect(this._update, this);
    options.notebooks.currentChanged.connect(this._update, this);
    options.transport.targetChanged.connect(this._update, this);
    options.detached?.changed.connect(this._update, this);
    if (options.detached) {
      options.watch.changed.connect(this._refreshDetached, this);
    }
    this._update();
  }

  /** Emits when the text, the tooltip or the run shown changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The item's text; empty when there is nothing to say. */
  get text(): string {
    return this._text;
  }

  /** The item's tooltip: each GPU, the run's name and batch. */
  get tooltip(): string {
    return this._tooltip;
  }

  /** Whether the item has something to show. */
  get visible(): boolean {
    return this._text !== '';
  }

  /** The run whose epoch is shown, if any. */
  get run(): string | null {
    return this._run;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._clearTimer();
    const o = this._options;
    o.telemetry?.changed.disconnect(this._onTelemetry, this);
    o.watch.changed.disconnect(this._update, this);
    o.notebooks.currentChanged.disconnect(this._update, this);
    o.transport.targetChanged.disconnect(this._update, this);
    o.detached?.changed.disconnect(this._update, this);
    o.watch.changed.disconnect(this._refreshDetached, this);
    Signal.clearData(this);
  }

  /** The running runs of the current notebook, newest first. */
  private _runs(): RunModel[] {
    const running = this._options.watch.running();
    let runs = running;
    if (this._options.transport.target.kind === 'notebook') {
      // As Stop does: the runs the current notebook shows.
      const notebook = this._options.notebooks.currentWidget;
      const shown = new Set(
        notebook ? this._options.watch.registry.runsIn(notebook) : []
      );
      runs = running.filter(model => shown.has(model.run));
    }
    return [...runs].sort(
      (a, b) => (b.status.created ?? 0) - (a.status.created ?? 0)
    );
  }

  /** The kernel's last sample while telemetry flows, else null. */
  private _kernelSample(): ITelemetrySample | null {
    const telemetry = this._options.telemetry;
    if (!telemetry || this._lastBatchAt === null) {
      return null;
    }
    const age = Date.now() - this._lastBatchAt;
    return age < this._staleMs() ? telemetry.buffer.last : null;
  }

  private _staleMs(): number {
    const intervalS = this._options.telemetry?.intervalS ?? 1;
    return Math.max(STALE_INTERVALS * intervalS * 1000, MIN_STALE_MS);
  }

  private _onTelemetry(_: TelemetryModel, change: TelemetryChange): void {
    if (change.kind === 'append') {
      this._lastBatchAt = Date.now();
      this._schedule();
    } else if (
      change.kind === 'reset' &&
      this._options.telemetry?.buffer.last === null
    ) {
      // Cleared: another kernel is followed.
      this._lastBatchAt = null;
    }
    this._update();
  }

  /** Look again once the telemetry would go stale (one timer at most). */
  private _schedule(): void {
    if (this._timer !== null) {
      return;
    }
    this._timer = setTimeout(() => {
      this._timer = null;
      if (this._isDisposed || this._lastBatchAt === null) {
        return;
      }
      if (Date.now() - this._lastBatchAt >= this._staleMs()) {
        this._update();
      } else {
        this._schedule();
      }
    }, this._staleMs());
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _update(): void {
    if (this._isDisposed) {
      return;
    }
    const trans = this._trans;
    const runs = this._runs();
    const run = runs[0] ?? null;
    let sample = this._kernelSample();
    let fromRun = false;
    if (!sample && run) {
      sample = lastRunSample(run);
      fromRun = sample !== null;
    }
    const text: string[] = [];
    const tip: string[] = [];
    if (sample) {
      const usage = usageOf(sample, trans);
      text.push(usage.text);
      tip.push(...usage.tooltip);
      if (fromRun) {
        tip.push(trans.__('(as the run measures it; telemetry is off)'));
      }
    }
    if (run) {
      const progress = run.progress();
      const name = run.status.name ?? baseName(run.run);
      if (progress) {
        const epoch = trans.__(
          'epoch %1/%2',
          progress.epoch + 1,
          progress.epochs
        );
        text.push(epoch);
        const line = [
          trans.__('Run %1', name),
          epoch,
          trans.__('batch %1/%2', progress.batch + 1, progress.batches)
        ];
        if (progress.etaS !== null) {
          const eta = trans.__('ETA %1', formatDuration(progress.etaS));
          text.push(eta);
          line.push(eta);
        }
        tip.push(line.join(', '));
      } else if (run.status.status === 'pending') {
        // A Slurm job in the queue: "pending" before "running".
        const reason = run.status.slurm?.reason;
        text.push(trans.__('run pending'));
        tip.push(
          reason
            ? trans.__("Run %1 waits in Slurm's queue (%2)", name, reason)
            : trans.__("Run %1 waits in Slurm's queue", name)
        );
      } else {
        text.push(trans.__('run starting'));
        tip.push(trans.__('Run %1 is starting', name));
      }
      if (runs.length > 1) {
        tip.push(
          trans._n(
            '%1 more run of this notebook is going',
            '%1 more runs of this notebook are going',
            runs.length - 1
          )
        );
      }
    }
    this._countDetached(text, tip);
    if (text.length) {
      tip.push(trans.__('Click to open the yolo-lab panel.'));
    }
    const nextText = text.join(' · ');
    const nextTip = tip.join('\n');
    const nextRun = run?.run ?? null;
    if (
      nextText !== this._text ||
      nextTip !== this._tooltip ||
      nextRun !== this._run
    ) {
      this._text = nextText;
      this._tooltip = nextTip;
      this._run = nextRun;
      this._changed.emit();
    }
  }

  /**
   * Read the server's detached runs again when a run of this page starts
   * or ends (it may be one).
   */
  private _refreshDetached(): void {
    const detached = this._options.detached;
    if (!detached || this._isDisposed) {
      return;
    }
    const going = JSON.stringify(
      this._options.watch.running().map(model => model.run)
    );
    if (going !== this._going) {
      this._going = going;
      void detached.refresh();
    }
  }

  /** Say how many runs the server keeps going without a kernel. */
  private _countDetached(text: string[], tip: string[]): void {
    const detached = this._options.detached;
    if (!detached) {
      return;
    }
    const runs = detached.runs;
    if (!runs.length) {
      return;
    }
    const trans = this._trans;
    text.push(trans._n('%1 detached run', '%1 detached runs', runs.length));
    tip.push(
      trans._n(
        '%1 run keeps going on the server without a kernel:',
        '%1 runs keep going on the server without a kernel:',
        runs.length
      ),
      ...runs.map(run =>
        trans.__(
          '  %1: %2, %3/%4 epochs',
          run.name,
          run.status,
          run.epochs_done,
          run.epochs ?? '?'
        )
      )
    );
  }

  private _options: IStatusModelOptions;
  private _going = '[]';
  private _trans: TranslationBundle;
  private _text = '';
  private _tooltip = '';
  private _run: string | null = null;
  private _lastBatchAt: number | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _changed = new Signal<this, void>(this);
  private _isDisposed = false;
}

/** The short text and the tooltip lines of one sample. */
export function usageOf(
  sample: ITelemetrySample,
  trans: TranslationBundle = nullTranslator.load('yolo_lab')
): { text: string; tooltip: string[] } {
  const gpus = sample.gpus;
  if (gpus.length) {
    const utils = gpus
      .map(gpu => gpu.util_pct)
      .filter((u): u is number => u !== null);
    const util = utils.length
      ? `${Math.round(utils.reduce((a, b) => a + b, 0) / utils.length)}%`
      : '–';
    const used = sum(gpus.map(gpu => gpu.mem_used_bytes));
    const total = sum(gpus.map(gpu => gpu.mem_total_bytes));
    const label =
      gpus.length === 1
        ? trans.__('GPU %1', util)
        : trans.__('%1 GPUs %2', gpus.length, util);
    return {
      text: `${label} · ${formatBytesOf(used, total)}`,
      tooltip: gpus.map(gpu => {
        const line = trans.__(
          'cuda:%1: %2 busy, %3 of %4',
          gpu.index,
          gpu.util_pct === null ? '–' : `${Math.round(gpu.util_pct)}%`,
          formatBytes(gpu.mem_used_bytes),
          formatBytes(gpu.mem_total_bytes)
        );
        return gpu.proc_mem_bytes === null
          ? line
          : `${line} ${trans.__('(this kernel: %1)', formatBytes(gpu.proc_mem_bytes))}`;
      })
    };
  }
  const cpu = sample.cpu_pct === null ? '–' : `${Math.round(sample.cpu_pct)}%`;
  const tooltip = [
    trans.__(
      'No GPU: CPU %1, RAM %2 of %3',
      cpu,
      formatBytes(sample.ram_used_bytes),
      formatBytes(sample.ram_total_bytes)
    )
  ];
  if (sample.proc_cpu_pct !== null || sample.proc_rss_bytes !== null) {
    tooltip.push(
      trans.__(
        'This kernel: CPU %1 (100% is one core), memory %2',
        sample.proc_cpu_pct === null
          ? '–'
          : `${Math.round(sample.proc_cpu_pct)}%`,
        formatBytes(sample.proc_rss_bytes)
      )
    );
  }
  return {
    text: `${trans.__('CPU %1', cpu)} · ${trans.__('RAM %1', formatBytesOf(sample.ram_used_bytes, sample.ram_total_bytes))}`,
    tooltip
  };
}

/** The last sample a run took of itself, if any. */
function lastRunSample(run: RunModel): ITelemetrySample | null {
  const events = run.telemetry;
  const last: ITelemetryEvent | undefined = events[events.length - 1];
  return last?.sample ?? null;
}

function sum(values: Array<number | null>): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length ? known.reduce((a, b) => a + b, 0) : null;
}

/** The last part of a run folder's path. */
export function baseName(run: string): string {
  const parts = run.split(/[\\/]/).filter(Boolean);
  return parts[parts.length - 1] ?? run;
}
