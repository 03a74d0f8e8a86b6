import { Tiktoken } from 'js-tiktoken/lite';
import o200k from 'js-tiktoken/ranks/o200k_base';
let t0=performance.now(); const enc = new Tiktoken(o200k); console.log('load', (performance.now()-t0).toFixed(0), 'ms', (process.memoryUsage().rss/1e6).toFixed(0),'MB');
for (const [name, s] of [['x1000','x'.repeat(1000)],['x2000','x'.repeat(2000)],['x4000','x'.repeat(4000)],['cjk2000','漢'.repeat(2000)],['punct2000','!@'.repeat(1000)], ['words100k', 'hello world '.repeat(8333)], ['spaces100k', ' '.repeat(100000)+'x'], ['digits100k','1'.repeat(100000)], ['X-upper4000','X'.repeat(4000)]]) {
  t0=performance.now(); const n = enc.encode(s).length; console.log(name, n, (performance.now()-t0).toFixed(1),'ms');
}
