import { describe, expect, it } from 'vitest';
import { getOperationAST, parse } from 'graphql';
import { operationRootFields, rootFields } from '../src/root-fields.ts';
import { perOperation } from '../src/per-operation.ts';

describe('root fields of an operation', () => {
  const document = parse(`
    subscription Both { a: chat(input: {}) { id } ...More ...More ... on Subscription { messageStream(messageId: "1") { id } } conversationEvents(conversationId: "1") @skip(if: true) { id } }
    fragment More on Subscription { conversationsChanged { id } }
    query Other { viewer { userId } }`);

  it('are named through fragments (a spread twice once) and inline fragments, aliased or skipped', () => {
    expect(rootFields(document, getOperationAST(document, 'Both')).sort()).toEqual(['chat', 'conversationEvents', 'conversationsChanged', 'messageStream']);
    expect(rootFields(document, getOperationAST(document, 'Other'))).toEqual(['viewer']);
    expect(rootFields(document, null)).toEqual([]);
  });

  it('are found once per document and operation, and a name that is no operation’s is none and not kept', () => {
    const both = operationRootFields(document, 'Both');
    expect(operationRootFields(document, 'Both')).toBe(both); // the same, not walked again
    expect(operationRootFields(document, 'Other')).toEqual(['viewer']);
    expect(operationRootFields(document, 'Missing')).toEqual([]);
    expect(operationRootFields(document, 'Missing')).not.toBe(operationRootFields(document, 'Missing'));
    expect(operationRootFields(document, undefined)).toEqual([]); // two operations: none without a name
    expect(operationRootFields(parse('{ viewer { userId } }'), null)).toEqual(['viewer']);
  });
});

describe('perOperation', () => {
  it('works a value out once per document and operation, and keeps none for a name no operation has', () => {
    const document = parse(`query A { viewer { userId } } query B { models { id } }`);
    const computed: (string | null | undefined)[] = [];
    const of = perOperation((_document, name) => (computed.push(name), `value of ${name}`));
    for (let i = 0; i < 3; i++) for (const name of ['A', 'B', 'C']) expect(of(document, name)).toBe(`value of ${name}`);
    expect(computed).toEqual(['A', 'B', 'C', 'C', 'C']);
  });
});
