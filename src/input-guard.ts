// Values no field of this API accepts, refused before any resolver runs, for every operation alike (HTTP,
// SSE and WebSocket): strings holding NUL, which PostgreSQL cannot store in text or JSON; strings that are
// not Unicode (a lone surrogate, which JSON columns refuse and text columns would garble); and values
// nested deeper than any input needs, which recursive code further on (the GraphQL parser, JSON.stringify,
// hashing) would overflow on. Walks that are iterative and linear in the size of what they look at.
import { Kind, visit, type ASTNode, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { badUserInput, type FieldError } from './errors.ts';

/** Nesting of input values: objects and lists, JSON included (tool schemas, metadata). */
export const MAX_INPUT_DEPTH = 64;

/** Brackets and braces nested in a document: the parser recurses on each. */
export const MAX_DOCUMENT_NESTING = 128;

/**
 * Values in a request's JSON (object members and list items, counted by their commas and brackets). A list
 * of tools of 64 KiB, the largest input a field takes, holds some 5,000 (a numeric enum filling it, 32,000);
 * past parsing, each value costs every walk of the variables (the checks here, coercion, cost, hashing), 2 to
 * 4 µs an object key: 150,000 of them in 2 MiB held the event loop 0.3–0.6 s, these at most some 90 ms.
 */
export const MAX_JSON_VALUES = 32_768;

/**
 * A document's length. The web app's largest is under 4,000; one of 5,000 tokens (the most the parser takes)
 * is some 40,000. Within its tokens a name alone could otherwise run to the body's 2 MiB, and a document is
 * kept as long as its operation runs, in the parser's cache, and in traces.
 */
export const MAX_DOCUMENT_CHARS = 64 * 1024;

export function useInputGuard(): Plugin {
  const refuse = ({ args, setResultAndStopExecution }: { args: { document: DocumentNode; variableValues?: unknown }; setResultAndStopExecution: (result: any) => void }) => {
    const problem = variablesProblem(args.variableValues) ?? literalsProblemOnce(args.document);
    if (problem) setResultAndStopExecution({ errors: [badUserInput(`${problem.field}: ${problem.message}`, [problem])] });
  };
  return {
    // A JSON body is looked at before it is parsed: V8 takes 0.6 µs per level of nesting, and a body of a
    // million nested brackets held the event loop 0.86 s; none a field accepts is nested that deep.
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      if (!requestParser || request.method !== 'POST' || !request.headers.get('content-type')?.includes('json')) return;
      setRequestParser(async (request) => {
        const text = await request.text();
        const problem = jsonProblem(text);
        if (problem) throw badUserInput(`The request body ${problem}`);
        return requestParser(new fetchAPI.Request(request.url, { method: 'POST', headers: request.headers, body: text }));
      });
    },
    // Before the parser sees the text: a list literal nested a few thousand deep overflows its stack.
    onParse({ params }) {
      const source = typeof params.source === 'string' ? params.source : params.source.body;
      if (source.length > MAX_DOCUMENT_CHARS) throw badUserInput(`The document is longer than ${MAX_DOCUMENT_CHARS} characters`);
      if (nestingOf(source) > MAX_DOCUMENT_NESTING) throw badUserInput(`The document is nested more than ${MAX_DOCUMENT_NESTING} levels deep`);
    },
    onExecute: refuse,
    onSubscribe: refuse,
  };
}

/** What makes a JSON text (a request) too costly to parse, before it is: `is nested …`, `holds …`; or null. */
export function jsonProblem(text: string): string | null {
  const { nesting, commas, opened } = shapeOf(text);
  if (nesting > MAX_DOCUMENT_NESTING) return `is nested more than ${MAX_DOCUMENT_NESTING} levels deep`;
  // A list or object holds one value more than its commas (or none): an upper bound, empty ones counted.
  if (commas + opened > MAX_JSON_VALUES) return `holds more than ${MAX_JSON_VALUES} values`;
  return null;
}

/** The deepest nesting of ( [ { in a GraphQL document (or JSON), strings and comments skipped: one pass. */
export const nestingOf = (source: string): number => shapeOf(source).nesting;

/** The deepest nesting of ( [ { , how many were opened, and the commas; strings and comments skipped: one pass. */
function shapeOf(source: string): { nesting: number; opened: number; commas: number } {
  let depth = 0;
  let deepest = 0;
  let opened = 0;
  let commas = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '#') {
      while (i < source.length && source[i] !== '\n' && source[i] !== '\r') i++;
    } else if (c === '"') {
      const block = source.startsWith('"""', i);
      for (i += block ? 3 : 1; i < source.length; i++) {
        if (source[i] === '\\') i++;
        else if (block ? source.startsWith('"""', i) : source[i] === '"') {
          if (block) i += 2;
          break;
        }
      }
    } else if (c === '(' || c === '[' || c === '{') {
      deepest = Math.max(deepest, ++depth);
      opened++;
    } else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ',') commas++;
  }
  return { nesting: deepest, opened, commas };
}

