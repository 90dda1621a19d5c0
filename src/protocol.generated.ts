/**
 * Generated from protocol/yolo_lab.schema.json by scripts/gen-protocol-types.js.
 * Do not edit: change the schema and run `npm run gen:protocol`.
 */

/**
 * Every message sent over the 'yolo_lab' comm, in both directions. Major version 1. Read by the Python package (jsonschema) and the TypeScript extension (ajv): this file is the only definition of the protocol.
 */
export type YoloLabCommProtocol = {
  v: 1;
  type:
    | 'hello'
    | 'doctor_request'
    | 'doctor_report'
    | 'error'
    | 'telemetry_subscribe'
    | 'telemetry_unsubscribe'
    | 'telemetry_batch'
    | 'telemetry_notice'
    | 'run_subscribe'
    | 'run_unsubscribe'
    | 'run_stop'
    | 'run_stop_result'
    | 'runs_request'
    | 'runs_list'
    | 'run_events';
};
export type NullableString = string | null;
export type NullableNumber = number | null;
/**
 * nvml: GPUs through nvidia-ml-py; psutil: CPU and RAM only
 */
export type TelemetrySource = 'nvml' | 'psutil';
/**
 * One line of a run's yolo_lab_events.jsonl: t (epoch seconds), kind and the kind's fields.
 */
export type RunEvent = {
  t: number;
  kind:
    | 'start'
    | 'status'
    | 'amp'
    | 'autobatch'
    | 'batch'
    | 'epoch'
    | 'saved'
    | 'summary'
    | 'telemetry'
    | 'telemetry_source'
    | 'notice'
    | 'advice'
    | 'hung'
    | 'error'
    | 'end';
  [k: string]: unknown;
};

/**
 * Sent by each side when the comm opens: the frontend in the comm_open data, the kernel as its first message.
 */
export interface Hello {
  v: 1;
  type: 'hello';
  side: 'frontend' | 'kernel';
  /**
   * yolo-lab package version of the sender
   */
  version: string;
}
/**
 * Frontend asks the kernel to check its environment.
 */
export interface DoctorRequest {
  v: 1;
  type: 'doctor_request';
  id: string;
  /**
   * DataLoader workers the user plans to use (decides the /dev/shm rule).
   */
  workers?: number;
}
/**
 * The environment as the kernel process sees it, with findings.
 */
export interface DoctorReport {
  v: 1;
  type: 'doctor_report';
  /**
   * id of the request answered; null when pushed unasked
   */
  id: string | null;
  report: Report;
}
export interface Report {
  /**
   * epoch seconds
   */
  generated_at: number;
  workers: number;
  python: {
    version: string;
    executable: string;
  };
  torch: {
    installed: boolean;
    version: NullableString;
    /**
     * torch.version.cuda: the CUDA runtime torch was built with; null for a CPU-only build
     */
    cuda_build: string | null;
    cudnn: number | null;
    cuda_available: boolean;
    device_count: number;
    error: NullableString;
  };
  driver: {
    /**
     * NVML answered
     */
    nvml: boolean;
    version: NullableString;
    /**
     * newest CUDA the driver supports
     */
    cuda_driver_version: string | null;
    /**
     * an NVIDIA device node, driver or NVML device exists on this machine
     */
    nvidia_device_present: boolean;
    error: NullableString;
  };
  gpus: {
    /**
     * index as the kernel sees it (cuda:N)
     */
    index: number;
    name: string;
    memory_total_bytes: number | null;
    compute_capability: NullableString;
    uuid?: NullableString;
  }[];
  cuda_visible_devices: NullableString;
  system: {
    cpu_count: number;
    ram_total_bytes: number | null;
    shm_total_bytes: number | null;
    in_container: boolean;
    container_kind: NullableString;
    platform: string;
  };
  yolov5: {
    available: boolean;
    version: NullableString;
    location: NullableString;
    source: 'package' | 'checkout' | null;
    error: NullableString;
  };
  findings: Finding[];
}
export interface Finding {
  /**
   * stable rule id, e.g. no_gpu, driver_too_old, driver_limited, cpu_torch_build, shm_small, yolov5_missing, torch_missing
   */
  id: string;
  severity: 'error' | 'warning' | 'info';
  title: string;
  /**
   * one line: why
   */
  cause: string;
  /**
   * the command or flag that fixes it
   */
  fix: string;
}
/**
 * A request that could not be served, or a message that could not be understood.
 */
