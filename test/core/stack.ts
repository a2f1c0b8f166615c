export * from '../helpers/stack.js';
