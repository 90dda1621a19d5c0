/**
 * yolo-lab icons.
 */
import { LabIcon } from '@jupyterlab/ui-components';

// A detection box around a GPU die: what the extension is about. The class
// jp-icon3 lets JupyterLab themes recolour it.
const YOLO_LAB_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M2 2h6v2H4v4H2zM16 2h6v6h-2V4h-4zM2 16h2v4h4v2H2zM20 16h2v6h-6v-2h4z"/>
    <path d="M8 8h8v8H8zm2 2v4h4v-4z"/>
    <path d="M9 6h1.5v2H9zM13.5 6H15v2h-1.5zM9 16h1.5v2H9zM13.5 16H15v2h-1.5zM6 9h2v1.5H6zM6 13.5h2V15H6zM16 9h2v1.5h-2zM16 13.5h2V15h-2z"/>
  </g>
</svg>`;

/** The yolo-lab icon (sidebar tab, toolbar button, palette). */
export const yoloLabIcon = new LabIcon({
  name: 'yolo-lab:icon',
  svgstr: YOLO_LAB_SVG
});
