import { FALLBACK_THEME, type IChartTheme } from '../charts/theme';
import type { ITelemetrySample } from '../telemetry/types';
import { batchPosition, epochClock } from '../training/epochAxis';
import { bucketMeans, runFigure } from '../training/figure';
import { RunModel } from '../training/model';
import type { IRunEvent } from '../training/types';

const GIB = 2 ** 30;
const T0 = 1_764_000_000;

function batch(i: number): IRunEvent {
  return {
    t: T0 + i,
    kind: 'batch',
    epoch: Math.floor(i / 10),
    epochs: 100,
    batch: i % 10,
    batches: 10,
    box: 0.1 + (i % 7) / 100,
    obj: 0.05,
    cls: 0.02,
    imgs_per_s: 100 + (i % 3),
    gpu_mem_gib: null
  };
}

function epoch(k: number): IRunEvent {
  return {
    t: T0 + k * 10 + 9.5,
    kind: 'epoch',
    epoch: k,
    epochs: 100,
    precision: 0.5,
    recall: 0.5,
    map50: k / 10,
    map: k / 20,
    epoch_time_s: 10
  };
}

function telemetry(t: number, gpus: number): IRunEvent {
  const sample: ITelemetrySample = {
    t,
    cpu_pct: 75,
    ram_used_bytes: 4 * GIB,
    ram_total_bytes: 8 * GIB,
    proc_cpu_pct: 150,
    proc_rss_bytes: 2 * GIB,
    gpus: Array.from({ length: gpus }, (_, index) => ({
      index,
      util_pct: 95 - index,
      mem_used_bytes: (12 + index) * GIB,
      mem_total_bytes: 80 * GIB,
      temp_c: 70,
      power_w: 350,
      proc_mem_bytes: 11 * GIB
    }))
  };
  return { t, kind: 'telemetry', sample };
}

/** A run model fed one history of these events, as the view holds it. */
function run(events: IRunEvent[]): RunModel {
  const model = new RunModel('/runs/train/exp');
  model.add({
    v: 1,
    type: 'run_events',
    run: '/runs/train/exp',
    history: true,
    status: { status: 'running' },
    events
  });
  return model;
}

const DARK: IChartTheme = { font: '#e0e0e0', grid: '#424242', paper: '#111' };