export interface Error {
  v: 1;
  type: 'error';
  id?: string | null;
  code: 'bad_message' | 'unsupported_version' | 'unknown_type' | 'internal';
  message: string;
}
/**
 * Frontend starts listening to the kernel's telemetry sampler (one per kernel, started on the first listener). The kernel answers with a batch holding its history, then live batches.
 */
export interface TelemetrySubscribe {
  v: 1;
  type: 'telemetry_subscribe';
  id: string;
  /**
   * sampling interval; the sampler is shared, the last request sets it
   */
  interval_s?: number;
}
/**
 * Frontend stops listening; the sampler stops when no one listens.
 */
export interface TelemetryUnsubscribe {
  v: 1;
  type: 'telemetry_unsubscribe';
  id?: string | null;
}
/**
 * Samples from the kernel's sampler, batched so that at most a few messages a second leave the kernel whatever the rate.
 */
export interface TelemetryBatch {
  v: 1;
  type: 'telemetry_batch';
  /**
   * new for every sampler start: a change means a gap (kernel restart)
   */
  sampler_id: string;
  source: TelemetrySource;
  interval_s: number;
  /**
   * true for the ring-buffer replay sent on subscribe
   */
  history: boolean;
  samples: TelemetrySample[];
}
export interface TelemetrySample {
  /**
   * epoch seconds
   */
  t: number;
  /**
   * whole-machine CPU use, 0-100
   */
  cpu_pct: number | null;
  ram_used_bytes: number | null;
  ram_total_bytes: number | null;
  /**
   * kernel process tree CPU, 100 = one core
   */
  proc_cpu_pct: number | null;
  /**
   * kernel process tree resident memory
   */
  proc_rss_bytes: number | null;
  /**
   * a training run's DataLoader workers' CPU, 100 = one core; only in a run's samples
   */
  workers_cpu_pct?: number | null;
  gpus: {
    /**
     * as the kernel sees it (cuda:N)
     */
    index: number;
    util_pct: number | null;
    mem_used_bytes: number | null;
    mem_total_bytes: number | null;
    temp_c: number | null;
    power_w: number | null;
    /**
     * GPU memory used by the kernel's process tree (training subprocesses, DDP ranks)
     */
    proc_mem_bytes: number | null;
    /**
     * the SM clock now; absent where NVML does not tell
     */
    sm_clock_mhz?: number;
    /**
     * the SM clock's maximum; absent where NVML does not tell
     */
    sm_clock_max_mhz?: number;
    /**
     * why the clocks are held down now (NVML's clocks event reasons, GPU idle and the applications-clocks setting left out); absent where NVML does not tell
     */
    throttle_reasons?: (
      | 'sw_power_cap'
      | 'hw_slowdown'
      | 'sync_boost'
      | 'sw_thermal'
      | 'hw_thermal'
      | 'hw_power_brake'
      | 'display_clock_setting'
    )[];
    /**
     * compute processes on this GPU outside the process tree that this process can see (in a container with its own pid namespace, none); absent where NVML cannot list them
     */
    other_procs?: number;
    /**
     * the GPU memory those other processes hold
     */
    other_procs_mem_bytes?: number;
  }[];
}
/**
 * Something the user should see about the telemetry, e.g. NVML lost and the CPU view used instead.
 */
export interface TelemetryNotice {
  v: 1;
  type: 'telemetry_notice';
  sampler_id: string;
  level: 'info' | 'warning' | 'error';
  code: 'nvml_lost' | 'nvml_unavailable' | 'sampler_error';
  message: string;
}
/**
 * Not a comm message: the data of the MIME type application/vnd.yolo-lab.telemetry+json that yolo_lab.monitor() displays and updates. Saved with the notebook, so the chart renders without a kernel.
 */
