// Queries run compiled (graphql-jit) from the second time their document comes, and a compiled run with any
// error runs again through the executor. Each query here is asked three times (interpreted, then compiled)
// and must answer the same each time: data, errors and their codes, another viewer's rows. Documents that
// graphql-jit would run as code, or answer otherwise, are never compiled.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'graphql';
import { createCompiledOperations, safeToCompile } from '../src/compiled/cache.ts';
import { schema } from '../src/schema/index.ts';
import { appendMessage, createConversation, startTestApp, subscribe, wsClient, type TestApp, type TestViewer } from './helpers.ts';

// Counts the runs of compiled queries, so the test knows the compiled path was taken, and the compilations.
const compiledRuns = vi.hoisted(() => ({ count: 0, compilations: 0 }));
vi.mock('graphql-jit', async (importOriginal) => {
  const jit = await importOriginal<typeof import('graphql-jit')>();
  return {
    ...jit,
    compileQuery: (...args: Parameters<typeof jit.compileQuery>) => {
      compiledRuns.compilations++;
      const compiled = jit.compileQuery(...args);
      if (!('query' in compiled)) return compiled;
      const query = compiled.query.bind(compiled);
      return Object.assign(compiled, { query: (...a: Parameters<typeof query>) => (compiledRuns.count++, query(...a)) });
    },
  };
});

let t: TestApp;
let owner: TestViewer;
let other: TestViewer;
let conversationId: string;
let messageId: string;
beforeAll(async () => {
  t = await startTestApp();
  [owner, other] = await Promise.all([t.viewer(), t.viewer()]);
  for (let i = 0; i < 3; i++) {
    const c = await createConversation(t, owner, { title: `chat ${i}` });
    conversationId = c.id;
    for (let j = 0; j < 4; j++) messageId = (await appendMessage(t, owner, c.id, { content: `message ${j} of ${i}` })).message.id;
  }
  await createConversation(t, other, { title: 'not yours' });
});
afterAll(() => t.close());

const SIDEBAR = `query($first: Int) { conversations(first: $first) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id title messageCount preview lastMessageAt
  messages(first: 5) { edges { node { id position role content status } } } } } } }`;
// With a field that src/sql-pages/ leaves to the executor (a system prompt): the page is compiled, not one statement.
const BRANCH = `query($id: ID!) { conversation(id: $id) { id systemPrompt messages(last: 50) { pageInfo { hasPreviousPage } edges { node { id role content position createdAt } } } } }`;
const NODE = `query($id: ID!) { node(id: $id) { __typename id ... on Message { content role conversation { title } } ... on Conversation { title } } }`;

const cases: [string, () => [string, Record<string, unknown>, () => TestViewer]][] = [
  ['a sidebar page with nested messages', () => [SIDEBAR, { first: 2 }, () => owner]],
  ['a branch page', () => [BRANCH, { id: conversationId }, () => owner]],
  ['a node by its ID, with fragments', () => [NODE, { id: messageId }, () => owner]],
  ["another viewer's conversation (null)", () => [BRANCH, { id: conversationId }, () => other]],
  ["another viewer's message as a node (null)", () => [NODE, { id: messageId }, () => other]],
  ['a malformed cursor', () => [`query { conversations(first: 2, after: "not-a-cursor") { edges { node { id } } } }`, {}, () => owner]],
  ['a variable of the wrong type', () => [SIDEBAR, { first: 'two' }, () => owner]],
  ['a page size over the limit', () => [SIDEBAR, { first: 100_000 }, () => owner]],
  ['a costly field asked for twice', () => [`query { a: conversations(filter: { search: "chat" }) { totalCount } b: conversations(filter: { search: "chat" }) { totalCount } }`, {}, () => owner]],
  ['a malformed ID', () => [NODE, { id: 'garbage' }, () => owner]],
];

