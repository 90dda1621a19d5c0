/**
 * The run view's figure: one x axis, time or epochs, y axes stacked (losses
 * per batch and validation losses per epoch, mAP per epoch, images per
 * second, where each batch's time went, GPU utilization and memory, or CPU
 * and RAM without a GPU, with the DataLoader workers' CPU). A pure function
 * of the run's events, the x axis chosen, the plot's width and the theme; no
 * DOM, no plotly. Where points sit on the epoch axis: epochAxis.ts; the
 * panels and their axes: figureLayout.ts.
 */
import { decimate } from '../charts/decimate';
import type { IPoints } from '../charts/decimate';
import type { IFigure, ITrace } from '../charts/figure';
import type { IChartTheme } from '../charts/theme';
import type { ITelemetrySample } from '../telemetry/types';
import { batchPosition, epochClock, epochPosition } from './epochAxis';
import { runLayout } from './figureLayout';
import type { IBatchEvent, IEpochEvent } from './types';

/** The events a run figure draws (a `RunModel` is one). */
export interface IRunFigureData {
  batches: readonly Pick<
    IBatchEvent,
    | 't'
    | 'epoch'
    | 'batch'
    | 'batches'
    | 'box'
    | 'obj'
    | 'cls'
    | 'imgs_per_s'
    | 'data_s'
    | 'compute_s'
    | 'sync_s'
  >[];
  epochs: readonly (Pick<IEpochEvent, 't' | 'epoch' | 'map50' | 'map'> & {
    /** Validation losses (YOLOv5's results.csv val/*_loss); absent in old runs. */
    val_box?: unknown;
    val_obj?: unknown;
    val_cls?: unknown;
  })[];
  telemetry: readonly { sample: ITelemetrySample }[];
}

/** The run figure's x axis: wall-clock time, or epochs done. */
export type RunAxis = 'time' | 'epoch';

/** What the run figure shows besides the events. */
export interface IRunFigureOptions {
  theme: IChartTheme;
  /** Decimation buckets: one per pixel column of the plot. */
  buckets: number;
  /** The x axis ('time' unless given). */
  x?: RunAxis;
}

/**
 * The indices in the series `x`, `y` of the points `drawn` kept (decimation
 * keeps points, in order): what lets a decimated trace carry per-point hover
 * data without decimating it too.
 */
function keptIndices(
  x: readonly number[],
  y: ReadonlyArray<number | null>,
  drawn: IPoints
): number[] {
  const kept: number[] = [];
  let j = 0;
  for (let k = 0; k < drawn.x.length; k++) {
    while (
      j < x.length &&
      !(Object.is(x[j], drawn.x[k]) && Object.is(y[j], drawn.y[k]))
    ) {
      j++;
    }
    kept.push(j);
    j++;
  }
  return kept;
}

/** How a trace's hover reads: its points' data and the template over them. */
interface IHover {
  /** `customdata` of the point at index `i` of the series given. */
  data: (i: number) => unknown;
  /** The template's part after the time (`%{customdata}` and `%{y}`). */
  template: string;
}

const GIB = 2 ** 30;

const gib = (bytes: number | null | undefined): number | null =>
  bytes === null || bytes === undefined ? null : bytes / GIB;

/** Parts of a batch's time, bottom to top of the stacked band. */
const SPLIT = [
  ['data_s', 'waiting for data'],
  ['compute_s', 'computing'],
  ['sync_s', 'DDP sync']
] as const;

/**
 * Per-bucket means of several series over one x: a stacked band needs every
 * layer at the same x, and a mean (unlike min/max decimation) keeps the
 * layers adding up to the step's time. Buckets with no value stay out.
 */
export function bucketMeans(
  x: readonly number[],
  ys: ReadonlyArray<ReadonlyArray<number | null | undefined>>,
  x0: number,
  x1: number,
  buckets: number
): { x: number[]; ys: Array<Array<number | null>> } {
  if (x.length <= buckets || x1 <= x0) {
    return { x: [...x], ys: ys.map(y => y.map(v => v ?? null)) };
  }
  const width = (x1 - x0) / buckets;
  const out = {
    x: [] as number[],
    ys: ys.map(() => [] as Array<number | null>)
  };
  let i = 0;
  while (i < x.length) {
    const bucket = Math.floor((x[i] - x0) / width);
    let j = i;
    let xs = 0;
    const sums = ys.map(() => 0);
    const counts = ys.map(() => 0);
    for (; j < x.length && Math.floor((x[j] - x0) / width) === bucket; j++) {
      xs += x[j];
      ys.forEach((y, k) => {
        const v = y[j];
        if (v !== null && v !== undefined) {
          sums[k] += v;
          counts[k] += 1;
        }
      });
    }
    out.x.push(xs / (j - i));
    ys.forEach((_, k) =>
      out.ys[k].push(counts[k] ? sums[k] / counts[k] : null)
    );
    i = j;
  }
  return out;
}

