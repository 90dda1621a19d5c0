/**
 * The run figure's layout: the panels stacked top to bottom (losses, mAP,
 * images/s, the time split of a batch when the run measured it, the
 * hardware), their y axes, and the x axis (time or epochs). No DOM, no
 * plotly.
 */
import { themeAxis, themeLayout, type IChartTheme } from '../charts/theme';

/** What the layout depends on besides the theme. */
export interface IRunLayoutOptions {
  theme: IChartTheme;
  /** Whether the x axis is the epoch axis (else time). */
  byEpoch: boolean;
  /** The furthest x drawn (epochs on the epoch axis). */
  x1: number;
  /** Whether the run measured where each batch's time went. */
  hasSplit: boolean;
  /** Whether the telemetry has GPUs (else CPU and RAM). */
  hasGpu: boolean;
}

/** The layout of a run's figure. */
export function runLayout(options: IRunLayoutOptions): Record<string, unknown> {
  const { byEpoch, x1, hasSplit, hasGpu } = options;
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
  return {
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
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
