// Rules about whole operations, for every transport: each mutation field of a request counts against the
// viewer's request limit (thirty aliased mutations are thirty requests, not one), and `chat`, a write,
// is refused over GET as mutations are (a link or an <img> must not start a generation).
import { getOperationAST, Kind, type DocumentNode, type FragmentDefinitionNode, type SelectionSetNode } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { Viewer } from './auth.ts';
import { isGraphQLError } from './errors.ts';
import type { RateLimiter } from './rate-limit.ts';

/** Subscriptions that write: refused over GET. */
const WRITING_SUBSCRIPTIONS = new Set(['chat']);

type OperationContext = { viewer: Viewer; request?: Request };

export function useOperationLimits(rateLimiter: RateLimiter): Plugin {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== 'mutation') return;
      const fields = rootFields(args.document, operation.selectionSet);
      if (fields.length <= 1) return; // the request itself was counted when its context was made
      try {
        await rateLimiter.request((args.contextValue as unknown as OperationContext).viewer, fields.length - 1);
      } catch (error) {
        if (!isGraphQLError(error)) throw error;
        setResultAndStopExecution({ errors: [error] });
      }
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      if ((args.contextValue as unknown as OperationContext).request?.method !== 'GET') return;
      const operation = getOperationAST(args.document, args.operationName);
      const writes = operation ? rootFields(args.document, operation.selectionSet).filter((name) => WRITING_SUBSCRIPTIONS.has(name)) : [];
      if (writes.length === 0) return;
      setResultAndStopExecution({
        errors: [
          createGraphQLError(`${writes[0]} is a write: send it with POST (or over a WebSocket), not GET`, {
            extensions: { code: 'BAD_USER_INPUT', http: { status: 405, headers: { Allow: 'POST' } } },
          }),
        ],
      });
    },
  };
}

/** The names of an operation's root fields, through fragments, one per occurrence (aliases included). */
function rootFields(document: DocumentNode, selectionSet: SelectionSetNode): string[] {
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  const names: string[] = [];
  const seen = new Set<string>();
  const stack = [selectionSet];
  while (stack.length) {
    for (const selection of stack.pop()!.selections) {
      if (selection.kind === Kind.FIELD) names.push(selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) stack.push(selection.selectionSet);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value); // a fragment spread twice runs its fields once
        const fragment = fragments.get(selection.name.value);
        if (fragment) stack.push(fragment.selectionSet);
      }
    }
  }
  return names;
}
