import { decimate, linePaths, pixelColumns } from '../charts/decimate';

describe('pixelColumns', () => {
  it('gives one bucket per pixel column, 600 before layout, at least 100', () => {
    expect(pixelColumns(812.6)).toBe(812);
    expect(pixelColumns(0)).toBe(600);
    expect(pixelColumns(40)).toBe(100);
  });
});

describe('decimate', () => {
  const series = (n: number, gapAt = -1) => ({
    name: 's',
    axis: 'percent' as const,
    x: Array.from({ length: n }, (_, i) => i),
    y: Array.from({ length: n }, (_, i) =>
      i === gapAt ? null : Math.sin(i / 50) * 100
    )
  });

  it('leaves short series alone', () => {
    const s = series(100);
    expect(decimate(s, 0, 100, 100)).toBe(s);
  });

  it('keeps at most about two points per bucket, with the extremes', () => {
    const s = series(10000);
    const d = decimate(s, 0, 10000, 500);
    expect(d.x.length).toBeLessThanOrEqual(1000);
    expect(d.x.length).toBeGreaterThan(500);
    expect(Math.max(...(d.y as number[]))).toBeCloseTo(
      Math.max(...(s.y as number[])),
      6
    );
    expect(Math.min(...(d.y as number[]))).toBeCloseTo(
      Math.min(...(s.y as number[])),
      6
    );
    // Still in time order.
    expect(d.x.every((x, i) => i === 0 || x > d.x[i - 1])).toBe(true);
  });

  it('keeps gaps', () => {
    const d = decimate(series(10000, 5003), 0, 10000, 500);
    expect(d.y).toContain(null);
  });
});

describe('linePaths', () => {
  const series = {
    name: 'CPU %',
    axis: 'percent' as const,
    x: [0, 1, 2, 3, 4],
    y: [10, 20, null, 30, 40]
  };
  const px = (x: number): number => x * 100;
  const py = (y: number): number => 200 - y * 2;

  it('draws one segment per run of points, breaking at gaps', () => {
    expect(linePaths(series, px, py, 0, 100)).toEqual([
      'M0,180L100,160',
      'M300,140L400,120'
    ]);
  });

  it('refuses a point outside the y range: the axis must change', () => {
    expect(linePaths(series, px, py, 0, 35)).toBeNull();
    expect(linePaths(series, px, py, 15, 100)).toBeNull();
  });

  it('rounds pixels to hundredths and skips leading and trailing gaps', () => {
    const s = { ...series, x: [0, 1, 2, 3], y: [null, 1 / 3, 2 / 3, null] };
    expect(
      linePaths(
        s,
        x => x / 3,
        y => y,
        0,
        1
      )
    ).toEqual(['M0.33,0.33L0.67,0.67']);
  });
});
