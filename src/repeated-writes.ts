// Whether a write repeats one that was done: every root field that stores carries an idempotencyKey under
// which the viewer's earlier request stored its result. Such a request stores nothing new (its resolvers
// answer with the first result), so a limit on what is stored must not refuse it: a client retrying a write
// whose answer it lost would otherwise never learn that it was done.
import { getArgumentValues, type FieldNode, type GraphQLObjectType } from 'graphql';
import type { Viewer } from './auth.ts';
import { MAX_IDEMPOTENCY_KEY_CHARS } from './validation.ts';

/** Whether the viewer's `operation` under `key` has a result kept (idempotency.ts). */
export type KeptResult = (viewer: Viewer, operation: string, key: string) => Promise<boolean>;

/** The operation a root field keeps its results under, where it is not the field's own name. */
const KEPT_AS: Record<string, string> = { chat: 'sendMessage' };

/** Root fields of `rootType`, with the operation's variables. */
export type RootFields = { rootType: GraphQLObjectType; fields: readonly FieldNode[]; variables: Record<string, unknown> | null | undefined };

/** True when every field carries an `input.idempotencyKey` with a result kept; false when any does not, or none is given. */
export async function onlyRepeats({ rootType, fields, variables }: RootFields, viewer: Viewer, kept: KeptResult): Promise<boolean> {
  if (fields.length === 0) return false;
  const keys = fields.map((field) => idempotencyKeyOf(rootType, field, variables ?? {}));
  if (keys.some((key) => key === null)) return false;
  const found = await Promise.all(fields.map((field, i) => kept(viewer, KEPT_AS[field.name.value] ?? field.name.value, keys[i]!)));
  return found.every(Boolean);
}

function idempotencyKeyOf(rootType: GraphQLObjectType, field: FieldNode, variables: Record<string, unknown>): string | null {
  const definition = rootType.getFields()[field.name.value];
  if (!definition) return null;
  try {
    const { input } = getArgumentValues(definition, field, variables) as { input?: { idempotencyKey?: unknown } };
    const key = input?.idempotencyKey;
    return typeof key === 'string' && key.length > 0 && key.length <= MAX_IDEMPOTENCY_KEY_CHARS ? key : null;
  } catch {
    return null; // arguments the executor will refuse: no repeat
  }
}
