export { type Instrumentation, type InstrumentOptions, instrument } from './instrument.js';
export { MetricNames } from './metric-names.js';
