// After `npm install`: the Prisma client and the Pothos types generated, and the server compiled to dist/,
// so that `npm start` serves at once. An install without dev dependencies (a production image) has neither
// the Prisma CLI nor TypeScript and does nothing here: it takes dist/ from the build stage (README).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const installed = (name) => {
  try {
    require.resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
};

if (!installed('prisma') || !installed('typescript')) {
  console.log('postinstall: no dev dependencies here, nothing generated or built (dist/ comes from a build stage)');
  process.exit(0);
}
for (const script of ['db:generate', 'build']) {
  const { status } = spawnSync('npm', ['run', '-s', script], { stdio: 'inherit' });
  if (status !== 0) process.exit(status ?? 1);
}
