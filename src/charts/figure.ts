/**
 * What a figure is: plain plotly data and layout, built by pure functions
 * (telemetry/figure.ts, training/figure.ts) that tests call without a DOM or
 * plotly, and drawn by a `PlotlyChart`.
 */
import type { IPoints } from './decimate';
import type { IChartTheme } from './theme';

/** One trace of a figure: plotly attributes over its points. */
export interface ITrace extends IPoints {
  /** The trace's name (legend, hover). */
  name: string;
  /** plotly's mode; only `'lines'` traces can take the line-only update. */
  mode: string;
  /** The y axis id ('y', 'y2', ...). */
  yaxis: string;
  /** A stable id: plotly gives the trace's group the class `trace<uid>`. */
  uid?: string;
  [attribute: string]: unknown;
}

/** A figure: what `Plotly.react` takes (the chart adds `datarevision`). */
export interface IFigure {
  data: ITrace[];
  layout: Record<string, unknown>;
}

/** What a chart knows when it asks for a figure. */
export interface IFigureRequest {
  /** Colours of the current theme. */
  theme: IChartTheme;
  /** Decimation buckets: one per pixel column of the plot. */
  buckets: number;
  /**
   * The x range to draw, in x axis units, for a chart that follows a moving
   * window; undefined for one that shows all its data.
   */
  xRange?: [number, number];
}
