// Rules about whole operations, for every transport: at most ten mutation fields in a request, each of them
// counted against the viewer's request limit (ten aliased mutations are ten requests, not one); what a write
// (a mutation, `chat`) was sent with counted against the viewer's bytes a day (reads are not: they store
// nothing); writes refused once the viewer stores their quota, but those that store nothing new; and `chat`,
// a write, is refused over GET as mutations are (a link or an <img> must not start a generation).
import { getOperationAST } from 'graphql';
import { createGraphQLError, type GraphQLParams, type Plugin } from 'graphql-yoga';
import type { Viewer } from './auth.ts';
import { badUserInput, isGraphQLError } from './errors.ts';
import type { RateLimiter, RequestUnits } from './rate-limit.ts';
import { operationRootFields, WRITING_SUBSCRIPTIONS } from './root-fields.ts';
import { ROW_BYTES, type StorageQuota } from './storage-quota.ts';

/** Mutation fields in one request: a batch of a client's own writes, not a way around the body limit. */
export const MAX_MUTATIONS_PER_REQUEST = 10;

/** Mutations that store nothing new: allowed at the storage quota (some are how a viewer makes room). */
const STORING_NOTHING = new Set([
  'archiveConversation',
  'unarchiveConversation',
  'deleteConversation',
  'restoreConversation',
  'purgeConversation',
  'cancelGeneration',
  'completeChatSession',
  'switchBranch',
]);

type OperationContext = { viewer: Viewer; requestUnits: RequestUnits; request?: Request; params?: GraphQLParams };

export function useOperationLimits(rateLimiter: RateLimiter, storageQuota: StorageQuota): Plugin {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== 'mutation') return;
      const fields = operationRootFields(args.document, args.operationName);
      if (fields.length > MAX_MUTATIONS_PER_REQUEST) {
        return setResultAndStopExecution({ errors: [badUserInput(`A request holds at most ${MAX_MUTATIONS_PER_REQUEST} mutations; this one holds ${fields.length}`)] });
      }
      const context = args.contextValue as unknown as OperationContext;
      try {
        // The request itself was counted when its context was made.
        if (fields.length > 1) await rateLimiter.request(context.viewer, fields.length - 1, context.requestUnits);
        const sent = sentBytes(context);
        await rateLimiter.bytes(context.viewer, sent);
        // What it will store: what it was sent with, and a row at least for each field that stores.
        const storing = fields.filter((name) => !STORING_NOTHING.has(name)).length;
        if (storing > 0) await storageQuota.check(context.viewer, sent + storing * ROW_BYTES);
      } catch (error) {
        if (!isGraphQLError(error)) throw error;
        setResultAndStopExecution({ errors: [error] });
      }
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const context = args.contextValue as unknown as OperationContext;
      const writes = operationRootFields(args.document, args.operationName).filter((name) => WRITING_SUBSCRIPTIONS.has(name));
      if (writes.length === 0) return;
      if (context.request?.method !== 'GET') {
        try {
          const sent = sentBytes(context);
          await rateLimiter.bytes(context.viewer, sent);
          await storageQuota.check(context.viewer, sent + 2 * ROW_BYTES); // a turn: its message and its reply
        } catch (error) {
          if (!isGraphQLError(error)) throw error;
          setResultAndStopExecution({ errors: [error] });
        }
        return;
      }
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

/**
 * What an operation was sent with: an HTTP request's body, or over a WebSocket its document and variables
 * as JSON (about the message that carried them).
 */
function sentBytes({ request, params }: OperationContext): number {
  const length = Number(request?.headers.get('content-length'));
  if (length > 0) return length;
  if (!params) return 0;
  return Buffer.byteLength(params.query ?? '') + (params.variables ? Buffer.byteLength(JSON.stringify(params.variables)) : 0);
}
