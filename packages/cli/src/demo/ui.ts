/**
 * The demo's terminal output: colour and a live status line on a TTY (unless NO_COLOR), plain lines otherwise.
 */
/**
 * Whether to colour output: only on a terminal, and not when `NO_COLOR` is set to anything non-empty
 * (no-color.org) or `TERM` is `dumb`.
 */
export function colourWanted(isTTY: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  return Boolean(isTTY) && !env.NO_COLOR && env.TERM !== 'dumb';
}

const tty = colourWanted(process.stdout.isTTY, process.env);

const paint =
  (code: number) =>
  (text: string): string =>
    tty ? `\x1b[${code}m${text}\x1b[0m` : text;

export const bold = paint(1);
export const dim = paint(2);
export const red = paint(31);
export const green = paint(32);
export const yellow = paint(33);
export const cyan = paint(36);

let statusShown = false;

function clearStatus(): void {
  if (statusShown) process.stdout.write('\r\x1b[K');
  statusShown = false;
}

/** Prints a line (above the status line, on a TTY). */
export function line(text = ''): void {
  clearStatus();
  process.stdout.write(`${text}\n`);
}

/** A phase heading. */
export function phase(n: number, text: string): void {
  line();
  line(bold(cyan(`[${n}] ${text}`)));
}

/** A measured outcome. */
export function measured(text: string, ms: number): void {
  line(`    ${green('✓')} ${text} ${bold(`${ms.toFixed(0)} ms`)}`);
}

/** An action taken. */
export function action(text: string): void {
  line(`    ${yellow('→')} ${text}`);
}

/** A plain note. */
export function note(text: string): void {
  line(`    ${dim(text)}`);
}

/**
 * Shows `text` as the live status line on a TTY (rewritten in place); off a TTY nothing is shown, the caller
 * prints plain progress lines instead.
 */
export function status(text: string): void {
  if (!tty) return;
  process.stdout.write(`\r\x1b[K    ${dim(text)}`);
  statusShown = true;
}

/** True when output goes to a terminal (colour and a status line). */
export const interactive = tty;

/** A markdown-like table with aligned columns. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const format = (cells: readonly string[]): string =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  line(format(header));
  line(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) line(format(row));
}
