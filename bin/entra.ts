#!/usr/bin/env node
import { hideBin } from 'yargs/helpers';
import { entraCli } from './cli.js';

await entraCli(hideBin(process.argv)).parseAsync();
