/**
 * Points as drawn: decimation to the plot's pixel columns and SVG line paths.
 *
 * Pure functions over plain arrays (no DOM, no plotly), shared by every chart:
 * the stores keep data only, and path strings exist only while drawing.
 */

/** Points in time order; a null y is a gap. */
export interface IPoints {
  x: number[];
  y: Array<number | null>;
}

/**
 * Decimation buckets for a plot `width` pixels wide: one per pixel column
 * (600 while it has no width yet, before layout), at least 100.
 */
export function pixelColumns(width: number): number {
  return Math.max(100, Math.floor(width || 600));
}

/**
 * Reduce points to at most about `2 * buckets` for drawing: in each x bucket
 * the lowest and highest (in x order) and a gap if one falls there. A chart a
 * few hundred pixels wide shows the same picture, spikes included, and the
 * cost of a redraw no longer grows with the data.
 */
export function decimate<S extends IPoints>(
  series: S,
  x0: number,
  x1: number,
  buckets: number
): S {
  const n = series.x.length;
  if (n <= 2 * buckets || x1 <= x0) {
    return series;
  }
  const width = (x1 - x0) / buckets;
  const x: number[] = [];
  const y: Array<number | null> = [];
  let i = 0;
  while (i < n) {
    const bucket = Math.floor((series.x[i] - x0) / width);
    let minI = -1;
    let maxI = -1;
    let gapI = -1;
    let j = i;
    for (; j < n && Math.floor((series.x[j] - x0) / width) === bucket; j++) {
      const v = series.y[j];
      if (v === null) {
        gapI = j;
      } else {
        if (minI < 0 || v < (series.y[minI] as number)) {
          minI = j;
        }
        if (maxI < 0 || v > (series.y[maxI] as number)) {
          maxI = j;
        }
      }
    }
    const keep = [minI, maxI, gapI].filter(k => k >= 0);
    keep.sort((a, b) => a - b);
    let last = -1;
    for (const k of keep) {
      if (k !== last) {
        x.push(series.x[k]);
        y.push(series.y[k]);
        last = k;
      }
    }
    i = j;
  }
  return { ...series, x, y };
}

/**
 * SVG path data of points as line segments, one per run of points between
 * gaps (a null y breaks the line), in pixels from the given axis mappings.
 * Null when a point falls outside `[yMin, yMax]`: the y axis would have to
 * change, so only a full redraw can show it.
 */
export function linePaths(
  points: IPoints,
  px: (x: number) => number,
  py: (y: number) => number,
  yMin: number,
  yMax: number
): string[] | null {
  const paths: string[] = [];
  let path = '';
  for (let i = 0; i < points.x.length; i++) {
    const y = points.y[i];
    if (y === null) {
      if (path) {
        paths.push(path);
        path = '';
      }
      continue;
    }
    if (y < yMin || y > yMax) {
      return null;
    }
    const point = `${round2(px(points.x[i]))},${round2(py(y))}`;
    path = path ? `${path}L${point}` : `M${point}`;
  }
  if (path) {
    paths.push(path);
  }
  return paths;
}

/** Pixels to hundredths: what the eye can tell, and shorter strings. */
function round2(v: number): number {
  return Math.round(v * 100) / 100;
}
