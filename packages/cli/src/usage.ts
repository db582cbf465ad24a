/** Usage errors (exit code 2), exit codes, and the parsers of numeric options. */
import { InvalidArgumentError } from 'commander';

/** A command line etcdkit cannot run: exit code 2 with the message and a pointer to the command's --help. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Exit code of an error: etcd unreachable, an etcd error, a timeout. */
export const EXIT_ERROR = 1;
/** Exit code of a usage error. */
export const EXIT_USAGE = 2;
/** Lock or leadership lost while the command ran: exit code 75 (EX_TEMPFAIL). */
export const EXIT_LOST = 75;
/** Exit code after SIGINT (Ctrl-C), as a shell reports a process killed by it: 128 + 2. */
export const EXIT_SIGINT = 130;
/** Exit code after SIGTERM: 128 + 15. */
export const EXIT_SIGTERM = 143;

/** Parses a whole number > 0 (a commander argument parser: a bad value is a usage error naming the option). */
export function positiveInteger(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value <= 0)
    throw new InvalidArgumentError(`want a whole number > 0, got ${JSON.stringify(text)}`);
  return value;
}

/** Parses a number of seconds > 0, fractions allowed. */
export function positiveSeconds(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0)
    throw new InvalidArgumentError(`want a number of seconds > 0, got ${JSON.stringify(text)}`);
  return value;
}

/** Parses a TCP port (1-65535). */
export function tcpPort(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < 1 || value > 65_535)
    throw new InvalidArgumentError(`want a TCP port 1-65535, got ${JSON.stringify(text)}`);
  return value;
}