export interface TelemetryDisplay {
  v: 1;
  sampler_id: string;
  source: TelemetrySource;
  interval_s: number;
  window_s: number;
  /**
   * false once the monitor stopped: the data is final
   */
  live: boolean;
  notice?: string | null;
  samples: TelemetrySample[];
}
/**
 * Frontend asks for a run's events: the kernel answers with one run_events (history: true) read from the run folder, then live run_events while it runs.
 */
export interface RunSubscribe {
  v: 1;
  type: 'run_subscribe';
  id: string;
  /**
   * absolute path of the run folder (the run's id)
   */
  run: string;
}
/**
 * Frontend stops listening to one run, or to every run when run is absent.
 */
export interface RunUnsubscribe {
  v: 1;
  type: 'run_unsubscribe';
  /**
   * absolute path of the run folder (the run's id)
   */
  run?: string;
}
/**
 * Frontend asks a run to stop after its current batch (last.pt saved).
 */
export interface RunStop {
  v: 1;
  type: 'run_stop';
  id: string;
  /**
   * absolute path of the run folder (the run's id)
   */
  run: string;
}
/**
 * Kernel answers run_stop: whether a stop was requested.
 */
export interface RunStopResult {
  v: 1;
  type: 'run_stop_result';
  id: string;
  /**
   * absolute path of the run folder (the run's id)
   */
  run: string;
  stopping: boolean;
  message: string;
}
/**
 * Frontend asks for the runs of a project folder (default runs/train, relative to the kernel's working directory).
 */
export interface RunsRequest {
  v: 1;
  type: 'runs_request';
  id: string;
  project?: string;
}
/**
 * Kernel answers runs_request, newest run first.
 */
export interface RunsList {
  v: 1;
  type: 'runs_list';
  id: string;
  project: string;
  runs: RunSummary[];
}
/**
 * One run of a runs list.
 */
export interface RunSummary {
  run: string;
  name: string;
  status: string;
  created?: NullableNumber;
  epochs_done: number;
  epochs?: number | null;
  map50?: NullableNumber;
  map?: NullableNumber;
  last: NullableString;
  best: NullableString;
  device?: unknown;
  message?: NullableString;
}
/**
 * Kernel sends a run's events: the history from disk once (history: true), then what is new.
 */
export interface RunEvents {
  v: 1;
  type: 'run_events';
  /**
   * absolute path of the run folder (the run's id)
   */
  run: string;
  history: boolean;
  status: RunStatus;
  events: RunEvent[];
}
/**
 * The run folder's yolo_lab_run.json, corrected when the process died unannounced.
 */
export interface RunStatus {
  /**
   * pending: a Slurm job waiting in the queue (again after a requeue).
   */
  status?: 'pending' | 'starting' | 'running' | 'stopped' | 'finished' | 'failed' | 'lost' | 'unknown';
  run?: string;
  name?: string;
  message?: NullableString;
  code?: NullableString;
  fix?: NullableString;
  last?: NullableString;
  best?: NullableString;
  pid?: number | null;
  created?: NullableNumber;
  ended?: NullableNumber;
  resumed?: number;
  /**
   * The id of the Jupyter kernel that started (or last resumed) the run; null outside a kernel.
   */
  kernel?: string | null;
  slurm?: SlurmJob;
  /**
   * Set while a DDP run makes no progress (the supervisor's report); null otherwise.
   */
  hung?: {
    since?: number;
    seconds?: number;
  } | null;
}
/**
 * A run's Slurm job: written by the job and the kernel, completed from squeue.
 */
export interface SlurmJob {
  /**
   * The job id; null while it is being submitted.
   */
  job?: string | null;
  /**
   * Slurm's job state (PENDING, RUNNING, TIMEOUT, ...), as squeue says it now.
   */
  state?: string;
  /**
   * Why a pending job waits (Priority, Resources, BeginTime, ...).
   */
  reason?: string | null;
  nodes?: string[];
  /**
   * The node the job's head runs on (the first).
   */
  node?: string;
  /**
   * Seconds to the job's time limit while it runs.
   */
  time_left_s?: number | null;
  /**
   * Requeues so far (SLURM_RESTART_COUNT).
   */
  restarts?: number;
  /**
   * The run stopped on Slurm's TERM: the job's end says which (a time limit, a cancel, a requeue).
   */
  signalled?: boolean;
  /**
   * The job has ended and the run folder says how: Slurm is not asked again.
   */
  settled?: boolean;
  /**
   * Slurm's commands did not answer (the status is the run folder's alone).
   */
  error?: string;
}
/**
 * The data of an autotune's notebook output (MIME application/vnd.yolo-lab.autotune+json; yolo_lab/training/autotune/result.py, also its autotune.json): the probes so far, the one running, and the fastest settings as training-form values.
 */