describe('runFigure', () => {
  const events = [
    ...Array.from({ length: 30 }, (_, i) => batch(i)),
    epoch(0),
    epoch(1),
    telemetry(T0 + 5, 0),
    telemetry(T0 + 15, 0)
  ];

  it('draws losses, mAP, images/s and CPU on five axes without a GPU', () => {
    const { data, layout } = runFigure(run(events), {
      theme: FALLBACK_THEME,
      buckets: 600
    });
    expect(data.map(t => [t.name, t.yaxis, t.mode])).toEqual([
      ['box loss', 'y', 'lines'],
      ['obj loss', 'y', 'lines'],
      ['cls loss', 'y', 'lines'],
      ['mAP@0.5', 'y2', 'lines+markers'],
      ['mAP@0.5:0.95', 'y2', 'lines+markers'],
      ['images/s', 'y3', 'lines'],
      ['CPU %', 'y4', 'lines'],
      ['training RAM GiB', 'y5', 'lines']
    ]);
    expect(new Set(data.map(t => t.uid)).size).toBe(data.length);
    expect(data.map(t => t.x.length)).toEqual([30, 30, 30, 2, 2, 30, 2, 2]);
    // x in epoch milliseconds; memory in GiB, dotted.
    expect(data[0].x[0]).toBe(T0 * 1000);
    expect(data[3].y).toEqual([0, 0.1]);
    expect(data[7].y).toEqual([2, 2]);
    expect(data[7].line).toEqual({ width: 1.5, dash: 'dot' });
    expect((layout.yaxis4 as any).title.text).toBe('CPU %');
    expect((layout.yaxis4 as any).range).toEqual([0, 100]);
    expect((layout.yaxis5 as any).overlaying).toBe('y4');
    expect((layout.xaxis as any).anchor).toBe('y4');
  });

  it('draws utilization and memory per GPU with GPUs', () => {
    const { data, layout } = runFigure(
      run([batch(0), batch(1), telemetry(T0, 2), telemetry(T0 + 1, 2)]),
      { theme: FALLBACK_THEME, buckets: 600 }
    );
    expect(data.slice(6).map(t => [t.name, t.yaxis])).toEqual([
      ['GPU 0 util %', 'y4'],
      ['GPU 0 memory GiB', 'y5'],
      ['GPU 1 util %', 'y4'],
      ['GPU 1 memory GiB', 'y5']
    ]);
    expect(data[8].y).toEqual([94, 94]);
    expect(data[9].y).toEqual([13, 13]);
    expect((layout.yaxis4 as any).title.text).toBe('GPU %');
  });

  it('decimates long runs to about two points per bucket of the run span', () => {
    const long = Array.from({ length: 5000 }, (_, i) => batch(i));
    const { data } = runFigure(run([...long, epoch(0)]), {
      theme: FALLBACK_THEME,
      buckets: 100
    });
    const [box] = data;
    expect(box.x.length).toBeGreaterThan(100);
    // The run's last point opens a bucket of its own.
    expect(box.x.length).toBeLessThanOrEqual(2 * 101);
    // Spikes stay: the highest and lowest loss are drawn.
    expect(Math.max(...(box.y as number[]))).toBeCloseTo(0.16, 10);
    expect(Math.min(...(box.y as number[]))).toBeCloseTo(0.1, 10);
    // One epoch: nothing to decimate.
    expect(data[3].x).toHaveLength(1);
  });

  it('takes its colours from the theme given', () => {
    const { layout } = runFigure(run(events), { theme: DARK, buckets: 600 });
    expect(layout).toMatchObject({
      paper_bgcolor: '#111',
      plot_bgcolor: '#111',
      font: { color: '#e0e0e0' }
    });
    for (const axis of ['xaxis', 'yaxis', 'yaxis2', 'yaxis3', 'yaxis4']) {
      expect(layout[axis]).toMatchObject({
        gridcolor: '#424242',
        color: '#e0e0e0'
      });
    }
  });

  it('draws an empty figure for a run with no events yet', () => {
    const { data } = runFigure(
      { batches: [], epochs: [], telemetry: [] },
      { theme: FALLBACK_THEME, buckets: 600 }
    );
    expect(data).toHaveLength(8);
    expect(data.every(t => t.x.length === 0)).toBe(true);
  });

  it("stacks where each batch went, and the workers' CPU, for runs that measured them", () => {
    const split = Array.from({ length: 30 }, (_, i) => ({
      ...batch(i),
      data_s: 0.03,
      compute_s: 0.07,
      sync_s: null
    }));
    const sample = telemetry(T0 + 5, 0) as any;
    sample.sample.workers_cpu_pct = 90;
    const { data, layout } = runFigure(run([...split, epoch(0), sample]), {
      theme: FALLBACK_THEME,
      buckets: 600
    });
    const band = data.filter(t => t.yaxis === 'y6');
    // No DDP: no sync layer. Data at the bottom, in milliseconds.
    expect(band.map(t => [t.name, t.stackgroup])).toEqual([
      ['waiting for data ms', 'split'],
      ['computing ms', 'split']
    ]);
    expect(band[0].y[0]).toBeCloseTo(30, 10);
    expect(band[1].y[0]).toBeCloseTo(70, 10);
    const workers = data.find(t => t.name === 'workers CPU %');
    expect(workers?.yaxis).toBe('y4');
    expect(workers?.y).toEqual([90]);
    // Five panels, top to bottom, none overlapping.
    const domains = ['yaxis', 'yaxis2', 'yaxis3', 'yaxis6', 'yaxis4'].map(
      a => (layout[a] as any).domain as [number, number]
    );
    expect(domains[0][1]).toBe(1);
    expect(domains[4][0]).toBe(0);
    for (let k = 1; k < domains.length; k++) {
      expect(domains[k][1]).toBeLessThan(domains[k - 1][0]);
    }
    expect((layout.yaxis6 as any).title.text).toBe('ms/batch');
  });

  it('has no time-split panel for a run from before it was measured', () => {
    const { layout } = runFigure(run(events), {
      theme: FALLBACK_THEME,
      buckets: 600
    });
    expect(layout.yaxis6).toBeUndefined();
  });
});

