// Values worked out once per document and operation: yoga hands the same document to every request of its
// text. A value is kept only for a name that names one of the document's operations (or for none): a client
// that sends one document with ever new operation names would otherwise grow the map without bound.
import { getOperationAST, type DocumentNode } from 'graphql';

export function perOperation<T>(compute: (document: DocumentNode, operationName: string | null | undefined) => T) {
  const known = new WeakMap<DocumentNode, Map<string | null, T>>();
  return (document: DocumentNode, operationName: string | null | undefined): T => {
    let byName = known.get(document);
    if (!byName) known.set(document, (byName = new Map()));
    const key = operationName ?? null;
    if (byName.has(key)) return byName.get(key)!;
    const value = compute(document, operationName);
    if (getOperationAST(document, operationName)) byName.set(key, value);
    return value;
  };
}
