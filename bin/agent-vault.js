#!/usr/bin/env node
// Installed entry point: runs the compiled CLI (npm install builds it through `prepare`).
import "../dist/src/cli/main.js";