describe('runFigure on the epoch axis', () => {
  const events = [
    ...Array.from({ length: 30 }, (_, i) => batch(i)),
    epoch(0),
    epoch(1),
    // Before the first batch ended, between batches 4 and 5, after the last.
    telemetry(T0 - 1, 0),
    telemetry(T0 + 4.5, 0),
    telemetry(T0 + 40, 0)
  ];
  const byEpoch = (model: RunModel, buckets = 600) =>
    runFigure(model, { theme: FALLBACK_THEME, buckets, x: 'epoch' });

  it("places each batch at its end and each epoch's mAP at the epoch's end", () => {
    const { data, layout } = byEpoch(run(events));
    const [box, , , map50, map, ips] = data;
    // Batch b of 10 in epoch e at e + (b + 1) / 10: epoch 1's last batch and
    // its mAP share x = 1.
    expect(box.x[0]).toBeCloseTo(0.1, 10);
    expect(box.x[9]).toBeCloseTo(1, 10);
    expect(box.x[10]).toBeCloseTo(1.1, 10);
    expect(box.x[29]).toBeCloseTo(3, 10);
    expect(ips.x).toEqual(box.x);
    expect(map50.x).toEqual([1, 2]);
    expect(map.x).toEqual([1, 2]);
    expect(layout.xaxis).toMatchObject({
      type: 'linear',
      title: { text: 'epoch' },
      dtick: 1,
      autorange: true,
      rangemode: 'tozero'
    });
  });

  it('interpolates telemetry between batch ends, leaving out what lies outside', () => {
    const { data } = byEpoch(run(events));
    const cpu = data.find(t => t.name === 'CPU %')!;
    // Halfway between batch 4 (x 0.5) and batch 5 (x 0.6).
    expect(cpu.x).toHaveLength(1);
    expect(cpu.x[0]).toBeCloseTo(0.55, 10);
    expect(cpu.customdata).toEqual([1]);
  });

  it('shows the first epoch whole until it is done', () => {
    const { layout } = byEpoch(run([batch(0), batch(1)]));
    expect(layout.xaxis).toMatchObject({ range: [0, 1], autorange: false });
  });

  it('keeps a zoom per axis: switching axes resets it', () => {
    const model = run(events);
    const time = runFigure(model, { theme: FALLBACK_THEME, buckets: 600 });
    expect(time.layout.uirevision).not.toEqual(
      byEpoch(model).layout.uirevision
    );
    expect((time.layout.xaxis as any).type).toBe('date');
  });

  it('draws validation losses at epoch ends when the epochs carry them', () => {
    const withVal = [0, 1].map(k => ({
      ...epoch(k),
      val_box: 0.2 - k / 100,
      val_obj: 0.1,
      val_cls: null
    }));
    const { data } = byEpoch(run([batch(0), ...withVal]));
    const val = data.filter(t => t.name.startsWith('val '));
    // After every other trace: their arrival moves no other's colour.
    expect(data.slice(-2)).toEqual(val);
    expect(val.map(t => [t.name, t.yaxis, t.mode])).toEqual([
      ['val box loss', 'y', 'lines+markers'],
      ['val obj loss', 'y', 'lines+markers']
    ]);
    expect(val[0].x).toEqual([1, 2]);
    expect(val[0].y).toEqual([0.2, 0.19]);
    expect(val[0].customdata).toEqual([1, 2]);
  });
});

