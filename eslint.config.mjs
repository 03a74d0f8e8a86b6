// The schema's lint (`npm run lint:schema`, in CI): @graphql-eslint's schema rules and its Relay rules,
// with a description required on every type, field, argument and enum value.
import graphql from '@graphql-eslint/eslint-plugin';

export default [
  {
    files: ['schema.graphql'],
    languageOptions: { parser: graphql.parser, parserOptions: { graphQLConfig: { schema: 'schema.graphql' } } },
    plugins: { '@graphql-eslint': graphql },
    rules: {
      ...graphql.configs['flat/schema-recommended'].rules,
      ...graphql.configs['flat/schema-relay'].rules,
      // Objects the client refetches by global ID have one; the rest are values: pages, payloads, stream
      // events, and records a client never asks for again by themselves.
      '@graphql-eslint/strict-id-in-types': [
        'error',
        {
          exceptions: {
            suffixes: ['Connection', 'Edge', 'Payload', 'Event'],
            types: ['PageInfo', 'MessageStarted', 'MessageDelta', 'MessageReasoningDelta', 'MessageToolCallDelta', 'MessageToolCall', 'MessageCompleted', 'MessageFailed', 'Model', 'TokenUsage', 'Tool', 'ToolCall', 'Viewer'],
          },
        },
      ],
      // Lists that are not pages: a context window, tools, models, the TOOL messages of one payload.
      '@graphql-eslint/relay-edge-types': ['error', { listTypeCanWrapOnlyEdgeType: false, shouldImplementNode: true, withEdgeSuffix: true }],
      '@graphql-eslint/require-description': [
        'error',
        { types: true, rootField: true, FieldDefinition: true, InputValueDefinition: true, EnumValueDefinition: true, DirectiveDefinition: true },
      ],
    },
  },
];
