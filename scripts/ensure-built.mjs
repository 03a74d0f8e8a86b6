// Before `npm start`: rebuild dist/ when a source file is newer than it (a pull, an edit), so that the
// compiled server and web app are never older than the code. Production runs `node dist/main.js` and skips this.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const built = fs.statSync('dist/main.js', { throwIfNoEntry: false })?.mtimeMs ?? 0;
const newer = (dir) =>
  fs.readdirSync(dir, { withFileTypes: true }).some((entry) => {
    const file = path.join(dir, entry.name);
    return entry.isDirectory() ? newer(file) : fs.statSync(file).mtimeMs > built;
  });

const webBuilt = fs.existsSync('dist/web/index.html');
if (built === 0 || !webBuilt || newer('src') || newer('prisma') || newer('web/src')) {
  console.log('dist/ is older than the sources: building');
  const generate = spawnSync('npm', ['run', '-s', 'db:generate'], { stdio: 'inherit' });
  const build = generate.status === 0 ? spawnSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' }) : generate;
  if (build.status !== 0) process.exit(build.status ?? 1);
  fs.utimesSync('dist/main.js', new Date(), new Date()); // tsc leaves unchanged outputs alone
}
