import { seriesFor } from '../telemetry/metrics';
import { pointsOf, StreamBuffer } from '../telemetry/stream';
import type { IEntry } from '../telemetry/stream';
import type { ITelemetrySample } from '../telemetry/types';

function sample(t: number, cpu: number, gpus = 0): ITelemetrySample {
  return {
    t,
    cpu_pct: cpu,
    ram_used_bytes: 2 * 2 ** 30,
    ram_total_bytes: 8 * 2 ** 30,
    proc_cpu_pct: cpu / 2,
    proc_rss_bytes: 2 ** 29,
    gpus: Array.from({ length: gpus }, (_, index) => ({
      index,
      util_pct: 50 + index,
      mem_used_bytes: 2 ** 30,
      mem_total_bytes: 80 * 2 ** 30,
      temp_c: 60,
      power_w: 300,
      proc_mem_bytes: 2 ** 29
    }))
  };
}

describe('StreamBuffer', () => {
  it('keeps samples in order and drops repeats of the same sampler', () => {
    const buffer = new StreamBuffer({ windowS: 60 });
    expect(buffer.append([sample(1, 10), sample(2, 20)], 'a', 1)).toHaveLength(
      2
    );
    // A history replay overlapping what is kept adds only what is new.
    const added = buffer.append(
      [sample(1, 10), sample(2, 20), sample(3, 30)],
      'a',
      1
    );
    expect(added.map(e => e.t)).toEqual([3]);
    expect(buffer.series(['cpu'])[0].y).toEqual([10, 20, 30]);
  });

  it('puts a gap between samplers (a kernel restart)', () => {
    const buffer = new StreamBuffer({ windowS: 60 });
    buffer.append([sample(1, 10), sample(2, 20)], 'a', 1);
    const added = buffer.append([sample(3, 30)], 'b', 1);
    expect(added.map(e => e.sample === null)).toEqual([true, false]);
    const [cpu] = buffer.series(['cpu']);
    expect(cpu.y).toEqual([10, 20, null, 30]);
    expect(cpu.x[2]).toBeGreaterThan(2);
    expect(cpu.x[2]).toBeLessThan(3);
    expect(buffer.samplerId).toBe('b');
  });

  it('puts a gap across a silence longer than three intervals', () => {
    const buffer = new StreamBuffer({ windowS: 600 });
    buffer.append([sample(1, 10), sample(2, 10), sample(30, 10)], 'a', 1);
    expect(buffer.series(['cpu'])[0].y).toEqual([10, 10, null, 10]);
  });

  it('forgets what is older than the window, and never starts on a gap', () => {
    const buffer = new StreamBuffer({ windowS: 10 });
    buffer.append([sample(0, 1), sample(1, 1)], 'a', 1);
    buffer.append([sample(5, 1)], 'b', 1);
    buffer.append([sample(14, 1)], 'b', 1);
    // 0 and 1 are out of the window, and so is the gap after them; the
    // silence from 5 to 14 is a gap of its own.
    expect(buffer.entries.map(e => e.t)).toEqual([5, 9.5, 14]);
    expect(buffer.entries[0].sample).not.toBeNull();
  });

  it('bounds memory by a point budget whatever the window', () => {
    const buffer = new StreamBuffer({ windowS: 1e9, maxPoints: 1000 });
    for (let i = 0; i < 50; i++) {
      buffer.append(
        Array.from({ length: 100 }, (_, j) => sample(i * 100 + j, j)),
        'a',
        1
      );
    }
    expect(buffer.entries).toHaveLength(1000);
    expect(buffer.last?.t).toBe(4999);
  });

  it('makes one series per GPU for GPU metrics', () => {
    const buffer = new StreamBuffer({ windowS: 60 });
    buffer.append([sample(1, 10, 2)], 'a', 1);
    const names = buffer.series(['gpu_util', 'cpu']).map(s => s.name);
    expect(names).toEqual(['GPU 0 util %', 'GPU 1 util %', 'CPU %']);
    expect(seriesFor(['gpu_util'], 0)).toEqual([]);
  });

  it('exports the samples as CSV, without gaps', () => {
    const buffer = new StreamBuffer({ windowS: 60 });
    buffer.append([sample(1, 10.123456789)], 'a', 1);
    buffer.append([sample(2, 20)], 'b', 1);
    const lines = buffer.toCSV(['cpu', 'ram']).trim().split('\n');
    expect(lines[0]).toBe('time,epoch_s,CPU %,RAM GiB');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toBe('1970-01-01T00:00:01.000Z,1,10.1235,2');
    expect(lines[2].split(',')[2]).toBe('20');
  });
});

describe('StreamBuffer kept columns', () => {
  it('stay equal to series built afresh through appends, gaps, trims and GPU changes', () => {
    const buffer = new StreamBuffer({ windowS: 30, maxPoints: 40 });
    const ids = ['cpu', 'gpu_util', 'proc_rss'];
    let t = 0;
    let seed = 7;
    const next = (): number =>
      (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let step = 0; step < 300; step++) {
      // Mostly 1 s apart, sometimes a silence (a gap), a new sampler or a
      // different GPU count.
      t += next() < 0.05 ? 10 : 1;
      const sampler = next() < 0.02 ? `s${step}` : (buffer.samplerId ?? 'a');
      const gpus = step < 100 ? 0 : step < 200 ? 2 : 1;
      buffer.append([sample(t, Math.round(next() * 100), gpus)], sampler, 1);
      if (step === 250) {
        buffer.windowS = 10;
      }
      const fresh = pointsOf(
        buffer.entries as IEntry[],
        seriesFor(ids, buffer.gpuCount)
      );
      expect(buffer.series(ids)).toEqual(fresh);
    }
    // The two-GPU samples have left the window.
    expect(buffer.gpuCount).toBe(1);
  });

  it('hands out copies', () => {
    const buffer = new StreamBuffer({ windowS: 60 });
    buffer.append([sample(1, 10), sample(2, 20)], 'a', 1);
    buffer.series(['cpu'])[0].y.push(99);
    buffer.append([sample(3, 30)], 'a', 1);
    expect(buffer.series(['cpu'])[0].y).toEqual([10, 20, 30]);
  });
});
