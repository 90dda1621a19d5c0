/**
 * plotly.js, fetched with the first chart drawn: the dynamic import makes it
 * a chunk of its own, which JupyterLab's start never loads (the page-load
 * benchmark checks it).
 */

/** The plotly.js API, as declared in plotly-dist.d.ts. */
export type Plotly = (typeof import('plotly.js-dist-min'))['default'];

/**
 * plotly.js, loaded on first use. The bundler keeps a fetched chunk, so later
 * calls resolve at once without a cache of our own.
 */
export function loadPlotly(): Promise<Plotly> {
  return import('plotly.js-dist-min').then(m => m.default);
}