/**
 * The figure of a run. Lines are decimated to about two points per pixel
 * column of the run's span on the x axis (min and max, so spikes stay): a
 * redraw of a day-long run costs what one of its first minutes does. Every
 * point's hover names its epoch (and batch), on either axis.
 */
export function runFigure(
  run: IRunFigureData,
  options: IRunFigureOptions
): IFigure {
  const { batches, epochs } = run;
  const byEpoch = options.x === 'epoch';
  const samples = run.telemetry.map(e => e.sample);
  const hasGpu = samples.some(s => s.gpus.length > 0);
  const clock = epochClock(batches);
  // Batches and epochs on the axis chosen; telemetry by time, mapped (and
  // filtered) below.
  const bx = byEpoch ? batches.map(batchPosition) : batches.map(b => b.t);
  const ex = byEpoch ? epochs.map(epochPosition) : epochs.map(e => e.t);
  let tx = samples.map(s => s.t);
  let shown = samples;
  if (byEpoch) {
    const placed = tx.map(t => clock.position(t));
    shown = samples.filter((_, i) => placed[i] !== null);
    tx = placed.filter((x): x is number => x !== null);
  }
  const span = [bx, ex, tx].filter(xs => xs.length > 0);
  // Epochs from 0 to the furthest point: a resume steps back, so that need
  // not be the last one.
  const x0 = byEpoch ? 0 : Math.min(...span.map(xs => xs[0]));
  const x1 = byEpoch
    ? Math.max(0, ...span.map(largest))
    : Math.max(...span.map(xs => xs[xs.length - 1]));
  const toAxis = (x: number): number => (byEpoch ? x : x * 1000);
  // The hover's first line: the time on the time axis (the x of the epoch
  // axis is the epoch the template names anyway).
  const when = byEpoch ? '' : '%{x|%H:%M:%S} · ';
  const batchHover = (format: string): IHover => ({
    data: i => [batches[i].epoch + 1, batches[i].batch + 1, batches[i].batches],
    template:
      'epoch %{customdata[0]}, batch %{customdata[1]}/%{customdata[2]}' +
      `<br>%{y:${format}}`
  });
  const epochHover = (format: string): IHover => ({
    data: i => epochs[i].epoch + 1,
    template: `epoch %{customdata}<br>%{y:${format}}`
  });
  const sampleHover = (format: string): IHover => ({
    data: i => clock.epoch(shown[i].t) ?? '–',
    template: `epoch %{customdata}<br>%{y:${format}}`
  });
  const line = (
    uid: string,
    name: string,
    x: number[],
    y: Array<number | null>,
    yaxis: string,
    hover: IHover,
    extra: Record<string, unknown> = {}
  ): ITrace => {
    const drawn = decimate({ x, y }, x0, x1, options.buckets);
    const kept = drawn.x === x ? null : keptIndices(x, y, drawn);
    return {
      type: 'scatter',
      mode: 'lines',
      // Stable ids: plotly.react matches traces by them, and the trace's
      // group gets the class `trace<uid>` (the UI tests read its line).
      uid: `run-${uid}`,
      name,
      x: drawn.x.map(toAxis),
      y: drawn.y,
      yaxis,
      line: { width: 1.5 },
      customdata: kept ? kept.map(hover.data) : x.map((_, i) => hover.data(i)),
      hovertemplate: when + hover.template,
      ...extra
    };
  };
  const markers = { mode: 'lines+markers' };
  const dotted = { line: { width: 1.5, dash: 'dot' } };
  const data: ITrace[] = [
    line(
      'box',
      'box loss',
      bx,
      batches.map(b => b.box),
      'y',
      batchHover('.4f')
    ),
    line(
      'obj',
      'obj loss',
      bx,
      batches.map(b => b.obj),
      'y',
      batchHover('.4f')
    ),
    line(
      'cls',
      'cls loss',
      bx,
      batches.map(b => b.cls),
      'y',
      batchHover('.4f')
    ),
    line(
      'map50',
      'mAP@0.5',
      ex,
      epochs.map(e => e.map50),
      'y2',
      epochHover('.3f'),
      markers
    ),
    line(
      'map',
      'mAP@0.5:0.95',
      ex,
      epochs.map(e => e.map),
      'y2',
      epochHover('.3f'),
      markers
    ),
    line(
      'ips',
      'images/s',
      bx,
      batches.map(b => b.imgs_per_s),
      'y3',
      batchHover('.1f')
    )
  ];
  const hasSplit = batches.some(b => typeof b.data_s === 'number');
  if (hasSplit) {
    const parts = SPLIT.filter(([key]) =>
      batches.some(b => typeof b[key] === 'number')
    );
    const band = bucketMeans(
      bx,
      parts.map(([key]) => batches.map(b => b[key])),
      x0,
      x1,
      options.buckets
    );
    // A bucket's mean x is no batch's: its epoch is read off the axis.
    const epochAt = byEpoch
      ? (x: number) => Math.max(1, Math.ceil(x))
      : (x: number) => clock.epoch(x) ?? '–';
    const customdata = band.x.map(epochAt);
    parts.forEach(([key, name], k) => {
      data.push({
        type: 'scatter',
        mode: 'lines',
        uid: `run-${key}`,
        name: `${name} ms`,
        x: band.x.map(toAxis),
        y: band.ys[k].map(v => (v === null ? null : v * 1000)),
        yaxis: 'y6',
        stackgroup: 'split',
        line: { width: 0.5 },
        customdata,
        hovertemplate: `${when}epoch %{customdata}<br>%{y:.1f}`
      });
    });
  }
  const workers = shown.some(s => typeof s.workers_cpu_pct === 'number');
  if (hasGpu) {
    const gpuCount = Math.max(...samples.map(s => s.gpus.length));
    for (let g = 0; g < gpuCount; g++) {
      data.push(
        line(
          `gpu${g}-util`,
          `GPU ${g} util %`,
          tx,
          shown.map(s => s.gpus[g]?.util_pct ?? null),
          'y4',
          sampleHover('.0f')
        ),
        line(
          `gpu${g}-mem`,
          `GPU ${g} memory GiB`,
          tx,
          shown.map(s => gib(s.gpus[g]?.mem_used_bytes)),
          'y5',
          sampleHover('.2f'),
          dotted
        )
      );
    }
  } else {
    data.push(
      line(
        'cpu',
        'CPU %',
        tx,
        shown.map(s => s.cpu_pct),
        'y4',
        sampleHover('.0f')
      ),
      line(
        'rss',
        'training RAM GiB',
        tx,
        shown.map(s => gib(s.proc_rss_bytes)),
        'y5',
        sampleHover('.2f'),
        dotted
      )
    );
  }
  if (workers) {
    data.push(
      line(
        'workers',
        'workers CPU %',
        tx,
        shown.map(s => s.workers_cpu_pct ?? null),
        'y4',
        sampleHover('.0f')
      )
    );
  }
  // Validation losses, per epoch, with the training losses; last, so that
  // their arrival at the first epoch's end shifts no other trace's colour.
  for (const [key, name] of VAL_LOSSES) {
    const y = epochs.map(e => number(e[key]));
    if (y.some(v => v !== null)) {
      data.push(
        line(key, name, ex, y, 'y', epochHover('.4f'), {
          ...markers,
          ...dotted
        })
      );
    }
  }
  const layout = runLayout({
    theme: options.theme,
    byEpoch,
    x1,
    hasSplit,
    hasGpu
  });
  return { data, layout };
}

/** Validation losses of an epoch event, and their legend names. */
const VAL_LOSSES = [
  ['val_box', 'val box loss'],
  ['val_obj', 'val obj loss'],
  ['val_cls', 'val cls loss']
] as const;

/** The largest of many numbers (no spread: a long run has too many). */
function largest(xs: readonly number[]): number {
  let max = -Infinity;
  for (const x of xs) {
    if (x > max) {
      max = x;
    }
  }
  return max;
}

function number(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
