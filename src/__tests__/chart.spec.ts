import { PlotlyChart } from '../charts/chart';
import { decimate, linePaths, type IPoints } from '../charts/decimate';
import type { IFigure, IFigureRequest } from '../charts/figure';

const SVG = 'http://www.w3.org/2000/svg';

/**
 * A stand-in for plotly: it draws each trace's line as plotly does (a group
 * of class `trace<uid>`, one `path.js-line` per segment) on a 500 × 200
 * pixel plot, with y from 0 to 100, and keeps the computed axes where the
 * line-only update reads them.
 */
const mockPlotly = {
  react: jest.fn((node: any, data: any[], layout: any, _config?: any) => {
    const [x0, x1] = layout.xaxis?.range ?? [0, 100];
    const xaxis = {
      l2p: (x: number) => ((x - x0) / (x1 - x0)) * 500,
      range: [x0, x1],
      _length: 500
    };
    const yaxis = {
      l2p: (y: number) => 200 - 2 * y,
      range: [0, 100],
      _length: 200
    };
    node._fullLayout = { xaxis, yaxis };
    node.replaceChildren(
      ...data.map(trace => {
        const group = document.createElementNS(SVG, 'g');
        group.setAttribute('class', `trace${trace.uid}`);
        for (const d of linePaths(trace, xaxis.l2p, yaxis.l2p, 0, 100) ?? []) {
          const path = document.createElementNS(SVG, 'path');
          path.setAttribute('class', 'js-line');
          path.setAttribute('d', d);
          group.append(path);
        }
        return group;
      })
    );
    return Promise.resolve(node);
  }),
  purge: jest.fn(),
  toImage: jest.fn(() => Promise.resolve('data:image/png;base64,')),
  Plots: { resize: jest.fn() }
};

jest.mock('plotly.js-dist-min', () => ({
  __esModule: true,
  default: mockPlotly
}));

/** Let promise callbacks (plotly's load, its draw) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await Promise.resolve();
  }
}

/** Let the next animation frame come, and what it starts finish. */
async function nextFrame(): Promise<void> {
  jest.advanceTimersByTime(20);
  await settle();
}

