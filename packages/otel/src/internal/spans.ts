import {
  type Attributes,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
} from '@opentelemetry/api';
import {
  type CallEndMessage,
  type CallErrorMessage,
  type CallInfo,
  type CallStartMessage,
  clientChannels,
  type FailoverMessage,
  type RequestErrorMessage,
} from '../channels.js';
import { DB_SYSTEM, endpointValue, errorMessage, errorType, serverAttributes } from './attributes.js';
import type { Subscriptions } from './subscriptions.js';

/**
 * One CLIENT span a client call, from `call:start` to `call:end` or `call:error`, with its failed attempts and
 * failovers as events. Returns what ends the spans still open (at close).
 */
export function traceCalls(subscriptions: Subscriptions, tracer: Tracer, watchSpans: boolean): () => void {
  // Strong references, but only from a call's start to its end or error, which the client always publishes.
  const open = new Map<CallInfo, Span>();

  subscriptions.on<CallStartMessage>(clientChannels.callStart, ({ call }) => {
    if (call.operation === 'watch' && !watchSpans) return;
    const attributes: Attributes = { 'db.system.name': DB_SYSTEM, 'db.operation.name': call.operation };
    if (call.key !== undefined) attributes['etcd.key'] = call.key;
    // Published synchronously in the caller's async context: the active span is the call's parent.
    const span = tracer.startSpan(
      `${DB_SYSTEM} ${call.operation}`,
      { kind: SpanKind.CLIENT, attributes },
      context.active(),
    );
    open.set(call, span);
  });

  subscriptions.on<RequestErrorMessage>(clientChannels.requestError, (message) => {
    const span = open.get(message.call);
    if (span === undefined) return;
    span.addEvent('etcdkit.request.error', {
      ...serverAttributes(message.endpoint),
      'etcdkit.request.attempt': message.attempt,
      'etcdkit.request.hop': message.hop,
      'error.type': errorType(message.error),
    });
  });

  subscriptions.on<FailoverMessage>(clientChannels.failover, (message) => {
    const span = open.get(message.call);
    if (span === undefined) return;
    span.addEvent('etcdkit.failover', {
      'etcdkit.failover.kind': message.kind,
      'etcdkit.failover.from': endpointValue(message.from),
      'etcdkit.failover.to': endpointValue(message.to),
      'error.type': errorType(message.error),
    });
  });

  subscriptions.on<CallEndMessage>(clientChannels.callEnd, (message) => {
    const span = open.get(message.call);
    if (span === undefined) return;
    open.delete(message.call);
    span.setAttributes(serverAttributes(message.endpoint));
    span.setAttribute('http.response.status_code', message.status);
    if (message.etcdIndex !== undefined) span.setAttribute('etcd.index', message.etcdIndex);
    if (message.attempts > 1) span.setAttribute('http.request.resend_count', message.attempts - 1);
    if (message.status >= 500) {
      span.setAttribute('error.type', String(message.status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  });

  subscriptions.on<CallErrorMessage>(clientChannels.callError, (message) => {
    const span = open.get(message.call);
    if (span === undefined) return;
    open.delete(message.call);
    if (message.attempts > 1) span.setAttribute('http.request.resend_count', message.attempts - 1);
    span.setAttribute('error.type', errorType(message.error));
    const status = errorMessage(message.error);
    span.setStatus(
      status === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message: status },
    );
    span.end();
  });

  return () => {
    for (const span of open.values()) span.end();
    open.clear();
  };
}
