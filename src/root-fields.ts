// An operation's root fields, and what the subscription fields among them are.
import { getOperationAST, Kind, type DocumentNode, type FieldNode, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { perOperation } from './per-operation.ts';

/** Subscriptions that write (a message): counted as writes, and refused over GET. */
export const WRITING_SUBSCRIPTIONS = new Set(['chat']);

/**
 * Subscriptions to a reply's events, which its generation causes (bounded by the generation limits); the
 * events of every other subscription (a conversation's changes) are caused by writes.
 */
export const REPLY_STREAMS = new Set(['chat', 'messageStream']);

/**
 * The names of the root fields of the document's operation (getOperationAST), through fragments, one per
 * occurrence (aliases included; fields a directive skips too); none without an operation.
 */
export function rootFields(document: DocumentNode, operation: OperationDefinitionNode | null | undefined): string[] {
  return rootFieldNodes(document, operation).map((field) => field.name.value);
}

/** The root fields themselves, as rootFields names them. */
export function rootFieldNodes(document: DocumentNode, operation: OperationDefinitionNode | null | undefined): FieldNode[] {
  if (!operation) return [];
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  const fields: FieldNode[] = [];
  const seen = new Set<string>();
  const stack = [operation.selectionSet];
  while (stack.length) {
    for (const selection of stack.pop()!.selections) {
      if (selection.kind === Kind.FIELD) fields.push(selection);
      else if (selection.kind === Kind.INLINE_FRAGMENT) stack.push(selection.selectionSet);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value); // a fragment spread twice runs its fields once
        const fragment = fragments.get(selection.name.value);
        if (fragment) stack.push(fragment.selectionSet);
      }
    }
  }
  return fields;
}

/**
 * The root fields of the operation named (or the document's only one), kept with the document: two plugins
 * ask for a subscription's.
 */
export const operationRootFields: (document: DocumentNode, operationName: string | null | undefined) => readonly string[] = perOperation((document, operationName) =>
  rootFields(document, getOperationAST(document, operationName)),
);
