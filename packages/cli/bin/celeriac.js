#!/usr/bin/env node
// The installed `celeriac` command. It lives outside dist/ so that npm can link it when the
// workspace is installed, before anything is built; the program itself is dist/main.js.
import '../dist/main.js';
