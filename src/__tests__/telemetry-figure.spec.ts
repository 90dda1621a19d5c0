import { FALLBACK_THEME, type IChartTheme } from '../charts/theme';
import { telemetryFigure } from '../telemetry/figure';
import { StreamBuffer } from '../telemetry/stream';
import type { ITelemetrySample } from '../telemetry/types';

const GIB = 2 ** 30;

function sample(t: number, gpus = 0): ITelemetrySample {
  return {
    t,
    cpu_pct: 20 + (t % 10),
    ram_used_bytes: 3 * GIB,
    ram_total_bytes: 8 * GIB,
    proc_cpu_pct: 50,
    proc_rss_bytes: GIB,
    gpus: Array.from({ length: gpus }, (_, index) => ({
      index,
      util_pct: 90 - index,
      mem_used_bytes: 10 * GIB,
      mem_total_bytes: 80 * GIB,
      temp_c: 60,
      power_w: 300,
      proc_mem_bytes: 2 * GIB
    }))
  };
}

/** The series a telemetry chart draws from a buffer of these samples. */
function seriesOf(samples: ITelemetrySample[], metrics: string[]) {
  const buffer = new StreamBuffer({ windowS: 1e6, maxPoints: 1e6 });
  buffer.append(samples, 'a', 1);
  return buffer.series(metrics);
}

const DARK: IChartTheme = { font: '#e0e0e0', grid: '#424242', paper: '#111' };

describe('telemetryFigure', () => {
  const t0 = 1_764_000_000;
  const cpuSamples = Array.from({ length: 60 }, (_, i) => sample(t0 + i));
  const range: [number, number] = [(t0 - 240) * 1000, (t0 + 59) * 1000];

  it('draws the CPU view: one line trace per series, on the axis of its unit', () => {
    const series = seriesOf(cpuSamples, ['gpu_util', 'cpu', 'ram', 'proc_cpu']);
    const { data, layout } = telemetryFigure(series, {
      theme: FALLBACK_THEME,
      range,
      buckets: 600
    });
    // No GPU in the samples: no GPU series.
    expect(data.map(t => [t.name, t.yaxis, t.uid])).toEqual([
      ['CPU %', 'y', 'yl0'],
      ['RAM GiB', 'y2', 'yl1'],
      ['kernel CPU % (100 = 1 core)', 'y', 'yl2']
    ]);
    for (const trace of data) {
      expect(trace.mode).toBe('lines');
      expect(trace.line).toEqual({ width: 1.5, simplify: false });
      expect(trace.x).toHaveLength(60);
    }
    // x in epoch milliseconds; RAM in GiB.
    expect(data[0].x[0]).toBe(t0 * 1000);
    expect(data[1].y[0]).toBe(3);
    expect((layout.xaxis as any).range).toEqual(range);
    expect((layout.xaxis as any).type).toBe('date');
    // No watts: the W axis is hidden and takes no margin.
    expect((layout.yaxis3 as any).visible).toBe(false);
    expect((layout.margin as any).r).toBe(44);
  });

  it('draws the GPU view: one series per GPU, and a W axis for power', () => {
    const series = seriesOf(
      [sample(t0, 2), sample(t0 + 1, 2)],
      ['gpu_util', 'gpu_mem', 'gpu_power', 'cpu']
    );
    const { data, layout } = telemetryFigure(series, {
      theme: FALLBACK_THEME,
      range,
      buckets: 600
    });
    expect(data.map(t => [t.name, t.yaxis])).toEqual([
      ['GPU 0 util %', 'y'],
      ['GPU 1 util %', 'y'],
      ['GPU 0 memory GiB', 'y2'],
      ['GPU 1 memory GiB', 'y2'],
      ['GPU 0 W', 'y3'],
      ['GPU 1 W', 'y3'],
      ['CPU %', 'y']
    ]);
    expect(data[1].y).toEqual([89, 89]);
    expect((layout.yaxis3 as any).visible).toBe(true);
    expect((layout.margin as any).r).toBe(80);
  });

  it('decimates each series to about two points per bucket of the range, keeping gaps', () => {
    const samples = Array.from({ length: 10000 }, (_, i) => sample(t0 + i));
    const buffer = new StreamBuffer({ windowS: 1e6, maxPoints: 1e6 });
    buffer.append(samples.slice(0, 5000), 'a', 1);
    // Another sampler (a restarted kernel): a gap.
    buffer.append(samples.slice(5000), 'b', 1);
    const { data } = telemetryFigure(buffer.series(['cpu', 'ram']), {
      theme: FALLBACK_THEME,
      range: [t0 * 1000, (t0 + 9999) * 1000],
      buckets: 200
    });
    for (const trace of data) {
      expect(trace.x.length).toBeGreaterThan(200);
      // Two per bucket, the range's right edge a bucket of its own, the gap.
      expect(trace.x.length).toBeLessThanOrEqual(2 * 201 + 1);
      expect(trace.y.filter(y => y === null)).toHaveLength(1);
    }
    // The extremes stay.
    expect(Math.max(...(data[0].y as number[]))).toBe(29);
    expect(Math.min(...data[0].y.filter((y): y is number => y !== null))).toBe(
      20
    );
  });

  it('takes its colours from the theme given', () => {
    const { layout } = telemetryFigure(seriesOf(cpuSamples, ['cpu']), {
      theme: DARK,
      range,
      buckets: 600
    });
    expect(layout.paper_bgcolor).toBe('#111');
    expect(layout.plot_bgcolor).toBe('#111');
    expect((layout.font as any).color).toBe('#e0e0e0');
    for (const axis of ['xaxis', 'yaxis', 'yaxis2', 'yaxis3']) {
      expect(layout[axis]).toMatchObject({
        gridcolor: '#424242',
        zerolinecolor: '#424242',
        color: '#e0e0e0'
      });
    }
  });

  it('is a pure function of its inputs', () => {
    const series = seriesOf(cpuSamples, ['cpu', 'ram']);
    const copy = JSON.parse(JSON.stringify(series));
    const options = { theme: FALLBACK_THEME, range, buckets: 100 };
    expect(telemetryFigure(series, options)).toEqual(
      telemetryFigure(series, options)
    );
    expect(series).toEqual(copy);
  });
});
