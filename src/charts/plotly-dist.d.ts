/**
 * The part of plotly.js-dist-min that yolo-lab uses (the package ships no types).
 */
declare module 'plotly.js-dist-min' {
  type Data = Record<string, unknown>;
  type Layout = Record<string, unknown>;
  interface IPlotly {
    react(
      root: HTMLElement,
      data: Data[],
      layout: Layout,
      config?: Record<string, unknown>
    ): Promise<unknown>;
    extendTraces(
      root: HTMLElement,
      update: { x: unknown[][]; y: unknown[][] },
      indices: number[],
      maxPoints?: number
    ): Promise<unknown>;
    relayout(root: HTMLElement, update: Layout): Promise<unknown>;
    purge(root: HTMLElement): void;
    toImage(
      root: HTMLElement,
      options: { format: 'png' | 'svg'; width: number; height: number }
    ): Promise<string>;
    Plots: { resize(root: HTMLElement): void };
  }
  const Plotly: IPlotly;
  export default Plotly;
}
