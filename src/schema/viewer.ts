import { builder } from '../builder.ts';
import type { Viewer as ViewerShape } from '../auth.ts';
import type { ModelInfo } from '../models/registry.ts';

const Viewer = builder.objectRef<ViewerShape>('Viewer').implement({
  description: 'Who the request acts as.',
  fields: (t) => ({
    userId: t.exposeString('userId'),
    orgId: t.exposeString('orgId', { nullable: true }),
  }),
});

const Model = builder.objectRef<ModelInfo>('Model').implement({
  fields: (t) => ({
    id: t.exposeString('id', { description: 'provider:model, e.g. builtin:echo or openai:gpt-4o-mini.' }),
    provider: t.exposeString('provider'),
    name: t.exposeString('name'),
    isDefault: t.exposeBoolean('isDefault'),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({ type: Viewer, resolve: (_root, _args, ctx) => ctx.viewer }),
  models: t.field({ type: [Model], description: 'The models this server is configured with.', resolve: (_root, _args, ctx) => ctx.models.list() }),
}));
