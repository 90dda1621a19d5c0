/**
 * Detached runs: owned by the Jupyter server (`train(..., detach=True)`),
 * listed and stopped through yolo-lab's server extension, so any notebook,
 * any kernel (or none) and any browser can find them.
 */
import type { ServerConnection } from '@jupyterlab/services';
import { requestYoloLab } from '../serverApi';
import type { IRunSummary } from './types';

/** A live detached run, as GET /yolo-lab/runs lists it. */
export interface IDetachedRun extends IRunSummary {
  pid: number | null;
  owner?: { user?: string; host?: string } | null;
  detached: true;
}

const FORBIDDEN = 'this JupyterLab does not allow you to manage training runs';

/** The live detached runs of this Jupyter server, newest first. */
export async function fetchDetachedRuns(
  settings: ServerConnection.ISettings
): Promise<IDetachedRun[]> {
  const body = await requestYoloLab<{ runs: IDetachedRun[] }>(
    settings,
    ['runs'],
    {},
    FORBIDDEN
  );
  return body.runs;
}

/** Ask a detached run to stop after its batch (last.pt is saved). */
export async function stopDetachedRun(
  settings: ServerConnection.ISettings,
  run: string
): Promise<void> {
  await requestYoloLab(
    settings,
    ['runs', 'stop'],
    { method: 'POST', body: JSON.stringify({ run }) },
    FORBIDDEN
  );
}