const NUL = 'must not contain NUL characters (\\u0000)';
const NOT_UNICODE = 'must be Unicode text (it holds a lone surrogate)';
/** With the u flag a surrogate pair is one code point: only a lone surrogate matches. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** What is wrong with a string, if anything: what text PostgreSQL stores cannot hold as given. */
export const stringProblem = (value: string) => (value.includes('\0') ? NUL : LONE_SURROGATE.test(value) ? NOT_UNICODE : null);
const TOO_DEEP = `must not be nested more than ${MAX_INPUT_DEPTH} levels deep`;

/**
 * The first bad value in the variables, named by its path from the variable: `input.metadata.key`. Looked
 * for without paths first: a path string made for each of a million values cost more than the values.
 */
export function variablesProblem(variables: unknown): FieldError | null {
  if (variables === null || typeof variables !== 'object' || !hasProblem(variables)) return null;
  const stack: { value: unknown; path: string; depth: number }[] = Object.entries(variables).map(([name, value]) => ({ value, path: name, depth: 0 }));
  while (stack.length) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      const problem = stringProblem(value);
      if (problem) return { field: path, message: problem };
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_INPUT_DEPTH) return { field: path, message: TOO_DEEP };
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) stack.push({ value: value[i], path: `${path}[${i}]`, depth: depth + 1 });
      continue;
    }
    for (const [key, item] of Object.entries(value)) {
      const problem = stringProblem(key);
      if (problem) return { field: path, message: `keys ${problem}` };
      stack.push({ value: item, path: `${path}.${key}`, depth: depth + 1 });
    }
  }
  return null;
}

/**
 * Whether anything in the variables is bad: the same walk, stacking only lists and objects (a million numbers
 * pushed and popped one by one took 0.28 s; looked at in place, 6 ms).
 */
function hasProblem(variables: object): boolean {
  const stack: object[] = [variables];
  const depths: number[] = [-1];
  while (stack.length) {
    const value = stack.pop()!;
    const depth = depths.pop()!;
    if (depth >= MAX_INPUT_DEPTH) return true;
    const look = (item: unknown): boolean => {
      if (typeof item === 'string') return stringProblem(item) !== null;
      if (item !== null && typeof item === 'object') {
        stack.push(item);
        depths.push(depth + 1);
      }
      return false;
    };
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) if (look(value[i])) return true;
    } else {
      // Not the variables' own names (nor does variablesProblem): undeclared ones are ignored, declared ones are GraphQL names.
      for (const key in value) if ((depth >= 0 && stringProblem(key)) || look((value as Record<string, unknown>)[key])) return true;
    }
  }
  return false;
}

/** A document's literals are what they are: yoga hands the same parsed document to each request of its text. */
const literalsChecked = new WeakMap<DocumentNode, FieldError | null>();
function literalsProblemOnce(document: DocumentNode): FieldError | null {
  let problem = literalsChecked.get(document);
  if (problem === undefined) literalsChecked.set(document, (problem = literalsProblem(document)));
  return problem;
}

/** The first bad literal in the document, named by its path from the argument: `input.content`. */
export function literalsProblem(document: DocumentNode): FieldError | null {
  let problem: FieldError | null = null;
  let depth = 0;
  const pathOf = (ancestors: readonly (ASTNode | readonly ASTNode[])[], node: ASTNode) =>
    [...ancestors, node]
      .filter((a): a is ASTNode => !Array.isArray(a) && ((a as ASTNode).kind === Kind.ARGUMENT || (a as ASTNode).kind === Kind.OBJECT_FIELD))
      .map((a) => (a as { name: { value: string } }).name.value)
      .join('.');
  const deeper = {
    enter(node: ASTNode, _key: unknown, _parent: unknown, _path: unknown, ancestors: readonly (ASTNode | readonly ASTNode[])[]) {
      depth += 1;
      if (depth > MAX_INPUT_DEPTH && !problem) problem = { field: pathOf(ancestors, node) || 'argument', message: TOO_DEEP };
    },
    leave() {
      depth -= 1;
    },
  };
  visit(document, {
    [Kind.LIST]: deeper,
    [Kind.OBJECT]: deeper,
    [Kind.STRING](node, _key, _parent, _path, ancestors) {
      const found = problem ? null : stringProblem(node.value);
      if (found) problem = { field: pathOf(ancestors, node) || 'argument', message: found };
    },
  });
  return problem;
}