describe('compiled queries', () => {
  it.each(cases)('answer %s as the interpreter does', async (_name, make) => {
    const [query, variables, viewer] = make();
    const interpreted = await t.request(query, variables, viewer());
    const before = compiledRuns.count;
    const compiled = await t.request(query, variables, viewer());
    const again = await t.request(query, variables, viewer());
    expect(compiledRuns.count).toBeGreaterThan(before); // not the interpreter again
    expect(compiled).toEqual(interpreted);
    expect(again).toEqual(interpreted);
  });

  it('answer a successful query without running it twice', async () => {
    const text = `${NODE} # a text of its own: a document not seen before`;
    const interpreted = await t.countQueries(() => t.request(text, { id: messageId }, owner));
    const compiled = await t.countQueries(() => t.request(text, { id: messageId }, owner));
    expect(interpreted.count).toBeGreaterThan(0);
    expect(compiled.count).toBeLessThanOrEqual(interpreted.count); // a compiled run that failed would read everything again
    const { body } = await t.request(text, { id: messageId }, owner);
    expect(body).toEqual({ data: { node: { __typename: 'Message', id: messageId, content: 'message 3 of 2', role: 'USER', conversation: { title: 'chat 2' } } } });
  });

  it('take the same codes as the contract where the interpreter gives them', async () => {
    const { body } = await t.request(cases[5][1]()[0], {}, owner);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

// graphql-jit turns a string of the form "__MAGIC_DATE__<its uuid>(…)" in the code it generates into
// `new Date(…)`: such a literal must never reach it, or a client runs code on the server.
const MARKER = '__MAGIC_DATE__33a9e76d_02e0_4128_8e92_3530ad3da74d';
const INJECTED = 'globalThis.jitInjected=1,0';

describe('literals that graphql-jit would run as code', () => {
  it.each([
    ['as written', `${MARKER}(${INJECTED})`],
    ['escaped', `${MARKER.replace(/_/g, '\\u005F')}(${INJECTED})`],
  ])('are never compiled into a query (%s)', async (_name, literal) => {
    const query = `query { conversations(first: 1, after: "${literal}") { edges { node { id } } } }`;
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await t.request(query, {}, owner));
    expect((globalThis as { jitInjected?: unknown }).jitInjected).toBeUndefined();
    expect(answers[0].body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(answers[2]).toEqual(answers[0]);
  });

  it('are never compiled into a subscription event', async () => {
    const server = await t.listen();
    const client = wsClient(server, owner);
    const sub = subscribe(client, `subscription { conversationsChanged { type conversation { messages(first: 1, after: "${MARKER}(${INJECTED})") { edges { node { id } } } } } }`);
    await new Promise((resolve) => setTimeout(resolve, 150)); // registered server-side
    await createConversation(t, owner, { title: 'an event' });
    await sub.next(1);
    expect((globalThis as { jitInjected?: unknown }).jitInjected).toBeUndefined();
    await client.dispose();
  });

  it('are found in strings, block strings, names and enum values, escaped or not, and in variable defaults', () => {
    const unsafe = [
      `{ a(s: "${MARKER}(1)") }`,
      `{ a(s: """${MARKER}(1)""") }`,
      `{ a(s: "\\u005F_MAGIC_DATE__x(1)") }`,
      `{ a(o: { k: [1, { j: "__MAGIC_NAN__" }] }) }`,
      `{ a(e: __MAGIC_X) }`,
      `query($s: String = "x") { a(s: $s) }`,
    ];
    for (const text of unsafe) expect(safeToCompile(parse(text)), text).toBe(false);
    expect(safeToCompile(parse(`query($s: String) { a(s: $s, t: "plain", n: 1) { b c: d } }`))).toBe(true);
  });
});

describe('documents graphql-jit would answer otherwise', () => {
  it.each([
    ['directives, whose conditions it records on a document shared between requests', `query($a: Boolean!) { ...F @include(if: $a) models { id } } fragment F on Query { viewer { userId } }`, { a: false }],
    ['an alias with _, which shares resolve info with another path', `{ totalCount_c: conversations(filter: { search: "chat" }) { totalCount } c: conversations { totalCount } }`, {}],
    ['the alias __proto__', `{ models { __proto__: name id } }`, {}],
  ])('run interpreted: %s', async (_name, query, variables) => {
    const before = compiledRuns.count;
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await t.request(query, variables, owner));
    expect(compiledRuns.count).toBe(before);
    expect(answers[0].body.errors).toBeUndefined();
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });

  it('are told apart from the ones it may compile', () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `f${i}`).join(' ');
    const unsafe = [
      `{ a @skip(if: false) }`,
      `{ a_b: a }`,
      `{ __proto__: a }`,
      `query($__proto__: Int) { a(n: $__proto__) }`,
      `{ ...F ...F ...F } fragment F on Q { ${fields(60)} }`, // 180 fields spread out
      `{ a { ...G } } fragment G on Q { b { ...G } }`, // a cycle (validation would refuse it)
    ];
    for (const text of unsafe) expect(safeToCompile(parse(text)), text).toBe(false);
    expect(safeToCompile(parse(`{ ...F ...F } fragment F on Q { ${fields(60)} }`))).toBe(true);
  });
});

describe('the compiled documents kept', () => {
  it('are 200 at most, the oldest dropped first', async () => {
    const operations = createCompiledOperations(() => 0); // a clock that stands still: compiling takes no time
    const documents = Array.from({ length: 201 }, (_, i) => parse(`{ n${i}: __typename }`));
    const compile = (document: (typeof documents)[number]) => operations.compiled({ schema, document });
    const compilations = () => compiledRuns.compilations;
    const start = compilations();
    await compile(documents[0]);
    await compile(documents[0]);
    expect(compilations() - start).toBe(1); // kept
    for (const document of documents.slice(1)) await compile(document);
    expect(compilations() - start).toBe(201);
    await compile(documents[200]); // the newest is still kept
    expect(compilations() - start).toBe(201);
    await compile(documents[0]); // the oldest was dropped for the 201st: compiled again
    expect(compilations() - start).toBe(202);
  });

  it("are 200 operations at most, however many one document holds; past 10 of one document, its others run interpreted", async () => {
    const operations = createCompiledOperations(() => 0);
    const start = compiledRuns.compilations;
    const many = parse(Array.from({ length: 12 }, (_, i) => `query Q${i} { q${i}: __typename }`).join(' '));
    const results = [];
    for (let i = 0; i < 12; i++) results.push(await operations.compiled({ schema, document: many, operationName: `Q${i}` }));
    expect(results.map((r) => r !== null)).toEqual([...Array(10).fill(true), false, false]);
    // 19 documents of 10 operations each fill the 200 with `many`'s 10; a 20th drops the oldest document, `many`, whole.
    const documents = Array.from({ length: 20 }, (_, d) => parse(Array.from({ length: 10 }, (_, i) => `query Q${i} { d${d}q${i}: __typename }`).join(' ')));
    for (const document of documents) for (let i = 0; i < 10; i++) await operations.compiled({ schema, document, operationName: `Q${i}` });
    const compiledSoFar = compiledRuns.compilations - start;
    expect(compiledSoFar).toBe(10 + 200);
    for (const document of [documents[0], documents[19]]) await operations.compiled({ schema, document, operationName: 'Q3' }); // kept
    expect(compiledRuns.compilations - start).toBe(compiledSoFar);
    await operations.compiled({ schema, document: many, operationName: 'Q0' }); // dropped: compiled again
    expect(compiledRuns.compilations - start).toBe(compiledSoFar + 1);
  });

  it('drop the oldest document but the one being compiled for: it and its new operation stay', async () => {
    const operations = createCompiledOperations(() => 0);
    const start = compiledRuns.compilations;
    const first = parse('query Q0 { a: __typename } query Q1 { b: __typename }');
    await operations.compiled({ schema, document: first, operationName: 'Q0' });
    const others = Array.from({ length: 199 }, (_, i) => parse(`{ o${i}: __typename }`));
    for (const document of others) await operations.compiled({ schema, document });
    // The 201st operation is the oldest document's: the next oldest is dropped for it, not it.
    await operations.compiled({ schema, document: first, operationName: 'Q1' });
    const compiledSoFar = compiledRuns.compilations - start;
    expect(compiledSoFar).toBe(201);
    for (const operationName of ['Q0', 'Q1']) await operations.compiled({ schema, document: first, operationName }); // kept
    await operations.compiled({ schema, document: others[1] }); // kept
    expect(compiledRuns.compilations - start).toBe(compiledSoFar);
    await operations.compiled({ schema, document: others[0] }); // dropped: compiled again
    expect(compiledRuns.compilations - start).toBe(compiledSoFar + 1);
  });

  it('cost at most a share of the event loop to compile: past it, new documents run interpreted until time has passed', async () => {
    let time = 0;
    const operations = createCompiledOperations(() => (time += 10)); // every reading of the clock 10 ms later: a compile takes 10 ms
    const compile = (i: number) => operations.compiled({ schema, document: parse(`{ budget${i}: __typename }`) });
    let compiled = 0;
    while ((await compile(compiled)) !== null) compiled++;
    // 200 ms at once, and 5% of the time that passes: some twenty compiles of 10 ms, then none.
    expect(compiled).toBeGreaterThan(15);
    expect(compiled).toBeLessThan(30);
    expect(await compile(1000)).toBeNull();
    time += 60_000; // a minute later the budget is whole again, and a document refused before is compiled
    expect(await compile(compiled)).not.toBeNull();
  });
});
