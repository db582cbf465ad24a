#!/usr/bin/env node
// The installed `etcdkit` command. A committed launcher rather than dist/bin/etcdkit.js itself, so that npm can
// link the bin when a workspace is installed before it is built.
import '../dist/bin/etcdkit.js';
