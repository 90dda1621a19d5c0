/**
 * Training-run shapes, as protocol/yolo_lab.schema.json defines them.
 */
import type { ITelemetrySample } from '../telemetry/types';

/** MIME type of a run's notebook output (`yolo_lab.train(...)`). */
export const RUN_MIME = 'application/vnd.yolo-lab.run+json';

/** Where a run stands. */
export type RunState =
  'starting' | 'running' | 'stopped' | 'finished' | 'failed' | 'unknown';

/** A run folder's status file (definitions/run_status). */
export interface IRunStatus {
  status?: RunState;
  run?: string;
  name?: string;
  message?: string | null;
  code?: string | null;
  fix?: string | null;
  last?: string | null;
  best?: string | null;
  pid?: number | null;
  created?: number | null;
  ended?: number | null;
  resumed?: number;
}

/** One line of a run's events file (definitions/run_event). */
export interface IRunEvent {
  t: number;
  kind: string;
  // Fields by kind; see the schema.
  [key: string]: unknown;
}

/** A per-batch event. */
export interface IBatchEvent extends IRunEvent {
  kind: 'batch';
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  box: number | null;
  obj: number | null;
  cls: number | null;
  imgs_per_s: number | null;
  gpu_mem_gib: number | null;
}

/** A per-epoch event. */
export interface IEpochEvent extends IRunEvent {
  kind: 'epoch';
  epoch: number;
  epochs: number | null;
  precision: number | null;
  recall: number | null;
  map50: number | null;
  map: number | null;
  epoch_time_s: number | null;
}

/** A telemetry sample taken by the run. */
export interface ITelemetryEvent extends IRunEvent {
  kind: 'telemetry';
  sample: ITelemetrySample;
}

/** The kernel sends a run's events (message `run_events`). */
export interface IRunEventsMessage {
  v: 1;
  type: 'run_events';
  run: string;
  history: boolean;
  status: IRunStatus;
  events: IRunEvent[];
}

/** One run of a runs list. */
export interface IRunSummary {
  run: string;
  name: string;
  status: string;
  created?: number | null;
  epochs_done: number;
  epochs?: number | null;
  map50?: number | null;
  map?: number | null;
  last: string | null;
  best: string | null;
  device?: unknown;
  message?: string | null;
}

/** The kernel lists the runs of a project (message `runs_list`). */
export interface IRunsListMessage {
  v: 1;
  type: 'runs_list';
  id: string;
  project: string;
  runs: IRunSummary[];
}

/** The kernel answers a stop request (message `run_stop_result`). */
export interface IRunStopResultMessage {
  v: 1;
  type: 'run_stop_result';
  id: string;
  run: string;
  stopping: boolean;
  message: string;
}

/** Requests the browser sends about runs. */
export interface IRunRequestMessage {
  v: 1;
  type: 'run_subscribe' | 'run_unsubscribe' | 'run_stop' | 'runs_request';
  id?: string;
  run?: string;
  project?: string;
}

/** The data of a run output (definitions/run_display). */
export interface IRunDisplay {
  v: 1;
  run: string;
  name: string;
  status: string;
  params?: Record<string, unknown>;
}

/** Someone listening to one run's events. */
export type RunListener = (message: IRunEventsMessage) => void;
