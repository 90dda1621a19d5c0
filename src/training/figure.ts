/**
 * The run view's figure: one x axis, time or epochs, y axes stacked (losses
 * per batch and validation losses per epoch, mAP per epoch, images per
 * second, where each batch's time went, GPU utilization and memory, or CPU
 * and RAM without a GPU, with the DataLoader workers' CPU). A pure function
 * of the run's events, the x axis chosen, the plot's width and the theme; no
 * DOM, no plotly.
 *
 * On the epoch axis every point sits at the end of the work it measures, in
 * epochs done: batch `b` (0-based) of `B` in epoch `e` at `e + (b + 1) / B`,
 * an epoch's figures (mAP, validation losses) at `e + 1`, so the last batch
 * of an epoch and its mAP share an x, and "epoch N" (1-based, as people and
 * YOLOv5's log count) spans x in (N - 1, N]. yolo_lab.compare.plot_runs
 * places them the same way. Telemetry, timed by the clock and not by the
 * batches, is placed by linear interpolation between the ends of the batches
 * around it; samples before the first batch or after the last one (setup,
 * the final validation) have no place on that axis and are left out.
 */
import { decimate } from '../charts/decimate';
import type { IPoints } from '../charts/decimate';
import type { IFigure, ITrace } from '../charts/figure';
import { themeAxis, themeLayout, type IChartTheme } from '../charts/theme';
import type { ITelemetrySample } from '../telemetry/types';
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

/** Where a batch sits on the epoch axis: its end, in epochs done. */
export function batchPosition(
  b: Pick<IBatchEvent, 'epoch' | 'batch' | 'batches'>
): number {
  return b.epoch + (b.batch + 1) / (b.batches || 1);
}

/** Where an epoch's figures sit on the epoch axis: the epoch's end. */
export function epochPosition(e: Pick<IEpochEvent, 'epoch'>): number {
  return e.epoch + 1;
}

/**
 * A run's clock read in epochs, from its batches (in time order): for a
 * time, the batch in progress (the first to end at or after it) and the
 * place on the epoch axis interpolated between the batch ends around it.
 */
export interface IEpochClock {
  /**
   * The place of time `t` (seconds) on the epoch axis; null before the first
   * batch's end, after the last one's, or across a resume (where the
   * positions step back).
   */
  position(t: number): number | null;
  /**
   * The epoch (1-based) running at time `t`: that of the batch in progress,
   * or of the last batch after it (its validation); null before any batch.
   */
  epoch(t: number): number | null;
}

/** The epoch clock of batches with end times `t` and positions `x`. */
export function epochClock(
  batches: readonly Pick<IBatchEvent, 't' | 'epoch' | 'batch' | 'batches'>[]
): IEpochClock {
  const n = batches.length;
  /** The first batch ending at or after t (n if none). */
  const next = (t: number): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (batches[mid].t < t) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  };
  return {
    position: t => {
      const i = next(t);
      if (i >= n || (i === 0 && batches[0].t !== t)) {
        return null;
      }
      const after = batchPosition(batches[i]);
      if (batches[i].t === t) {
        return after;
      }
      const before = batchPosition(batches[i - 1]);
      if (after < before) {
        return null;
      }
      const t0 = batches[i - 1].t;
      return before + ((after - before) * (t - t0)) / (batches[i].t - t0);
    },
    epoch: t => {
      if (n === 0 || t < batches[0].t) {
        return null;
      }
      return batches[Math.min(next(t), n - 1)].epoch + 1;
    }
  };
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
  const axis = themeAxis(options.theme);
  // Panels top to bottom; the time split only for runs that measured it.
  const panels = ['y', 'y2', 'y3', ...(hasSplit ? ['y6'] : []), 'y4'];
  const gap = 0.05;
  const size = (1 - gap * (panels.length - 1)) / panels.length;
  const domain = (id: string): [number, number] => {
    const fromBottom = panels.length - 1 - panels.indexOf(id);
    const lo = fromBottom * (size + gap);
    return [round3(lo), round3(lo + size)];
  };
  const xaxis = byEpoch
    ? {
        ...axis,
        type: 'linear',
        anchor: 'y4',
        title: { text: 'epoch', standoff: 4 },
        // The first epoch fills the axis as it goes; then whole epochs.
        ...(x1 < 1
          ? { range: [0, 1], autorange: false }
          : { autorange: true, rangemode: 'tozero' }),
        ...(x1 <= 10 ? { tick0: 0, dtick: 1 } : {})
      }
    : { ...axis, type: 'date', anchor: 'y4' };
  const layout = {
    ...themeLayout(options.theme),
    autosize: true,
    height: (hasSplit ? 620 : 520) + (byEpoch ? 16 : 0),
    margin: { l: 52, r: 52, t: 8, b: byEpoch ? 52 : 36 },
    showlegend: true,
    legend: {
      orientation: 'h',
      y: byEpoch ? -0.12 : -0.08,
      font: { size: 10 }
    },
    xaxis,
    yaxis: {
      ...axis,
      domain: domain('y'),
      title: { text: 'loss' },
      rangemode: 'tozero'
    },
    yaxis2: {
      ...axis,
      domain: domain('y2'),
      title: { text: 'mAP' },
      rangemode: 'tozero'
    },
    yaxis3: {
      ...axis,
      domain: domain('y3'),
      title: { text: 'img/s' },
      rangemode: 'tozero'
    },
    yaxis4: {
      ...axis,
      domain: domain('y4'),
      title: { text: hasGpu ? 'GPU %' : 'CPU %' },
      range: [0, 100]
    },
    yaxis5: {
      ...axis,
      overlaying: 'y4',
      side: 'right',
      title: { text: 'GiB' },
      rangemode: 'tozero',
      showgrid: false
    },
    ...(hasSplit
      ? {
          yaxis6: {
            ...axis,
            domain: domain('y6'),
            title: { text: 'ms/batch' },
            rangemode: 'tozero'
          }
        }
      : {}),
    // Per axis: a zoom on one means nothing on the other.
    uirevision: `yolo-lab-run-${byEpoch ? 'epoch' : 'time'}`
  };
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

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
