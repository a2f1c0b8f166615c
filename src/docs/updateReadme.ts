import { readFileSync, writeFileSync } from 'node:fs';
import { updateGeneratedSections } from './reference.js';

// `npm run docs`: rewrites the README's generated tables from the code.
const file = new URL('../../README.md', import.meta.url);
writeFileSync(file, updateGeneratedSections(readFileSync(file, 'utf8')));
