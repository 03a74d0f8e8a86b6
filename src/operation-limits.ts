// Rules about whole operations, for every transport: at most ten mutation fields in a request, each of them
// counted against the viewer's request limit (ten aliased mutations are ten requests, not one); what a write
// (a mutation, `chat`) was sent with counted against the viewer's bytes a day (reads are not: they store
// nothing); writes refused once the viewer stores their quota, but those that store nothing new (repeats of
// writes done, by their idempotencyKey, included); and `chat`, a write, is refused over GET as mutations are
// (a link or an <img> must not start a generation).
import { getOperationAST, type DocumentNode, type GraphQLObjectType } from 'graphql';
import { createGraphQLError, type GraphQLParams, type Plugin } from 'graphql-yoga';
import type { Viewer } from './auth.ts';
import { badUserInput, isGraphQLError } from './errors.ts';
import type { RateLimiter, RequestUnits } from './rate-limit.ts';
import { operationRootFields, rootFieldNodes, WRITING_SUBSCRIPTIONS } from './root-fields.ts';
import { ROW_BYTES, type StorageQuota } from './storage-quota.ts';
import { onlyRepeats, type KeptResult } from './repeated-writes.ts';

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
  '__typename',
]);

const storesSomething = (name: string) => !STORING_NOTHING.has(name);

type OperationContext = { viewer: Viewer; requestUnits: RequestUnits; request?: Request; params?: GraphQLParams };

type Operation = { document: DocumentNode; operationName?: string | null; variableValues?: Record<string, unknown> | null };

export function useOperationLimits(rateLimiter: RateLimiter, storageQuota: StorageQuota, kept: KeptResult): Plugin {
  /** The quota's check of a write adding `adding`, but that a repeat of writes done passes: it stores nothing. */
  const checkQuota = async (viewer: Viewer, adding: number, storing: (name: string) => boolean, rootType: GraphQLObjectType, operation: Operation) => {
    try {
      await storageQuota.check(viewer, adding);
    } catch (error) {
      if (!isGraphQLError(error)) throw error;
      const fields = rootFieldNodes(operation.document, getOperationAST(operation.document, operation.operationName)).filter((field) => storing(field.name.value));
      if (!(await onlyRepeats({ rootType, fields, variables: operation.variableValues }, viewer, kept))) throw error;
    }
  };
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
        const storing = fields.filter(storesSomething).length;
        if (storing > 0) await checkQuota(context.viewer, sent + storing * ROW_BYTES, storesSomething, args.schema.getMutationType()!, args);
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
          // A turn: its message and its reply.
          await checkQuota(context.viewer, sent + 2 * ROW_BYTES, (name) => WRITING_SUBSCRIPTIONS.has(name), args.schema.getSubscriptionType()!, args);
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
