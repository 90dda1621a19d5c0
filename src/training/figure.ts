/**
 * The run view's figure: one time axis, y axes stacked (losses per batch,
 * mAP per epoch, images per second, where each batch's time went, GPU
 * utilization and memory, or CPU and RAM without a GPU, with the DataLoader
 * workers' CPU). A pure function of the run's events, the plot's width and
 * the theme; no DOM, no plotly.
 */
import { decimate } from '../charts/decimate';
import type { IFigure, ITrace } from '../charts/figure';
import { themeAxis, themeLayout, type IChartTheme } from '../charts/theme';
import type { ITelemetrySample } from '../telemetry/types';
import type { IBatchEvent, IEpochEvent } from './types';

/** The events a run figure draws (a `RunModel` is one). */
export interface IRunFigureData {
  batches: readonly Pick<
    IBatchEvent,
    | 't'
    | 'box'
    | 'obj'
    | 'cls'
    | 'imgs_per_s'
    | 'data_s'
    | 'compute_s'
    | 'sync_s'
  >[];
  epochs: readonly Pick<IEpochEvent, 't' | 'map50' | 'map'>[];
  telemetry: readonly { sample: ITelemetrySample }[];
}

/** What the run figure shows besides the events. */
export interface IRunFigureOptions {
  theme: IChartTheme;
  /** Decimation buckets: one per pixel column of the plot. */
  buckets: number;
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
 * column of the run's time span (min and max, so spikes stay): a redraw of a
 * day-long run costs what one of its first minutes does.
 */
export function runFigure(
  run: IRunFigureData,
  options: IRunFigureOptions
): IFigure {
  const { batches, epochs } = run;
  const samples = run.telemetry.map(e => e.sample);
  const hasGpu = samples.some(s => s.gpus.length > 0);
  const bx = batches.map(b => b.t);
  const ex = epochs.map(e => e.t);
  const tx = samples.map(s => s.t);
  const span = [bx, ex, tx].filter(xs => xs.length > 0);
  const t0 = Math.min(...span.map(xs => xs[0]));
  const t1 = Math.max(...span.map(xs => xs[xs.length - 1]));
  const line = (
    uid: string,
    name: string,
    x: number[],
    y: Array<number | null>,
    yaxis: string,
    extra: Record<string, unknown> = {}
  ): ITrace => {
    const drawn = decimate({ x, y }, t0, t1, options.buckets);
    return {
      type: 'scatter',
      mode: 'lines',
      // Stable ids: plotly.react matches traces by them, and the trace's
      // group gets the class `trace<uid>` (the UI tests read its line).
      uid: `run-${uid}`,
      name,
      x: drawn.x.map(t => t * 1000),
      y: drawn.y,
      yaxis,
      line: { width: 1.5 },
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
      'y'
    ),
    line(
      'obj',
      'obj loss',
      bx,
      batches.map(b => b.obj),
      'y'
    ),
    line(
      'cls',
      'cls loss',
      bx,
      batches.map(b => b.cls),
      'y'
    ),
    line(
      'map50',
      'mAP@0.5',
      ex,
      epochs.map(e => e.map50),
      'y2',
      markers
    ),
    line(
      'map',
      'mAP@0.5:0.95',
      ex,
      epochs.map(e => e.map),
      'y2',
      markers
    ),
    line(
      'ips',
      'images/s',
      bx,
      batches.map(b => b.imgs_per_s),
      'y3'
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
      t0,
      t1,
      options.buckets
    );
    parts.forEach(([key, name], k) => {
      data.push({
        type: 'scatter',
        mode: 'lines',
        uid: `run-${key}`,
        name: `${name} ms`,
        x: band.x.map(t => t * 1000),
        y: band.ys[k].map(v => (v === null ? null : v * 1000)),
        yaxis: 'y6',
        stackgroup: 'split',
        line: { width: 0.5 }
      });
    });
  }
  const workers = samples.some(s => typeof s.workers_cpu_pct === 'number');
  if (hasGpu) {
    const gpuCount = Math.max(...samples.map(s => s.gpus.length));
    for (let g = 0; g < gpuCount; g++) {
      data.push(
        line(
          `gpu${g}-util`,
          `GPU ${g} util %`,
          tx,
          samples.map(s => s.gpus[g]?.util_pct ?? null),
          'y4'
        ),
        line(
          `gpu${g}-mem`,
          `GPU ${g} memory GiB`,
          tx,
          samples.map(s => gib(s.gpus[g]?.mem_used_bytes)),
          'y5',
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
        samples.map(s => s.cpu_pct),
        'y4'
      ),
      line(
        'rss',
        'training RAM GiB',
        tx,
        samples.map(s => gib(s.proc_rss_bytes)),
        'y5',
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
        samples.map(s => s.workers_cpu_pct ?? null),
        'y4'
      )
    );
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
  const layout = {
    ...themeLayout(options.theme),
    autosize: true,
    height: hasSplit ? 620 : 520,
    margin: { l: 52, r: 52, t: 8, b: 36 },
    showlegend: true,
    legend: { orientation: 'h', y: -0.08, font: { size: 10 } },
    xaxis: { ...axis, type: 'date', anchor: 'y4' },
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
    uirevision: 'yolo-lab-run'
  };
  return { data, layout };
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
