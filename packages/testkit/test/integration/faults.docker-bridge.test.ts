import { dockerBackend } from './docker-backend.js';
import { faultSuite } from './fault-suite.js';

faultSuite('Docker, bridge network', dockerBackend('bridge'));
