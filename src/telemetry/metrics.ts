/**
 * What can be plotted from a sample: each metric yields one series per GPU
 * (GPU metrics) or one series (machine and process metrics).
 */
import type { ITelemetrySample } from './types';

/** The axis a metric is drawn against. */
export type Axis = 'percent' | 'gib' | 'celsius' | 'watts';

/** A plottable quantity. */
export interface IMetric {
  /** Stable id, used in settings. */
  id: string;
  /** Legend label; `{gpu}` is replaced by the GPU index. */
  label: string;
  axis: Axis;
  /** Per GPU (one series each) or one series. */
  perGpu: boolean;
  /** The value for one sample (and GPU position), or null. */
  value(sample: ITelemetrySample, gpu: number): number | null;
}

const GIB = 2 ** 30;
const gib = (bytes: number | null | undefined): number | null =>
  bytes === null || bytes === undefined ? null : bytes / GIB;

/** Every metric yolo-lab knows, in legend order. */
export const METRICS: IMetric[] = [
  {
    id: 'gpu_util',
    label: 'GPU {gpu} util %',
    axis: 'percent',
    perGpu: true,
    value: (s, g) => s.gpus[g]?.util_pct ?? null
  },
  {
    id: 'gpu_mem',
    label: 'GPU {gpu} memory GiB',
    axis: 'gib',
    perGpu: true,
    value: (s, g) => gib(s.gpus[g]?.mem_used_bytes)
  },
  {
    id: 'gpu_proc_mem',
    label: 'GPU {gpu} memory of this kernel GiB',
    axis: 'gib',
    perGpu: true,
    value: (s, g) => gib(s.gpus[g]?.proc_mem_bytes)
  },
  {
    id: 'gpu_temp',
    label: 'GPU {gpu} °C',
    axis: 'celsius',
    perGpu: true,
    value: (s, g) => s.gpus[g]?.temp_c ?? null
  },
  {
    id: 'gpu_power',
    label: 'GPU {gpu} W',
    axis: 'watts',
    perGpu: true,
    value: (s, g) => s.gpus[g]?.power_w ?? null
  },
  {
    id: 'cpu',
    label: 'CPU %',
    axis: 'percent',
    perGpu: false,
    value: s => s.cpu_pct
  },
  {
    id: 'ram',
    label: 'RAM GiB',
    axis: 'gib',
    perGpu: false,
    value: s => gib(s.ram_used_bytes)
  },
  {
    id: 'proc_cpu',
    label: 'kernel CPU % (100 = 1 core)',
    axis: 'percent',
    perGpu: false,
    value: s => s.proc_cpu_pct
  },
  {
    id: 'proc_rss',
    label: 'kernel RAM GiB',
    axis: 'gib',
    perGpu: false,
    value: s => gib(s.proc_rss_bytes)
  }
];

/** Metrics shown when the settings name none. */
export const DEFAULT_METRICS = [
  'gpu_util',
  'gpu_mem',
  'cpu',
  'ram',
  'proc_cpu'
];

/** One series of a chart: a metric, for one GPU or the machine. */
export interface ISeriesKey {
  metric: IMetric;
  gpu: number;
  name: string;
}

/** The series to draw for the chosen metrics and the GPUs present. */
export function seriesFor(metricIds: string[], gpuCount: number): ISeriesKey[] {
  const chosen = METRICS.filter(m => metricIds.includes(m.id));
  const keys: ISeriesKey[] = [];
  for (const metric of chosen) {
    if (metric.perGpu) {
      for (let gpu = 0; gpu < gpuCount; gpu++) {
        keys.push({
          metric,
          gpu,
          name: metric.label.replace('{gpu}', String(gpu))
        });
      }
    } else {
      keys.push({ metric, gpu: 0, name: metric.label });
    }
  }
  return keys;
}
