// The two places an operator looks for configuration list every variable the server reads.
import fs from 'node:fs';
import { expect, it } from 'vitest';
import { ENVIRONMENT_VARIABLES } from '../src/config.ts';

const readme = fs.readFileSync('README.md', 'utf8');
const example = fs.readFileSync('.env.example', 'utf8');
/** README rows name a variable in backticks; a shared row may shorten it to its suffix (`_API_KEY`). */
const inReadme = (name: string) => readme.includes(`\`${name}\``) || readme.includes(`\`_${name.split('_').slice(2).join('_')}\``);

it.each(ENVIRONMENT_VARIABLES)('%s is in .env.example and in the README', (name) => {
  expect(example).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
  expect(inReadme(name), `README.md has no row for ${name}`).toBe(true);
});
