/**
 * The telemetry chart's figure: the chosen series over a moving time window,
 * on up to three y axes (% and °C, GiB, W). A pure function of the series,
 * the window, the plot's width and the theme; no DOM, no plotly.
 */
import { decimate } from '../charts/decimate';
import type { IFigure, ITrace } from '../charts/figure';
import { themeAxis, themeLayout, type IChartTheme } from '../charts/theme';
import type { Axis } from './metrics';
import type { ISeries } from './stream';

/** The y axis of each unit. */
export const AXIS_OF: Record<Axis, string> = {
  percent: 'y',
  celsius: 'y',
  gib: 'y2',
  watts: 'y3'
};

/**
 * The uid of the i-th trace: plotly gives its group the class `trace<uid>`,
 * where the line-only update (and the UI tests) find its lines.
 */
export function traceUid(i: number): string {
  return `yl${i}`;
}

/** What the telemetry figure shows besides the series. */
export interface ITelemetryFigureOptions {
  theme: IChartTheme;
  /** The x range shown, epoch milliseconds. */
  range: [number, number];
  /** Decimation buckets: one per pixel column of the plot. */
  buckets: number;
}

/**
 * The figure of telemetry series (x in epoch seconds): each decimated to
 * about two points per pixel column of the window, so the picture is the same
 * and a redraw costs the same for a 10-minute or a 10-hour window.
 */
export function telemetryFigure(
  series: ISeries[],
  options: ITelemetryFigureOptions
): IFigure {
  const { theme, range, buckets } = options;
  const [x0, x1] = range.map(v => v / 1000);
  const data: ITrace[] = series.map((s, i) => {
    const drawn = decimate(s, x0, x1, buckets);
    return {
      type: 'scatter',
      mode: 'lines',
      uid: traceUid(i),
      name: s.name,
      x: drawn.x.map(t => t * 1000),
      y: drawn.y,
      yaxis: AXIS_OF[s.axis],
      connectgaps: false,
      // Every point drawn, as the line-only update draws them.
      line: { width: 1.5, simplify: false }
    };
  });
  const axis = themeAxis(theme);
  const usesWatts = series.some(s => s.axis === 'watts');
  const layout = {
    ...themeLayout(theme),
    autosize: true,
    height: 260,
    margin: { l: 44, r: usesWatts ? 80 : 44, t: 8, b: 32 },
    showlegend: true,
    legend: { orientation: 'h', y: -0.18, font: { size: 10 } },
    xaxis: { ...axis, type: 'date', range },
    yaxis: { ...axis, title: { text: '% · °C' }, rangemode: 'tozero' },
    yaxis2: {
      ...axis,
      title: { text: 'GiB' },
      overlaying: 'y',
      side: 'right',
      rangemode: 'tozero',
      showgrid: false
    },
    yaxis3: {
      ...axis,
      title: { text: 'W' },
      overlaying: 'y',
      side: 'right',
      anchor: 'free',
      position: 1,
      visible: usesWatts,
      showgrid: false
    },
    uirevision: 'yolo-lab'
  };
  return { data, layout };
}
