/**
 * The run view's figure: one time axis, five y axes stacked (losses per
 * batch, mAP per epoch, images per second, GPU utilization and memory, or CPU
 * and RAM without a GPU). A pure function of the run's events, the plot's
 * width and the theme; no DOM, no plotly.
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
    't' | 'box' | 'obj' | 'cls' | 'imgs_per_s'
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
  const axis = themeAxis(options.theme);
  const layout = {
    ...themeLayout(options.theme),
    autosize: true,
    height: 520,
    margin: { l: 52, r: 52, t: 8, b: 36 },
    showlegend: true,
    legend: { orientation: 'h', y: -0.08, font: { size: 10 } },
    xaxis: { ...axis, type: 'date', anchor: 'y4' },
    yaxis: {
      ...axis,
      domain: [0.78, 1],
      title: { text: 'loss' },
      rangemode: 'tozero'
    },
    yaxis2: {
      ...axis,
      domain: [0.53, 0.73],
      title: { text: 'mAP' },
      rangemode: 'tozero'
    },
    yaxis3: {
      ...axis,
      domain: [0.28, 0.48],
      title: { text: 'img/s' },
      rangemode: 'tozero'
    },
    yaxis4: {
      ...axis,
      domain: [0, 0.23],
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
    uirevision: 'yolo-lab-run'
  };
  return { data, layout };
}
