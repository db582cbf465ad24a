/**
 * cURL debug lines (Go's `EnablecURLDebug`): when on, every HTTP attempt prints
 * `cURL Command: curl -X <METHOD> <URL>[ -d <quoted body>]` to stderr before it is sent. Unlike Go, passwords
 * in auth request bodies are masked, and the Authorization header is never printed.
 */
let enabled = false;

/** Turns cURL debug lines on, for every client in this process. */
export function enableCurlDebug(): void {
  enabled = true;
}

/** Turns cURL debug lines off (the default). */
export function disableCurlDebug(): void {
  enabled = false;
}

/** Prints the line for one attempt, if enabled. */
export function printCurl(method: string, url: string, body: string | undefined): void {
  if (!enabled) return;
  const data = body === undefined ? '' : ` -d ${goQuote(maskPasswords(body))}`;
  process.stderr.write(`cURL Command: curl -X ${method} ${url}${data}\n`);
}

/** Replaces the value of every JSON `"password"` field with `***`. */
export function maskPasswords(body: string): string {
  return body.replace(/("password"\s*:\s*)"(?:[^"\\]|\\.)*"/g, '$1"***"');
}

/** Go's `%q`: double quotes, with `"` `\` and control characters escaped, printable non-ASCII kept. */
export function goQuote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === '"' || char === '\\') out += `\\${char}`;
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (char === '\x07') out += '\\a';
    else if (char === '\b') out += '\\b';
    else if (char === '\f') out += '\\f';
    else if (char === '\v') out += '\\v';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += char;
  }
  return `${out}"`;
}
