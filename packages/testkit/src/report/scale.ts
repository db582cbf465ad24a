/** The common time axis: wall-clock ms to px, and tick marks at round steps. */

/** Maps times (ms) in `[from, to]` onto `[0, width]` px. */
export interface TimeScale {
  readonly from: number;
  readonly to: number;
  readonly width: number;
  x(time: number): number;
}

/** A scale over `[from, to]` (a span of at least 1 ms) `width` px wide. */
export function timeScale(from: number, to: number, width: number): TimeScale {
  const span = Math.max(to - from, 1);
  return { from, to: from + span, width, x: (time) => ((time - from) / span) * width };
}

/** The round step (1, 2 or 5 times a power of ten, ms) closest above `roughMs`. */
export function niceStep(roughMs: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(roughMs, 1e-3)));
  for (const factor of [1, 2, 5, 10]) if (factor * power >= roughMs) return factor * power;
  return 10 * power;
}

/** Ticks about every `spacing` px: their times (ms from the scale's start) and labels (`250 ms`, `1.5 s`). */
export function ticks(scale: TimeScale, spacing = 110): { offset: number; label: string }[] {
  const span = scale.to - scale.from;
  const step = niceStep((span * spacing) / scale.width);
  // Seconds once the axis spans a second or more (steps of 100 ms and up), else ms.
  const seconds = step >= 100 && span >= 1000;
  const decimals = Math.max(0, -Math.floor(Math.log10(step / 1000)));
  const label = (offset: number): string =>
    seconds ? `${(offset / 1000).toFixed(decimals)} s` : `${+offset.toFixed(3)} ms`;
  const result: { offset: number; label: string }[] = [];
  for (let i = 0; i * step <= span + 1e-9; i++) result.push({ offset: i * step, label: label(i * step) });
  return result;
}

/** A duration for people: `0.8 ms`, `120 ms`, `2.35 s`. */
export function formatDuration(ms: number): string {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
