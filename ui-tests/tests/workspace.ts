/**
 * Waiting for JupyterLab's workspace saves before a reload.
 *
 * The layout and the restorers' state reach the workspace in PUT requests
 * that can still be in flight when a test reloads; a reload before the save
 * it needs is answered restores the page as it was before.
 */
import type { Page, Response } from '@playwright/test';

/**
 * Resolve once a workspace save whose data satisfies `holds` is answered.
 * Call it before the action that causes the save.
 */
export function workspaceSaved(
  page: Page,
  holds: (data: Record<string, any>) => boolean
): Promise<Response> {
  return page.waitForResponse(response => {
    const request = response.request();
    if (
      !request.url().includes('/api/workspaces') ||
      request.method() !== 'PUT'
    ) {
      return false;
    }
    const data = request.postDataJSON()?.data;
    return !!data && holds(data);
  });
}
