/**
 * Figures written for people: byte counts and durations (views and models
 * share them; no DOM here).
 */

/** Format a byte count as GiB/MiB for people. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null || !Number.isFinite(bytes)) {
    return 'unknown';
  }
  const gib = bytes / 2 ** 30;
  if (gib >= 1) {
    return `${gib.toFixed(1)} GiB`;
  }
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}

/**
 * A part of a whole, "12.3/80.0 GiB" (both in GiB, as a status bar shows
 * memory); without a whole, the part alone as formatBytes; '–' when unknown.
 */
export function formatBytesOf(
  used: number | null,
  total: number | null
): string {
  if (used === null || !Number.isFinite(used)) {
    return '–';
  }
  if (!total) {
    return formatBytes(used);
  }
  const gib = (bytes: number): string => (bytes / 2 ** 30).toFixed(1);
  return `${gib(used)}/${gib(total)} GiB`;
}

/** Seconds as "1 h 02 min", "3 min 05 s" or "12 s". */
export function formatDuration(s: number): string {
  const total = Math.max(0, Math.round(s));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (h) {
    return `${h} h ${String(m).padStart(2, '0')} min`;
  }
  if (m) {
    return `${m} min ${String(sec).padStart(2, '0')} s`;
  }
  return `${sec} s`;
}
