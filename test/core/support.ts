export * from '../helpers/support.js';
