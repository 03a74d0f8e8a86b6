// Prints the schema built in code to schema.graphql; with --check, fails when the file differs.
import fs from 'node:fs';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from '../src/schema/index.ts';

const FILE = 'schema.graphql';
const printed = printSchema(lexicographicSortSchema(schema)) + '\n';

if (process.argv.includes('--check')) {
  const current = fs.existsSync(FILE) ? fs.readFileSync(FILE, 'utf8') : '';
  if (current !== printed) {
    console.error(`${FILE} differs from the schema in code: run npm run schema:print`);
    process.exit(1);
  }
  console.log(`${FILE} is up to date`);
} else {
  fs.writeFileSync(FILE, printed);
  console.log(`wrote ${FILE}`);
}