describe('run figure hover', () => {
  const events = [
    ...Array.from({ length: 30 }, (_, i) => batch(i)),
    epoch(0),
    epoch(1),
    telemetry(T0 - 1, 0),
    telemetry(T0 + 4.5, 0)
  ];

  it.each(['time', 'epoch'] as const)(
    'names the epoch of every point on the %s axis',
    x => {
      const { data } = runFigure(run(events), {
        theme: FALLBACK_THEME,
        buckets: 600,
        x
      });
      for (const trace of data) {
        expect(trace.hovertemplate).toMatch(/epoch %\{customdata(\[0\])?\}/);
        expect((trace.customdata as unknown[]).length).toBe(trace.x.length);
        // On the time axis the hover starts with the time.
        expect(
          (trace.hovertemplate as string).startsWith('%{x|%H:%M:%S}')
        ).toBe(x === 'time');
      }
      const [box, , , map50] = data;
      expect(box.hovertemplate).toContain(
        'epoch %{customdata[0]}, batch %{customdata[1]}/%{customdata[2]}'
      );
      // 1-based, as the log counts: batch 12 is epoch 2's third.
      expect(box.customdata as unknown[][]).toContainEqual([2, 3, 10]);
      expect((box.customdata as unknown[][])[0]).toEqual([1, 1, 10]);
      expect(map50.customdata).toEqual([1, 2]);
    }
  );

  it('says no epoch for telemetry from before the first batch', () => {
    const { data } = runFigure(run(events), {
      theme: FALLBACK_THEME,
      buckets: 600
    });
    const cpu = data.find(t => t.name === 'CPU %')!;
    expect(cpu.customdata).toEqual(['–', 1]);
  });

  it.each(['time', 'epoch'] as const)(
    'keeps the hover data of the points a decimation keeps (%s axis)',
    x => {
      const long = Array.from({ length: 5000 }, (_, i) => batch(i));
      const [box] = runFigure(run(long), {
        theme: FALLBACK_THEME,
        buckets: 100,
        x
      }).data;
      expect(box.x.length).toBeLessThan(5000);
      const custom = box.customdata as number[][];
      expect(custom).toHaveLength(box.x.length);
      box.x.forEach((v, k) => {
        // The batch drawn at this point, from its x.
        const i =
          x === 'time' ? Math.round(v / 1000 - T0) : Math.round(v * 10) - 1;
        expect(custom[k]).toEqual([Math.floor(i / 10) + 1, (i % 10) + 1, 10]);
        expect(box.y[k]).toBeCloseTo(0.1 + (i % 7) / 100, 10);
      });
    }
  );

  it('names the epoch of the time-split band', () => {
    const split = Array.from({ length: 20 }, (_, i) => ({
      ...batch(i),
      data_s: 0.03,
      compute_s: 0.07
    }));
    for (const x of ['time', 'epoch'] as const) {
      const band = runFigure(run(split), {
        theme: FALLBACK_THEME,
        buckets: 600,
        x
      }).data.filter(t => t.yaxis === 'y6');
      expect(band[0].customdata).toEqual([
        ...Array(10).fill(1),
        ...Array(10).fill(2)
      ]);
    }
  });
});

describe('epochClock', () => {
  it('reads a time as a place on the epoch axis and the epoch running', () => {
    const clock = epochClock(
      Array.from({ length: 20 }, (_, i) => batch(i) as any)
    );
    expect(clock.position(T0)).toBeCloseTo(0.1, 10);
    expect(clock.position(T0 + 9.5)).toBeCloseTo(1.05, 10);
    expect(clock.position(T0 - 0.5)).toBeNull();
    expect(clock.position(T0 + 19.5)).toBeNull();
    // Batch 10 (epoch 2's first) runs until T0 + 10.
    expect(clock.epoch(T0 + 9.5)).toBe(2);
    expect(clock.epoch(T0 + 9)).toBe(1);
    // After the last batch: its epoch (the final validation).
    expect(clock.epoch(T0 + 100)).toBe(2);
    expect(clock.epoch(T0 - 1)).toBeNull();
  });

  it('has no place for the time across a resume, where positions step back', () => {
    // Stopped in epoch 1 (0-based) at batch 4; the resume redoes epoch 1.
    const before = [batch(13), batch(14)] as any[];
    const after = [
      { ...batch(10), t: T0 + 100 },
      { ...batch(11), t: T0 + 101 }
    ] as any[];
    const clock = epochClock([...before, ...after]);
    expect(batchPosition(after[0])).toBeLessThan(batchPosition(before[1]));
    expect(clock.position(T0 + 50)).toBeNull();
    expect(clock.position(T0 + 100.5)).toBeCloseTo(1.15, 10);
    expect(clock.epoch(T0 + 50)).toBe(2);
  });
});

describe('bucketMeans', () => {
  it('averages every series over the same x, so stacked layers add up', () => {
    const x = [0, 1, 2, 3, 4, 5, 6, 7];
    const { x: bx, ys } = bucketMeans(
      x,
      [
        [1, 3, 1, 3, 1, 3, 1, 3],
        [2, 2, null, 4, 2, 2, 2, 2]
      ],
      0,
      8,
      4
    );
    expect(bx).toEqual([0.5, 2.5, 4.5, 6.5]);
    expect(ys[0]).toEqual([2, 2, 2, 2]);
    // A missing value is left out of its bucket's mean, not taken as 0.
    expect(ys[1]).toEqual([2, 4, 2, 2]);
  });

  it('keeps short series as they are', () => {
    expect(bucketMeans([0, 1], [[5, undefined]], 0, 1, 10)).toEqual({
      x: [0, 1],
      ys: [[5, null]]
    });
  });
});
