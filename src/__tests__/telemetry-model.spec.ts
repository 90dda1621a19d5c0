import { TelemetryChange, TelemetryModel } from '../telemetry/model';
import type { ITelemetryBatch, ITelemetrySample } from '../telemetry/types';

const s = (t: number): ITelemetrySample => ({
  t,
  cpu_pct: 5,
  ram_used_bytes: 1,
  ram_total_bytes: 2,
  proc_cpu_pct: 1,
  proc_rss_bytes: 1,
  gpus: []
});

const batch = (
  samples: ITelemetrySample[],
  extra: Partial<ITelemetryBatch> = {}
): ITelemetryBatch => ({
  v: 1,
  type: 'telemetry_batch',
  sampler_id: 'a',
  source: 'psutil',
  interval_s: 1,
  history: false,
  samples,
  ...extra
});

describe('TelemetryModel', () => {
  let model: TelemetryModel;
  let changes: TelemetryChange[];

  beforeEach(() => {
    model = new TelemetryModel({ windowS: 60 });
    changes = [];
    model.changed.connect((_, c) => changes.push(c));
  });

  it('appends batches and reports only the new entries', () => {
    model.addBatch(batch([s(1), s(2)], { history: true }));
    model.addBatch(batch([s(2), s(3)]));
    const appended = changes.filter(c => c.kind === 'append');
    expect(
      appended.map(c => (c.kind === 'append' ? c.entries.length : 0))
    ).toEqual([2, 1]);
    expect(model.source).toBe('psutil');
  });

  it('keeps collecting while paused and asks for a redraw on resume', () => {
    model.addBatch(batch([s(1)]));
    model.paused = true;
    model.addBatch(batch([s(2)]));
    expect(model.buffer.entries).toHaveLength(2);
    changes = [];
    model.paused = false;
    expect(changes.map(c => c.kind)).toEqual(['state', 'reset']);
  });

  it('shows the notice of a lost GPU and clears it when NVML is back', () => {
    model.addBatch(batch([s(1)], { source: 'nvml' }));
    model.addNotice({
      v: 1,
      type: 'telemetry_notice',
      sampler_id: 'a',
      level: 'warning',
      code: 'nvml_lost',
      message: 'NVML stopped answering; showing the CPU view.'
    });
    model.addBatch(batch([s(2)], { source: 'psutil' }));
    expect(model.notice).toContain('CPU view');
    model.addBatch(batch([s(3)], { sampler_id: 'b', source: 'nvml' }));
    expect(model.notice).toBeNull();
  });

  it('takes a saved monitor output whole, then its updates', () => {
    model.setDisplay({
      v: 1,
      sampler_id: 'a',
      source: 'psutil',
      interval_s: 1,
      window_s: 30,
      live: true,
      samples: [s(1), s(2)]
    });
    model.setDisplay({
      v: 1,
      sampler_id: 'a',
      source: 'psutil',
      interval_s: 1,
      window_s: 30,
      live: false,
      samples: [s(1), s(2), s(3)]
    });
    expect(model.windowS).toBe(30);
    expect(model.live).toBe(false);
    expect(model.buffer.entries.map(e => e.t)).toEqual([1, 2, 3]);
  });

  it('clears for another kernel', () => {
    model.addBatch(batch([s(1)]));
    model.clear();
    expect(model.buffer.entries).toHaveLength(0);
    expect(model.source).toBeNull();
    expect(changes[changes.length - 1].kind).toBe('reset');
  });
});
