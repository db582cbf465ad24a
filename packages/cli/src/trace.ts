/**
 * What the CLI knows about its HTTP traffic, from undici's diagnostics channels (no client change needed):
 * which endpoints answered at all (for error messages), and with `--debug` a line per reply or failure next
 * to the client's cURL lines. Only method, origin, path and status are printed: never headers (Authorization).
 */
import { subscribe } from 'node:diagnostics_channel';
import { enableCurlDebug } from '@etcdkit/client';

interface TracedRequest {
  readonly origin?: unknown;
  readonly method?: unknown;
  readonly path?: unknown;
}

const answered = new Set<string>();
let started = false;
let debugging = false;

function originOf(request: TracedRequest): string {
  return String(request.origin ?? '').replace(/\/+$/, '');
}

/** Starts recording; with `debug`, also prints the cURL lines and one line per reply or failure to stderr. */
export function startTrace(debug: boolean): void {
  if (debug && !debugging) {
    debugging = true;
    enableCurlDebug();
  }
  if (started) return;
  started = true;
  subscribe('undici:request:headers', (message) => {
    const { request, response } = message as { request: TracedRequest; response: { statusCode?: number } };
    answered.add(originOf(request));
    if (debugging)
      process.stderr.write(
        `etcdkit: debug: ${response.statusCode} ${String(request.method)} ${originOf(request)}${String(request.path)}\n`,
      );
  });
  subscribe('undici:request:error', (message) => {
    if (!debugging) return;
    const { request, error } = message as { request: TracedRequest; error: Error };
    process.stderr.write(
      `etcdkit: debug: failed ${String(request.method)} ${originOf(request)}${String(request.path)}: ${error.message}\n`,
    );
  });
}

/** True once any endpoint sent a reply (any status) in this process. */
export function anyAnswered(): boolean {
  return answered.size > 0;
}

/** True when `--debug` is on. */
export function isDebugging(): boolean {
  return debugging;
}

/** Prints a debug line to stderr when `--debug` is on. */
export function debug(text: string): void {
  if (debugging) process.stderr.write(`etcdkit: debug: ${text}\n`);
}
