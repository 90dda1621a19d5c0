/**
 * Training-run shapes: the generated types of protocol/yolo_lab.schema.json
 * under the names the training code uses, and the per-kind views of a run
 * event that the schema's conditional fields guarantee.
 */
import type {
  RunDisplay,
  RunEvent,
  RunEvents,
  RunsList,
  RunStatus,
  RunStop,
  RunStopResult,
  RunSubscribe,
  RunSummary,
  RunsRequest,
  RunUnsubscribe,
  RunVerdict
} from '../protocol.generated';
import type { ITelemetrySample } from '../telemetry/types';

export { RUN_MIME } from '../protocol.generated';

/** A run folder's status file (definitions/run_status). */
export type IRunStatus = RunStatus;

/** Where a run stands. */
export type RunState = NonNullable<RunStatus['status']>;

/** One line of a run's events file (definitions/run_event). */
export type IRunEvent = RunEvent;

/** Why a run is slow: what was measured, the fix and the form values that apply it. */
export type IRunVerdict = RunVerdict;

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
  /** Seconds this batch waited for the DataLoader (absent in older runs). */
  data_s?: number | null;
  /** Seconds of forward, backward and optimizer. */
  compute_s?: number | null;
  /** Seconds in the DDP stop collective; null without DDP. */
  sync_s?: number | null;
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

/** The final validation of a run that ended normally. */
export interface IRunSummaryEvent extends IRunEvent {
  kind: 'summary';
  epoch: number;
  last: string | null;
  best: string | null;
  precision: number;
  recall: number;
  map50: number;
  map: number;
}

/** A telemetry sample taken by the run. */
export interface ITelemetryEvent extends IRunEvent {
  kind: 'telemetry';
  sample: ITelemetrySample;
}

/** The kernel sends a run's events (message `run_events`). */
export type IRunEventsMessage = RunEvents;

/** One run of a runs list. */
export type IRunSummary = RunSummary;

/** The kernel lists the runs of a project (message `runs_list`). */
export type IRunsListMessage = RunsList;

/** The kernel answers a stop request (message `run_stop_result`). */
export type IRunStopResultMessage = RunStopResult;

/** Requests the browser sends about runs. */
export type IRunRequestMessage =
  RunSubscribe | RunUnsubscribe | RunStop | RunsRequest;

/** The data of a run output (definitions/run_display). */
export type IRunDisplay = RunDisplay;

/** Someone listening to one run's events. */
export type RunListener = (message: IRunEventsMessage) => void;
