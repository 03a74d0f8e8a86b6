// Values no field of this API accepts, refused before any resolver runs, for every operation alike (HTTP,
// SSE and WebSocket): strings holding NUL, which PostgreSQL cannot store in text or JSON, and values nested
// deeper than any input needs, which recursive code further on (JSON.stringify, hashing) would overflow on.
// One walk over the operation's variables and literals, iterative, linear in their size.
import { Kind, visit, type ASTNode, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { badUserInput, type FieldError } from './errors.ts';

/** Nesting of input values: objects and lists, JSON included (tool schemas, metadata). */
export const MAX_INPUT_DEPTH = 64;

export function useInputGuard(): Plugin {
  const refuse = ({ args, setResultAndStopExecution }: { args: { document: DocumentNode; variableValues?: unknown }; setResultAndStopExecution: (result: any) => void }) => {
    const problem = variablesProblem(args.variableValues) ?? literalsProblem(args.document);
    if (problem) setResultAndStopExecution({ errors: [badUserInput(`${problem.field}: ${problem.message}`, [problem])] });
  };
  return { onExecute: refuse, onSubscribe: refuse };
}

const NUL = 'must not contain NUL characters (\\u0000)';
const TOO_DEEP = `must not be nested more than ${MAX_INPUT_DEPTH} levels deep`;

/** The first bad value in the variables, named by its path from the variable: `input.metadata.key`. */
export function variablesProblem(variables: unknown): FieldError | null {
  if (variables === null || typeof variables !== 'object') return null;
  const stack: { value: unknown; path: string; depth: number }[] = Object.entries(variables).map(([name, value]) => ({ value, path: name, depth: 0 }));
  while (stack.length) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\0')) return { field: path, message: NUL };
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_INPUT_DEPTH) return { field: path, message: TOO_DEEP };
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) stack.push({ value: value[i], path: `${path}[${i}]`, depth: depth + 1 });
      continue;
    }
    for (const [key, item] of Object.entries(value)) {
      if (key.includes('\0')) return { field: path, message: `keys ${NUL}` };
      stack.push({ value: item, path: `${path}.${key}`, depth: depth + 1 });
    }
  }
  return null;
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
      if (!problem && node.value.includes('\0')) problem = { field: pathOf(ancestors, node) || 'argument', message: NUL };
    },
  });
  return problem;
}
