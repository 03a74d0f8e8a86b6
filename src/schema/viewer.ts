import { builder } from '../builder.ts';
import type { Viewer as ViewerShape } from '../auth.ts';
import type { ModelInfo } from '../models/registry.ts';

const Viewer = builder.objectRef<ViewerShape>('Viewer').implement({
  description: 'Who the request acts as.',
  fields: (t) => ({
    userId: t.exposeString('userId', { description: "The token's sub (dev: the local user without a token)." }),
    orgId: t.exposeString('orgId', { nullable: true, description: "The token's org claim, if any: a viewer's conversations are those of this user in this org." }),
  }),
});

const Model = builder.objectRef<ModelInfo>('Model').implement({
  description: 'A model this server can generate with.',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'provider:model, e.g. builtin:echo or openai:gpt-4o-mini.' }),
    provider: t.exposeString('provider', { description: 'builtin, openai, anthropic, or the name given to an OpenAI-compatible server.' }),
    name: t.exposeString('name', { description: "The provider's name for it." }),
    isDefault: t.exposeBoolean('isDefault', { description: 'New conversations use it unless they name another.' }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({ type: Viewer, description: 'Who the request acts as.', resolve: (_root, _args, ctx) => ctx.viewer }),
  models: t.field({ type: [Model], description: 'The models this server is configured with.', resolve: (_root, _args, ctx) => ctx.models.list() }),
}));
