/**
 * Requests to yolo-lab's Jupyter server extension (under /yolo-lab/), with
 * the words a user needs when it is missing or says no.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * JSON from `/yolo-lab/<path...>` of the server `settings` name (JupyterLab's
 * own: `app.serviceManager.serverSettings`); a failure throws an Error whose
 * message says what went wrong (`forbidden` words a 403).
 */
export async function requestYoloLab<T>(
  settings: ServerConnection.ISettings,
  path: string[],
  init: RequestInit = {},
  forbidden = 'this JupyterLab does not allow you to use yolo-lab here'
): Promise<T> {
  const response = await ServerConnection.makeRequest(
    URLExt.join(
      settings.baseUrl,
      'yolo-lab',
      ...path.map(part => encodeURIComponent(part))
    ),
    init,
    settings
  );
  if (!response.ok) {
    let detail = '';
    try {
      detail = ((await response.json()) as { message?: string }).message ?? '';
    } catch {
      // no JSON body
    }
    throw new Error(
      response.status === 404 && !detail
        ? 'the yolo-lab server extension is not enabled in this JupyterLab'
        : response.status === 403
          ? forbidden
          : detail || `HTTP ${response.status}`
    );
  }
  return (await response.json()) as T;
}

/**
 * GET `/yolo-lab/<path...>` as its HTTP status and JSON body (null when it
 * has none), for callers that answer each status in their own words.
 */
export async function replyFromYoloLab(
  settings: ServerConnection.ISettings,
  path: string[]
): Promise<{ status: number; body: unknown }> {
  const response = await ServerConnection.makeRequest(
    URLExt.join(
      settings.baseUrl,
      'yolo-lab',
      ...path.map(part => encodeURIComponent(part))
    ),
    {},
    settings
  );
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // no JSON body
  }
  return { status: response.status, body };
}
