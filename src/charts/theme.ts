/**
 * Chart colours from the JupyterLab theme, and a hook for theme changes.
 *
 * Figures take an `IChartTheme` as plain values, so they stay pure functions
 * that tests call without a DOM; only `readTheme` reads the page.
 */
import { DisposableDelegate, type IDisposable } from '@lumino/disposable';

/** The colours a chart takes from the theme. */
export interface IChartTheme {
  /** Text, axis lines and tick labels (`--jp-ui-font-color1`). */
  font: string;
  /** Grid and zero lines (`--jp-border-color2`). */
  grid: string;
  /** Paper and plot background (`--jp-layout-color1`). */
  paper: string;
}

/**
 * JupyterLab's light theme values, for a page whose theme has not loaded its
 * variables yet (the first frame, a detached test page).
 */
export const FALLBACK_THEME: IChartTheme = {
  font: '#333',
  grid: '#ddd',
  paper: '#fff'
};

/** The chart colours of the current theme, from its `--jp-*` variables. */
export function readTheme(root: Element = document.body): IChartTheme {
  const style = getComputedStyle(root);
  const read = (name: string, fallback: string): string =>
    style.getPropertyValue(name).trim() || fallback;
  return {
    font: read('--jp-ui-font-color1', FALLBACK_THEME.font),
    grid: read('--jp-border-color2', FALLBACK_THEME.grid),
    paper: read('--jp-layout-color1', FALLBACK_THEME.paper)
  };
}

/**
 * Call `callback` after each theme switch (light/dark or another theme).
 * JupyterLab's theme manager marks the switch on the body's
 * `data-jp-theme-*` attributes; plotly draws colours as SVG attributes, not
 * CSS, so a chart has to redraw to follow.
 */
export function onThemeChange(callback: () => void): IDisposable {
  const observer = new MutationObserver(() => callback());
  observer.observe(document.body, {
    attributes: true,
    attributeFilter: ['data-jp-theme-light', 'data-jp-theme-name']
  });
  return new DisposableDelegate(() => observer.disconnect());
}

/** Layout attributes of a figure that follow the theme. */
export function themeLayout(theme: IChartTheme): Record<string, unknown> {
  return {
    paper_bgcolor: theme.paper,
    plot_bgcolor: theme.paper,
    font: { color: theme.font, size: 11 }
  };
}

/** Axis attributes that follow the theme (grid, zero line, ticks). */
export function themeAxis(theme: IChartTheme): Record<string, unknown> {
  return {
    gridcolor: theme.grid,
    zerolinecolor: theme.grid,
    color: theme.font
  };
}
