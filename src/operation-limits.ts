// Rules about whole operations, for every transport: at most ten mutation fields in a request, each of them
// counted against the viewer's request limit (ten aliased mutations are ten requests, not one), and `chat`,
// a write, is refused over GET as mutations are (a link or an <img> must not start a generation).
import { getOperationAST, Kind, type DocumentNode, type FragmentDefinitionNode, type SelectionSetNode } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { Viewer } from './auth.ts';
import { badUserInput, isGraphQLError } from './errors.ts';
import type { RateLimiter } from './rate-limit.ts';

/** Mutation fields in one request: a batch of a client's own writes, not a way around the body limit. */
export const MAX_MUTATIONS_PER_REQUEST = 10;

/** Subscriptions that write: refused over GET. */
const WRITING_SUBSCRIPTIONS = new Set(['chat']);

type OperationContext = { viewer: Viewer; request?: Request };

export function useOperationLimits(rateLimiter: RateLimiter): Plugin {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== 'mutation') return;
      const fields = rootFields(args.document, operation.selectionSet);
      if (fields.length > MAX_MUTATIONS_PER_REQUEST) {
        return setResultAndStopExecution({ errors: [badUserInput(`A request holds at most ${MAX_MUTATIONS_PER_REQUEST} mutations; this one holds ${fields.length}`)] });
      }
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