export interface AutotuneDisplay {
  v: 1;
  kind: 'autotune';
  dir: string;
  data?: string;
  device: string;
  imgsz: number;
  budget_s: number;
  defaults: AutotuneSettings;
  space?: {
    [k: string]: unknown[];
  };
  rows: AutotuneRow[];
  /**
   * the settings of the probe running now (null: none)
   */
  probing?: AutotuneSettings | null;
  seconds: number;
  /**
   * running, converged, budget spent, interrupted, or why the search could not start
   */
  ended: string;
  started?: number;
  winner?: AutotuneSettings | null;
  /**
   * the winner's settings (what 'Apply to the form' sets)
   */
  form: FormFix | null;
  imgs_per_s?: number | null;
  defaults_imgs_per_s?: number | null;
  /**
   * the winner's images/s over the defaults'
   */
  speedup: number | null;
  [k: string]: unknown;
}
/**
 * The knobs autotune searches, as train() takes them.
 */
export interface AutotuneSettings {
  batch_size: number;
  workers: number;
  cache: string | null;
  amp: boolean;
}
/**
 * One probe: its settings, the median images/s after the warm-up (null when it failed), and why it failed.
 */
export interface AutotuneRow {
  probe: number;
  settings: AutotuneSettings;
  imgs_per_s: number | null;
  error?: string | null;
  seconds: number;
  oom?: boolean;
  [k: string]: unknown;
}
/**
 * Values a fix sets in the training form (a speed verdict's, autotune's winner): train() parameter names, each value as train() takes it. The form refuses, with a message, a name or a value it cannot take, and then changes nothing.
 */
export interface FormFix {
  batch_size?: number | 'auto';
  workers?: number;
  imgsz?: number;
  cache?: null | 'ram' | 'disk';
  amp?: boolean | null;
}
/**
 * The data of a run's notebook output (MIME application/vnd.yolo-lab.run+json): which run to show; its events come through run_subscribe.
 */
export interface RunDisplay {
  v: 1;
  /**
   * absolute path of the run folder (the run's id)
   */
  run: string;
  name: string;
  status: string;
  params?: {
    [k: string]: unknown;
  };
}
/**
 * Why a run is slow (yolo_lab/training/advisor.py): what was measured, the fix, the gain to expect, and the form values that apply the fix (null when it is not a form value).
 */
export interface RunVerdict {
  code: 'data_bound' | 'shared_memory' | 'shared_gpu' | 'throttled' | 'cpu_bound' | 'gpu_bound';
  saw: string;
  fix: string;
  gain: string;
  /**
   * the values that apply the fix (null when it is not a form value)
   */
  form: FormFix | null;
}

/** Every message of the protocol, by its `type`. */
export type Message =
  | Hello
  | DoctorRequest
  | DoctorReport
  | Error
  | TelemetrySubscribe
  | TelemetryUnsubscribe
  | TelemetryBatch
  | TelemetryNotice
  | RunSubscribe
  | RunUnsubscribe
  | RunStop
  | RunStopResult
  | RunsRequest
  | RunsList
  | RunEvents;

/** The `type` of every message. */
export type MessageType = Message['type'];

/** Major protocol version this build speaks. */
export const PROTOCOL_VERSION = 1;

/** Name of the comm target registered by the Python package. */
export const COMM_TARGET = 'yolo_lab';

/** MIME type of a training run output (`yolo_lab.train(...)`). */
export const RUN_MIME = 'application/vnd.yolo-lab.run+json';

/** MIME type of an autotune output (`yolo_lab.autotune(...)`). */
export const AUTOTUNE_MIME = 'application/vnd.yolo-lab.autotune+json';

/** MIME type of a live telemetry output (`yolo_lab.monitor()`). */
export const TELEMETRY_MIME = 'application/vnd.yolo-lab.telemetry+json';