describe('PlotlyChart', () => {
  let points: IPoints;
  let range: [number, number];
  let measure: jest.Mock;
  let chart: PlotlyChart;
  const figure = jest.fn(
    ({ theme, buckets, xRange }: IFigureRequest): IFigure => {
      const [x0, x1] = xRange ?? [0, 100];
      return {
        data: [
          {
            type: 'scatter',
            mode: 'lines',
            uid: 'yl0',
            name: 'CPU %',
            yaxis: 'y',
            ...decimate(points, x0, x1, buckets)
          }
        ],
        layout: { xaxis: { range: [x0, x1] }, paper_bgcolor: theme.paper }
      };
    }
  );
  const drawn = (): string[] =>
    Array.from(chart.node.querySelectorAll('.traceyl0 path.js-line')).map(
      p => p.getAttribute('d') ?? ''
    );
  const draws = (): string[] => measure.mock.calls.map(c => c[1].detail.draw);

  beforeEach(() => {
    jest.useFakeTimers();
    measure = jest.fn();
    Object.assign(performance, { measure, clearMeasures: jest.fn() });
    mockPlotly.react.mockClear();
    figure.mockClear();
    points = {
      x: Array.from({ length: 100 }, (_, i) => i),
      y: Array.from({ length: 100 }, () => 50)
    };
    range = [0, 99];
  });

  afterEach(() => {
    chart.dispose();
    chart.node.remove();
    jest.useRealTimers();
  });

  function makeChart(options: { xRange?: boolean; minIntervalMs?: number }) {
    chart = new PlotlyChart({
      className: 'yl-TestPlot',
      figure,
      xRange: options.xRange ? () => range : undefined,
      minIntervalMs: options.minIntervalMs,
      measure: 'yolo-lab:test',
      detail: () => ({ points: points.x.length }),
      config: { modeBarButtonsToRemove: ['lasso2d'] }
    });
    document.body.append(chart.node);
    return chart;
  }

  it('loads plotly and draws the figure when shown', async () => {
    makeChart({ xRange: true });
    expect(chart.node.className).toBe('yl-TestPlot');
    await chart.show();
    expect(mockPlotly.react).toHaveBeenCalledTimes(1);
    const [node, data, layout, config] = mockPlotly.react.mock.calls[0];
    expect(node).toBe(chart.node);
    expect(data[0].name).toBe('CPU %');
    expect(layout.datarevision).toBe(1);
    expect(config).toEqual({
      displaylogo: false,
      responsive: true,
      modeBarButtonsToRemove: ['lasso2d']
    });
    // No plot width yet: 600 buckets; the theme's fallback colours.
    expect(figure).toHaveBeenCalledWith(
      expect.objectContaining({ buckets: 600, xRange: [0, 99] })
    );
    expect(layout.paper_bgcolor).toBe('#fff');
    expect(measure).toHaveBeenCalledWith('yolo-lab:test', {
      start: expect.any(Number),
      detail: { draw: 'plotly', points: 100 }
    });
  });

  it('coalesces updates into one draw per frame', async () => {
    makeChart({});
    await chart.show();
    chart.update();
    chart.update();
    chart.update();
    await nextFrame();
    expect(mockPlotly.react).toHaveBeenCalledTimes(2);
  });

  it('draws new points into the lines while the window moves less than a pixel', async () => {
    makeChart({ xRange: true });
    await chart.show();
    // 99 x units over 500 pixels: a fifth of a unit moves a pixel.
    points.x.push(99.1);
    points.y.push(60);
    range = [0.1, 99.1];
    chart.update();
    await nextFrame();
    expect(mockPlotly.react).toHaveBeenCalledTimes(1);
    expect(draws()).toEqual(['plotly', 'lines']);
    // Drawn on the axes plotly drew: the new point just past the right edge.
    expect(drawn()[0].endsWith('L500.51,80')).toBe(true);
    expect(measure.mock.calls[1][1].detail).toEqual({
      draw: 'lines',
      points: 101
    });
  });

  it('has plotly redraw when a point leaves the y range, a gap appears or the window moves a pixel', async () => {
    makeChart({ xRange: true });
    await chart.show();
    points.x.push(99.1);
    points.y.push(150);
    chart.update();
    await nextFrame();
    expect(draws()).toEqual(['plotly', 'plotly']);

    points.y[100] = 60;
    points.y[50] = null;
    chart.update();
    await nextFrame();
    expect(draws()).toEqual(['plotly', 'plotly', 'plotly']);
    expect(drawn()).toHaveLength(2);

    range = [1, 100];
    chart.update();
    await nextFrame();
    expect(draws().at(-1)).toBe('plotly');
    expect(mockPlotly.react).toHaveBeenCalledTimes(4);
  });

  it('never takes the line-only path without a moving window', async () => {
    makeChart({});
    await chart.show();
    points.x.push(99.1);
    points.y.push(60);
    chart.update();
    await nextFrame();
    expect(draws()).toEqual(['plotly', 'plotly']);
  });

  it('waits minIntervalMs between scheduled draws', async () => {
    makeChart({ minIntervalMs: 1000 });
    chart.update();
    await nextFrame();
    expect(mockPlotly.react).toHaveBeenCalledTimes(1);
    chart.update();
    await nextFrame();
    jest.advanceTimersByTime(500);
    await settle();
    expect(mockPlotly.react).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(500);
    await nextFrame();
    expect(mockPlotly.react).toHaveBeenCalledTimes(2);
  });

  it('redraws when the theme changes, once plotly has drawn', async () => {
    makeChart({});
    document.body.dataset.jpThemeName = 'JupyterLab Dark';
    await settle();
    expect(mockPlotly.react).not.toHaveBeenCalled();
    await chart.show();
    document.body.dataset.jpThemeName = 'JupyterLab Light';
    await settle();
    expect(mockPlotly.react).toHaveBeenCalledTimes(2);
  });

  it('redraws before a PNG export, so the image has every point', async () => {
    makeChart({ xRange: true });
    await chart.show();
    const click = jest
      .spyOn(HTMLAnchorElement.prototype, 'click')
      .mockImplementation(() => undefined);
    await chart.exportPNG('chart.png');
    expect(mockPlotly.react).toHaveBeenCalledTimes(2);
    expect(mockPlotly.toImage).toHaveBeenCalledWith(chart.node, {
      format: 'png',
      width: 600,
      height: 300
    });
    expect(click).toHaveBeenCalledTimes(1);
    click.mockRestore();
  });

  it('purges plotly and draws nothing more once disposed', async () => {
    makeChart({});
    await chart.show();
    chart.update();
    chart.dispose();
    await nextFrame();
    expect(mockPlotly.react).toHaveBeenCalledTimes(1);
    expect(mockPlotly.purge).toHaveBeenCalledWith(chart.node);
    expect(chart.isDisposed).toBe(true);
  });
});
