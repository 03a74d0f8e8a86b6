// Entry of a provider thread. Worker threads do not inherit the main thread's TypeScript loader, so
// this plain module registers it before loading the thread's code.
import { register } from 'tsx/esm/api';

register();
await import('./provider-thread.ts');
